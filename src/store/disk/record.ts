// The index record of a disk entry, in a fixed binary layout: no shared encoder state between
// processes, and a hit on an inline value reads one LMDB value and a few fixed fields.
//
//   u8  version (2)        u8 type (0 inline value, 1 value in a blob file, 2 file entry)
//   u16 kind length        f64 size (bytes the caller stored; all files of a file entry)
//   f64 created (ms)       u8[16] hash: the value's tree hash, or a file entry's folder id
//   u32 meta length        kind utf8, meta JSON utf8, then (inline) the value itself
//
// Records are immutable: a new put writes a new record; the last access lives beside it.
import { CacheError } from '../../errors.js';

const VERSION = 2;
export const RECORD_FIXED = 40;

export const INLINE = 0;
export const BLOB = 1;
export const FILES = 2;
export type RecordType = typeof INLINE | typeof BLOB | typeof FILES;

export interface DiskRecord {
  type: RecordType;
  size: number;
  created: number;
  /** 32 hex chars. */
  hash: string;
  kind: string;
  meta: Record<string, unknown> | undefined;
}

export function encodeRecord(r: DiskRecord, inlineValue?: Uint8Array): Buffer {
  const kind = Buffer.from(r.kind, 'utf8');
  const meta = r.meta === undefined ? undefined : Buffer.from(JSON.stringify(r.meta), 'utf8');
  const metaLen = meta?.length ?? 0;
  const valueLen = inlineValue?.byteLength ?? 0;
  const out = Buffer.allocUnsafe(RECORD_FIXED + kind.length + metaLen + valueLen);
  out[0] = VERSION;
  out[1] = r.type;
  out.writeUInt16LE(kind.length, 2);
  out.writeDoubleLE(r.size, 4);
  out.writeDoubleLE(r.created, 12);
  out.write(r.hash, 20, 16, 'hex');
  out.writeUInt32LE(metaLen, 36);
  kind.copy(out, RECORD_FIXED);
  meta?.copy(out, RECORD_FIXED + kind.length);
  if (inlineValue) out.set(inlineValue, RECORD_FIXED + kind.length + metaLen);
  return out;
}

function corrupt(what: string): never {
  throw new CacheError('ERR_CORRUPT', `index record is damaged: ${what}`);
}

/** Offset of the inline value in a record, after checking the fixed part (hot path: no strings). */
export function valueOffset(b: Uint8Array): number {
  if (b.length < RECORD_FIXED || b[0] !== VERSION || b[1] > FILES) corrupt('bad version or length');
  const off = RECORD_FIXED + (b[2] | (b[3] << 8)) + (b[36] | (b[37] << 8) | (b[38] << 16)) + b[39] * 0x1000000;
  if (off > b.length) corrupt('lengths');
  return off;
}

export function decodeRecord(b: Buffer): DiskRecord {
  const end = valueOffset(b);
  const type = b[1] as RecordType;
  const size = b.readDoubleLE(4);
  if (!Number.isSafeInteger(size) || size < 0) corrupt('size');
  if (type !== INLINE && end !== b.length) corrupt('trailing bytes');
  if (type === INLINE && b.length - end !== size) corrupt('inline value length');
  const kindLen = b.readUInt16LE(2);
  const metaLen = b.readUInt32LE(36);
  const created = b.readDoubleLE(12);
  if (!Number.isFinite(created)) corrupt('creation time');
  let meta: Record<string, unknown> | undefined;
  if (metaLen > 0) {
    try {
      meta = JSON.parse(b.toString('utf8', RECORD_FIXED + kindLen, RECORD_FIXED + kindLen + metaLen)) as Record<string, unknown>;
    } catch {
      corrupt('meta JSON');
    }
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) corrupt('meta is not an object');
  }
  return {
    type,
    size,
    created,
    hash: b.toString('hex', 20, 36),
    kind: b.toString('utf8', RECORD_FIXED, RECORD_FIXED + kindLen),
    meta,
  };
}
