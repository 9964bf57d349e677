// The external data locations of an ONNX file, found by reading only the protobuf headers it needs
// (positioned reads through a small window) and seeking over everything else, tensor payloads
// included: a 10 MB model costs a few hundred small reads instead of a whole-file copy, and no
// mapping of a file someone else may truncate. Same walk and same answers as the in-memory reader
// (ort/onnx.ts externalLocations, which a test compares it with; both walk src/onnx/tree.ts);
// a malformed file is ERR_CORRUPT.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CacheError } from '../errors.js';
import { DATA_LOCATION_EXTERNAL, parseStringEntry, TensorField } from './tensor.js';
import { childOf, Kind, MAX_DEPTH } from './tree.js';
import { corrupt, Wire } from './wire.js';

const WINDOW = 64 * 1024;
// An external_data entry is a key and a value: more than this is not one we could use.
const MAX_ENTRY_BYTES = 1 << 20;

/** Positioned reads of one open file through a window. */
class Reader {
  readonly #fd: number;
  readonly size: number;
  readonly #window = Buffer.allocUnsafe(WINDOW);
  #from = 0;
  #to = 0;

  constructor(fd: number) {
    this.#fd = fd;
    this.size = fstatSync(fd).size;
  }

  /** The byte at `pos` (< size). */
  byte(pos: number): number {
    if (pos < this.#from || pos >= this.#to) {
      const n = readSync(this.#fd, this.#window, 0, Math.min(WINDOW, this.size - pos), pos);
      if (n <= 0) throw new CacheError('ERR_IO', 'the model file changed while it was read');
      this.#from = pos;
      this.#to = pos + n;
    }
    return this.#window[pos - this.#from];
  }

  /** The bytes `[start, end)`, read whole. */
  bytes(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe(end - start);
    for (let off = 0; off < out.length; ) {
      const n = readSync(this.#fd, out, off, out.length - off, start + off);
      if (n <= 0) throw new CacheError('ERR_IO', 'the model file changed while it was read');
      off += n;
    }
    return out;
  }

  varint(pos: number, end: number): [number, number] {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) corrupt('truncated varint');
      const b = this.byte(pos++);
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return [value, pos];
      mul *= 128;
    }
    return corrupt('varint longer than 10 bytes');
  }
}

/** The fields of the message at `[start, end)` of the file: number, wire type, payload range or varint. */
function* fileFields(r: Reader, start: number, end: number): Generator<{ no: number; wire: number; start: number; end: number; varint: number }> {
  let pos = start;
  while (pos < end) {
    const [tag, p] = r.varint(pos, end);
    pos = p;
    const no = Math.floor(tag / 8);
    const wire = tag % 8;
    if (no === 0) corrupt('field number 0');
    if (wire === Wire.Varint) {
      const [v, q] = r.varint(pos, end);
      yield { no, wire, start: pos, end: q, varint: v };
      pos = q;
    } else if (wire === Wire.Fixed64 || wire === Wire.Fixed32) {
      const n = wire === Wire.Fixed64 ? 8 : 4;
      if (pos + n > end) corrupt(`truncated fixed${n * 8}`);
      pos += n;
    } else if (wire === Wire.Bytes) {
      const [len, q] = r.varint(pos, end);
      if (len > end - q) corrupt(`field ${no} is ${len} bytes but only ${end - q} remain`);
      yield { no, wire, start: q, end: q + len, varint: 0 };
      pos = q + len;
    } else {
      corrupt(`unsupported wire type ${wire} (field ${no})`);
    }
  }
}

/** The `location` of the TensorProto at `[start, end)` when its data is external. */
function tensorLocation(r: Reader, start: number, end: number): string | undefined {
  let location = 0;
  let external: Record<string, string> | undefined;
  for (const f of fileFields(r, start, end)) {
    if (f.no === TensorField.dims && f.wire === Wire.Bytes) {
      // Packed dims: checked as the in-memory reader checks them (a malformed varint is corrupt).
      for (let p = f.start; p < f.end; ) p = r.varint(p, f.end)[1];
    } else if (f.no === TensorField.dataLocation && f.wire === Wire.Varint) location = f.varint;
    else if (f.no === TensorField.externalData && f.wire === Wire.Bytes) {
      if (f.end - f.start > MAX_ENTRY_BYTES) corrupt('an external_data entry larger than 1 MiB');
      const entry = r.bytes(f.start, f.end);
      const [key, value] = parseStringEntry(entry, 0, entry.length);
      (external ??= {})[key] = value;
    }
  }
  return location === DATA_LOCATION_EXTERNAL ? external?.location : undefined;
}

function walk(r: Reader, start: number, end: number, kind: Kind, depth: number, out: Set<string>): void {
  if (depth > MAX_DEPTH) corrupt(`subgraphs nested deeper than ${MAX_DEPTH}`);
  for (const f of fileFields(r, start, end)) {
    if (f.wire !== Wire.Bytes) continue;
    const child = childOf(kind, f.no)?.[0];
    if (child === undefined) continue;
    if (child === Kind.Tensor) {
      const loc = tensorLocation(r, f.start, f.end);
      if (loc !== undefined) out.add(loc);
    } else walk(r, f.start, f.end, child, depth + 1, out);
  }
}

/** Distinct `location` values of the external data that the ONNX file at `path` names, in first-seen order. */
export function externalLocationsOfFile(path: string): string[] {
  const fd = openSync(path, 'r');
  try {
    const r = new Reader(fd);
    const out = new Set<string>();
    walk(r, 0, r.size, Kind.Model, 0, out);
    return [...out];
  } finally {
    closeSync(fd);
  }
}
