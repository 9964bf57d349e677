// TensorProto as found in a serialized model: its name, type, shape, and where its data is (raw
// bytes, float_data, or external), located by offsets into the model buffer and never copied.
import { corrupt, fields, PieceWriter, readVarint, utf8, Wire } from './wire.js';

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

/** TensorProto field numbers. */
export const TensorField = {
  dims: 1,
  dataType: 2,
  floatData: 4,
  int32Data: 5,
  name: 8,
  rawData: 9,
  externalData: 13,
  dataLocation: 14,
} as const;

/** TensorProto.DataLocation.EXTERNAL */
export const DATA_LOCATION_EXTERNAL = 1;

/** The key and value of the StringStringEntryProto in `buf[start, end)` (an `external_data` entry). */
export function parseStringEntry(buf: Uint8Array, start: number, end: number): [key: string, value: string] {
  let key = '';
  let value = '';
  for (const g of fields(buf, start, end)) {
    if (g.wire !== Wire.Bytes) continue;
    if (g.no === 1) key = utf8(buf, g.start, g.end);
    else if (g.no === 2) value = utf8(buf, g.start, g.end);
  }
  return [key, value];
}

/** Parses the TensorProto in `buf[start, end)` (offsets only; data is never read). */
export function parseTensor(buf: Uint8Array, start: number, end: number, place: TensorPlace, graphDepth: number): TensorRef {
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
          const [key, value] = parseStringEntry(buf, f.start, f.end);
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

/** Writes `external_data` entries and `data_location = EXTERNAL`. */
export function appendExternal(w: PieceWriter, entries: Record<string, string>): void {
  for (const [k, v] of Object.entries(entries)) {
    w.field(TensorField.externalData, new PieceWriter().string(1, k).string(2, v).pieces());
  }
  w.varint(TensorField.dataLocation, DATA_LOCATION_EXTERNAL);
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
