// A minimal protobuf reader and splice-writer for the few ONNX fields the session cache needs:
// the tensors of a ModelProto (graph initializers, Constant attributes, subgraphs of If/Loop/Scan),
// their names, raw data ranges and external data entries. Model files are untrusted input: every
// length is checked against the buffer and a malformed model gives ERR_CORRUPT, never a bad read.
// Rewriting copies every field it does not touch verbatim and re-encodes only the length prefixes
// of the messages on the path to a changed tensor, so a 400 MB model is rewritten by reference.
import { CacheError } from '../errors.js';

/** Where a tensor sits in the model. */
export type TensorPlace = 'initializer' | 'attribute' | 'sparse';

/** A TensorProto found in a model buffer. Offsets are absolute positions in that buffer. */
export interface TensorRef {
  name: string;
  place: TensorPlace;
  /** 0 in the main graph, 1 in a subgraph of a main-graph node (If, Loop, Scan), and so on. */
  graphDepth: number;
  dataType: number;
  dims: number[];
  /** The TensorProto message (without its tag and length prefix). */
  start: number;
  end: number;
  /** The payload of `raw_data`, when present. */
  raw?: { offset: number; length: number };
  /** `external_data` key/value entries, when `data_location` is EXTERNAL. */
  external?: Record<string, string>;
}

/** A byte string built from pieces: views of the source buffer and new small buffers. */
export interface Pieces {
  parts: Uint8Array[];
  length: number;
}

