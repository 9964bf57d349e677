// The stored form of one sample's outputs: a small header (container shape, output names,
// dtypes, row dims) followed by each output's row bytes, 8-byte aligned.
//
//   u8[4] "MCT" + version     u8 container (0 tensor, 1 array, 2 record)   u8 class (0 plain, 1 ort)
//   u16 output count
//   per output: u16 name length + utf8 name, u8 dtype code, u8 stored dtype code, u8 ndim, u32 dims...,
//               u32 stored byte length
//   pad to 8; per output: bytes, each padded to 8
import { CacheError } from '../errors.js';
import { dtypeInfo, dtypeOfCode } from '../tensor.js';

export const ENTRY_VERSION = 1;

export type Container = 'tensor' | 'array' | 'record';
const CONTAINERS: Container[] = ['tensor', 'array', 'record'];

/** Shape of a function's per-sample outputs. Identical for every sample of a function. */
export interface EntrySchema {
  container: Container;
  /** True when the outputs were onnxruntime Tensors (rebuilt as such on a hit). */
  ortClass: boolean;
  outputs: {
    name: string;
    dtype: string;
    /** dtype of the stored bytes (float16/bfloat16 with cacheDtype), else equal to dtype. */
    storedDtype: string;
    rowDims: number[];
    storedBytes: number;
  }[];
}

const pad8 = (n: number) => (n + 7) & ~7;

export function encodeHeader(s: EntrySchema): Buffer {
  const names = s.outputs.map((o) => Buffer.from(o.name, 'utf8'));
  let size = 8;
  s.outputs.forEach((o, i) => {
    size += 2 + names[i].length + 3 + 4 * o.rowDims.length + 4;
  });
  const b = Buffer.alloc(pad8(size));
  b.write('MCT', 0, 'latin1');
  b[3] = ENTRY_VERSION;
  b[4] = CONTAINERS.indexOf(s.container);
  b[5] = s.ortClass ? 1 : 0;
  b.writeUInt16LE(s.outputs.length, 6);
  let o = 8;
  s.outputs.forEach((out, i) => {
    b.writeUInt16LE(names[i].length, o);
    names[i].copy(b, o + 2);
    o += 2 + names[i].length;
    b[o] = dtypeInfo(out.dtype)!.code;
    b[o + 1] = dtypeInfo(out.storedDtype)!.code;
    b[o + 2] = out.rowDims.length;
    o += 3;
    for (const d of out.rowDims) {
      b.writeUInt32LE(d, o);
      o += 4;
    }
    b.writeUInt32LE(out.storedBytes, o);
    o += 4;
  });
  return b;
}

/** Total entry size for a schema whose header is `header`. */
export function entrySize(header: Buffer, s: EntrySchema): number {
  return header.length + s.outputs.reduce((a, o) => a + pad8(o.storedBytes), 0);
}

/** Byte offsets of each output's data inside an entry. */
export function dataOffsets(header: Buffer, s: EntrySchema): number[] {
  const offs: number[] = [];
  let o = header.length;
  for (const out of s.outputs) {
    offs.push(o);
    o += pad8(out.storedBytes);
  }
  return offs;
}

function bad(why: string): never {
  throw new CacheError('ERR_CORRUPT', `tensor cache entry is damaged: ${why}`);
}

/** Parses an entry's header; returns the schema and the header length. */
export function decodeHeader(b: Buffer): { schema: EntrySchema; headerLength: number } {
  if (b.length < 8 || b.toString('latin1', 0, 3) !== 'MCT' || b[3] !== ENTRY_VERSION) bad('bad magic or version');
  const container = CONTAINERS[b[4]] ?? bad('container');
  const n = b.readUInt16LE(6);
  let o = 8;
  const outputs: EntrySchema['outputs'] = [];
  for (let i = 0; i < n; i++) {
    if (o + 2 > b.length) bad('truncated header');
    const nameLen = b.readUInt16LE(o);
    if (o + 2 + nameLen + 3 > b.length) bad('truncated header');
    const name = b.toString('utf8', o + 2, o + 2 + nameLen);
    o += 2 + nameLen;
    const dtype = dtypeOfCode(b[o]) ?? bad('dtype');
    const storedDtype = dtypeOfCode(b[o + 1]) ?? bad('stored dtype');
    const ndim = b[o + 2];
    o += 3;
    if (o + 4 * ndim + 4 > b.length) bad('truncated header');
    const rowDims: number[] = [];
    for (let d = 0; d < ndim; d++) rowDims.push(b.readUInt32LE(o + 4 * d));
    o += 4 * ndim;
    const storedBytes = b.readUInt32LE(o);
    o += 4;
    const elems = rowDims.reduce((a, x) => a * x, 1);
    if (storedBytes !== elems * dtypeInfo(storedDtype)!.bytes) bad('row size does not match its dims');
    outputs.push({ name, dtype, storedDtype, rowDims, storedBytes });
  }
  const headerLength = pad8(o);
  const schema: EntrySchema = { container, ortClass: b[5] === 1, outputs };
  if (b.length !== entrySize(b.subarray(0, headerLength), schema)) bad('size does not match its header');
  return { schema, headerLength };
}
