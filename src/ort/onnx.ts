// A minimal protobuf reader and splice-writer for the few ONNX fields the session cache needs:
// the tensors of a ModelProto (graph initializers, Constant attributes, subgraphs of If/Loop/Scan),
// their names, raw data ranges and external data entries. Model files are untrusted input: every
// length is checked against the buffer and a malformed model gives ERR_CORRUPT, never a bad read.
// Rewriting copies every field it does not touch verbatim and re-encodes only the length prefixes
// of the messages on the path to a changed tensor, so a 400 MB model is rewritten by reference.
// The wire format and TensorProto parsing are shared with the pipeline's ONNX passes (src/onnx/).
import { appendExternal, DATA_LOCATION_EXTERNAL, externalRange, parseTensor, TensorField, type TensorPlace, type TensorRef } from '../onnx/tensor.js';
import { corrupt, fields, joinPieces, PieceWriter, rebuild, Wire, type Field, type Pieces } from '../onnx/wire.js';
import { childOf, Kind, MAX_DEPTH } from '../onnx/tree.js';

export { appendExternal, DATA_LOCATION_EXTERNAL, externalRange, joinPieces, PieceWriter, TensorField, type Pieces, type TensorPlace, type TensorRef };

function childOfField(kind: Kind, f: Field): readonly [Kind, TensorPlace?] | undefined {
  return f.wire === Wire.Bytes ? childOf(kind, f.no) : undefined;
}

/** Graphs entered so far: the main graph is depth 0 once entered from the model. */
function graphDepthOf(kind: Kind, child: Kind, graphs: number): number {
  return child === Kind.Graph && kind !== Kind.Model ? graphs + 1 : graphs;
}

function walk(buf: Uint8Array, start: number, end: number, kind: Kind, depth: number, graphs: number, out: TensorRef[]): void {
  if (depth > MAX_DEPTH) corrupt(`subgraphs nested deeper than ${MAX_DEPTH}`);
  for (const f of fields(buf, start, end)) {
    const child = childOfField(kind, f);
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

// ------------------------------------------------------------------------------------------ writing

/**
 * A copy of TensorProto `t` (from `model`) without the fields in `drop`, followed by `append`'s
 * fields. Field order does not matter in protobuf; unknown fields are kept.
 */
export function rebuildTensor(model: Uint8Array, t: TensorRef, drop: readonly number[], append: (w: PieceWriter) => void): Pieces {
  return rebuild(model, t.start, t.end, (f) => drop.includes(f.no), append);
}

/** Replaces some tensors; returns the new pieces, or undefined when nothing changed. */
export type TensorRewriter = (t: TensorRef) => Pieces | undefined;

function rewrite(buf: Uint8Array, start: number, end: number, kind: Kind, fn: TensorRewriter, depth: number, graphs: number): Pieces | undefined {
  if (depth > MAX_DEPTH) corrupt(`subgraphs nested deeper than ${MAX_DEPTH}`);
  let w: PieceWriter | undefined;
  let copyFrom = start;
  for (const f of fields(buf, start, end)) {
    const child = childOfField(kind, f);
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