const enum Wire {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

/** The message types the walker descends into. */
const enum Kind {
  Model,
  Graph,
  Node,
  Attribute,
  Sparse,
  Function,
  Tensor,
}

// field number -> child kind, for the fields that hold messages we look into
const CHILDREN: Record<number, Partial<Record<number, [Kind, TensorPlace?]>>> = {
  [Kind.Model]: { 7: [Kind.Graph], 25: [Kind.Function] },
  [Kind.Graph]: { 1: [Kind.Node], 5: [Kind.Tensor, 'initializer'], 15: [Kind.Sparse] },
  [Kind.Node]: { 5: [Kind.Attribute] },
  [Kind.Function]: { 7: [Kind.Node] },
  [Kind.Attribute]: { 5: [Kind.Tensor, 'attribute'], 6: [Kind.Graph], 10: [Kind.Tensor, 'attribute'], 11: [Kind.Graph], 22: [Kind.Sparse], 23: [Kind.Sparse] },
  [Kind.Sparse]: { 1: [Kind.Tensor, 'sparse'], 2: [Kind.Tensor, 'sparse'] },
};

const MAX_DEPTH = 64;

/** TensorProto field numbers. */
export const TensorField = {
  dims: 1,
  dataType: 2,
  name: 8,
  rawData: 9,
  externalData: 13,
  dataLocation: 14,
} as const;

/** TensorProto.DataLocation.EXTERNAL */
export const DATA_LOCATION_EXTERNAL = 1;

function corrupt(what: string): never {
  throw new CacheError('ERR_CORRUPT', `not a valid ONNX model: ${what}`);
}

/** Reads a varint at `pos`; returns [value, next]. Values past 2^53 lose precision (never lengths we accept). */
function readVarint(buf: Uint8Array, pos: number, end: number): [number, number] {
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

/** One field of a message: its number, wire type and value range (or varint value). */
interface Field {
  tagStart: number;
  no: number;
  wire: number;
  /** For length-delimited fields: payload range; for others: the value's bytes. */
  start: number;
  end: number;
  varint: number;
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
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
const utf8 = (buf: Uint8Array, s: number, e: number) => decoder.decode(buf.subarray(s, e));

function parseTensor(buf: Uint8Array, start: number, end: number, place: TensorPlace, graphDepth: number): TensorRef {
  const t: TensorRef = { name: '', place, graphDepth, dataType: 0, dims: [], start, end };
  let location = 0;
  let external: Record<string, string> | undefined;
  for (const f of fields(buf, start, end)) {
    switch (f.no) {
      case TensorField.dims:
        if (f.wire === Wire.Varint) t.dims.push(f.varint);
        else if (f.wire === Wire.Bytes) {
          for (let p = f.start; p < f.end; ) {
            const [v, q] = readVarint(buf, p, f.end);
            t.dims.push(v);
            p = q;
          }
        }
        break;
      case TensorField.dataType:
        if (f.wire === Wire.Varint) t.dataType = f.varint;
        break;
      case TensorField.name:
        if (f.wire === Wire.Bytes) t.name = utf8(buf, f.start, f.end);
        break;
      case TensorField.rawData:
        if (f.wire === Wire.Bytes) t.raw = { offset: f.start, length: f.end - f.start };
        break;
      case TensorField.externalData:
        if (f.wire === Wire.Bytes) {
          let key = '';
          let value = '';
          for (const g of fields(buf, f.start, f.end)) {
            if (g.wire !== Wire.Bytes) continue;
            if (g.no === 1) key = utf8(buf, g.start, g.end);
            else if (g.no === 2) value = utf8(buf, g.start, g.end);
          }
          (external ??= {})[key] = value;
        }
        break;
      case TensorField.dataLocation:
        if (f.wire === Wire.Varint) location = f.varint;
        break;
    }
  }
  if (location === DATA_LOCATION_EXTERNAL) t.external = external ?? {};
  return t;
}

function childOf(kind: Kind, f: Field): [Kind, TensorPlace?] | undefined {
  if (f.wire !== Wire.Bytes) return undefined;
  return CHILDREN[kind]?.[f.no];
}

/** Graphs entered so far: the main graph is depth 0 once entered from the model. */
function graphDepthOf(kind: Kind, child: Kind, graphs: number): number {
  return child === Kind.Graph && kind !== Kind.Model ? graphs + 1 : graphs;
}

function walk(buf: Uint8Array, start: number, end: number, kind: Kind, depth: number, graphs: number, out: TensorRef[]): void {
  if (depth > MAX_DEPTH) corrupt(`subgraphs nested deeper than ${MAX_DEPTH}`);
  for (const f of fields(buf, start, end)) {
    const child = childOf(kind, f);
    if (!child) continue;
    if (child[0] === Kind.Tensor) out.push(parseTensor(buf, f.start, f.end, child[1]!, graphs));
    else walk(buf, f.start, f.end, child[0], depth + 1, graphDepthOf(kind, child[0], graphs), out);
  }
}

/**
 * Every TensorProto of a serialized ModelProto: initializers of the main graph and of every
 * subgraph, tensors of node attributes (Constant), sparse initializers' values and indices.
 * Raw data is located, never read.
 */
export function listTensors(model: Uint8Array): TensorRef[] {
  const out: TensorRef[] = [];
  walk(model, 0, model.byteLength, Kind.Model, 0, 0, out);
  return out;
}

/** Distinct `location` values of the model's external data, in first-seen order. */
export function externalLocations(model: Uint8Array): string[] {
  const seen = new Set<string>();
  for (const t of listTensors(model)) {
    const loc = t.external?.location;
    if (loc !== undefined) seen.add(loc);
  }
  return [...seen];
}

/**
 * The numeric external data fields of a tensor, validated: `offset` (default 0) and `length`
 * (default: to the end of the file, `fileSize`).
 */
export function externalRange(t: TensorRef, fileSize: number): { offset: number; length: number } {
  const ext = t.external ?? {};
  const offset = ext.offset === undefined ? 0 : Number(ext.offset);
  const length = ext.length === undefined ? fileSize - offset : Number(ext.length);
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > fileSize) {
    corrupt(`external data of tensor ${JSON.stringify(t.name)} (offset ${ext.offset}, length ${ext.length}) is outside its ${fileSize}-byte file`);
  }
  return { offset, length };
}

// ------------------------------------------------------------------------------------------ writing

function varintBytes(v: number): Uint8Array {
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

  varint(no: number, v: number): this {
    this.bytes(varintBytes(no * 8 + Wire.Varint));
    return this.bytes(varintBytes(v));
  }

  pieces(): Pieces {
    return { parts: this.parts, length: this.length };
  }
}

/**
 * A copy of TensorProto `t` (from `model`) without the fields in `drop`, followed by `append`'s
 * fields. Field order does not matter in protobuf; unknown fields are kept.
 */
export function rebuildTensor(model: Uint8Array, t: TensorRef, drop: readonly number[], append: (w: PieceWriter) => void): Pieces {
  const w = new PieceWriter();
  let copyFrom = t.start;
  for (const f of fields(model, t.start, t.end)) {
    if (!drop.includes(f.no)) continue;
    w.bytes(model.subarray(copyFrom, f.tagStart));
    copyFrom = f.end;
  }
  w.bytes(model.subarray(copyFrom, t.end));
  append(w);
  return w.pieces();
}

/** Writes `external_data` entries and `data_location = EXTERNAL`. */
export function appendExternal(w: PieceWriter, entries: Record<string, string>): void {
  for (const [k, v] of Object.entries(entries)) {
    w.field(TensorField.externalData, new PieceWriter().string(1, k).string(2, v).pieces());
  }
  w.varint(TensorField.dataLocation, DATA_LOCATION_EXTERNAL);
}

/** Replaces some tensors; returns the new pieces, or undefined when nothing changed. */
export type TensorRewriter = (t: TensorRef) => Pieces | undefined;

function rewrite(buf: Uint8Array, start: number, end: number, kind: Kind, fn: TensorRewriter, depth: number, graphs: number): Pieces | undefined {
  if (depth > MAX_DEPTH) corrupt(`subgraphs nested deeper than ${MAX_DEPTH}`);
  let w: PieceWriter | undefined;
  let copyFrom = start;
  for (const f of fields(buf, start, end)) {
    const child = childOf(kind, f);
    if (!child) continue;
    const replaced =
      child[0] === Kind.Tensor
        ? fn(parseTensor(buf, f.start, f.end, child[1]!, graphs))
        : rewrite(buf, f.start, f.end, child[0], fn, depth + 1, graphDepthOf(kind, child[0], graphs));
    if (!replaced) continue;
    w ??= new PieceWriter();
    w.bytes(buf.subarray(copyFrom, f.tagStart));
    w.field(f.no, replaced);
    copyFrom = f.end;
  }
  if (!w) return undefined;
  w.bytes(buf.subarray(copyFrom, end));
  return w.pieces();
}

/**
 * The model with the tensors `fn` replaces; untouched bytes are views of `model` (no copy until
 * {@link joinPieces}).
 */
export function rewriteTensors(model: Uint8Array, fn: TensorRewriter): Pieces {
  return rewrite(model, 0, model.byteLength, Kind.Model, fn, 0, 0) ?? { parts: [model], length: model.byteLength };
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
