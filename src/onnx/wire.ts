// Protobuf wire format for ONNX files, read and written without a schema compiler: a field walker
// that checks every length against the buffer (model files are untrusted input: a malformed one
// gives ERR_CORRUPT, never a bad read), and a writer that builds messages from pieces, so that
// untouched bytes of a large model are kept by reference and never copied until written out.
import { CacheError } from '../errors.js';

export const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** A byte string built from pieces: views of the source buffer and new small buffers. */
export interface Pieces {
  parts: Uint8Array[];
  length: number;
}

/** One field of a message: its number, wire type and value range (or varint value). */
export interface Field {
  /** Where the field's tag starts: `[tagStart, end)` is the whole field. */
  tagStart: number;
  no: number;
  wire: number;
  /** For length-delimited fields: the payload range; for others: the value's bytes. */
  start: number;
  end: number;
  /** The value of a varint field (exact up to 2^53). */
  varint: number;
}

/** Throws the error every malformed model gives. */
export function corrupt(what: string): never {
  throw new CacheError('ERR_CORRUPT', `not a valid ONNX model: ${what}`);
}

/** Reads a varint at `pos`; returns [value, next]. Values past 2^53 lose precision (never lengths we accept). */
export function readVarint(buf: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) corrupt('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [value, pos];
    mul *= 128;
  }
  return corrupt('varint longer than 10 bytes');
}

/** The fields of the message in `buf[start, end)`, in order. */
export function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const tagStart = pos;
    const [tag, p] = readVarint(buf, pos, end);
    pos = p;
    const no = Math.floor(tag / 8);
    const wire = tag % 8;
    if (no === 0) corrupt('field number 0');
    switch (wire) {
      case Wire.Varint: {
        const [v, q] = readVarint(buf, pos, end);
        yield { tagStart, no, wire, start: pos, end: q, varint: v };
        pos = q;
        break;
      }
      case Wire.Fixed64:
        if (pos + 8 > end) corrupt('truncated fixed64');
        yield { tagStart, no, wire, start: pos, end: pos + 8, varint: 0 };
        pos += 8;
        break;
      case Wire.Fixed32:
        if (pos + 4 > end) corrupt('truncated fixed32');
        yield { tagStart, no, wire, start: pos, end: pos + 4, varint: 0 };
        pos += 4;
        break;
      case Wire.Bytes: {
        const [len, q] = readVarint(buf, pos, end);
        if (len > end - q) corrupt(`field ${no} is ${len} bytes but only ${end - q} remain`);
        yield { tagStart, no, wire, start: q, end: q + len, varint: 0 };
        pos = q + len;
        break;
      }
      default:
        corrupt(`unsupported wire type ${wire} (field ${no})`);
    }
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** The UTF-8 text in `buf[start, end)`. */
export function utf8(buf: Uint8Array, start: number, end: number): string {
  return decoder.decode(buf.subarray(start, end));
}

export function varintBytes(v: number): Uint8Array {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Accumulates the pieces of a message. */
export class PieceWriter {
  readonly parts: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): this {
    if (b.byteLength > 0) {
      this.parts.push(b);
      this.length += b.byteLength;
    }
    return this;
  }

  /** A length-delimited field whose payload is `payload` (bytes or pieces). */
  field(no: number, payload: Uint8Array | Pieces): this {
    this.bytes(varintBytes(no * 8 + Wire.Bytes));
    if (payload instanceof Uint8Array) {
      this.bytes(varintBytes(payload.byteLength));
      return this.bytes(payload);
    }
    this.bytes(varintBytes(payload.length));
    for (const p of payload.parts) this.bytes(p);
    return this;
  }

  string(no: number, s: string): this {
    return this.field(no, Buffer.from(s, 'utf8'));
  }

  /** A varint field; `v` must be a non-negative integer. */
  varint(no: number, v: number): this {
    this.bytes(varintBytes(no * 8 + Wire.Varint));
    return this.bytes(varintBytes(v));
  }

  /** Copies `buf[start, end)` (whole fields) by reference. */
  copy(buf: Uint8Array, start: number, end: number): this {
    return this.bytes(buf.subarray(start, end));
  }

  pieces(): Pieces {
    return { parts: this.parts, length: this.length };
  }
}

/**
 * A copy of the message `buf[start, end)` without the fields `drop` selects (kept fields are copied
 * by reference, in order), followed by what `append` writes. Field order across different field
 * numbers does not matter in protobuf; unknown fields are kept.
 */
export function rebuild(buf: Uint8Array, start: number, end: number, drop: (f: Field) => boolean, append: (w: PieceWriter) => void): Pieces {
  const w = new PieceWriter();
  let copyFrom = start;
  for (const f of fields(buf, start, end)) {
    if (!drop(f)) continue;
    w.copy(buf, copyFrom, f.tagStart);
    copyFrom = f.end;
  }
  w.copy(buf, copyFrom, end);
  append(w);
  return w.pieces();
}

/** Concatenates pieces into one Buffer. */
export function joinPieces(p: Pieces): Buffer {
  const out = Buffer.allocUnsafe(p.length);
  let o = 0;
  for (const part of p.parts) {
    out.set(part, o);
    o += part.byteLength;
  }
  return out;
}
