// Building blocks for rewriting parts of a model found by ./graph.ts: new nodes, nodes with other
// inputs/outputs/attributes, renamed or retyped value infos and tensors, and graphs whose repeated
// fields are replaced one by one. Everything unchanged is copied by reference.
import { AttrField, AttrType, GraphField, NodeField, ValueInfoField, type NodeView, type ValueInfoView } from './graph.js';
import { appendExternal, TensorField, type TensorRef } from './tensor.js';
import { fields, PieceWriter, rebuild, Wire, type Field, type Pieces } from './wire.js';

/** Payload of a new attribute `name` of type INT. */
export function intAttribute(name: string, value: number): Pieces {
  return new PieceWriter().string(AttrField.name, name).varint(AttrField.type, AttrType.INT).varint(AttrField.i, value).pieces();
}

/** Payload of a new attribute `name` of type TENSOR holding `tensor` (a TensorProto payload). */
export function tensorAttribute(name: string, tensor: Pieces): Pieces {
  return new PieceWriter().string(AttrField.name, name).varint(AttrField.type, AttrType.TENSOR).field(AttrField.t, tensor).pieces();
}

/** A TensorProto payload with raw data. */
export function newTensor(dataType: number, dims: readonly number[], raw: Uint8Array, name = ''): Pieces {
  const w = new PieceWriter();
  for (const d of dims) w.varint(TensorField.dims, d);
  w.varint(TensorField.dataType, dataType);
  if (name) w.string(TensorField.name, name);
  return w.field(TensorField.rawData, raw).pieces();
}

/** Payload of a new NodeProto. */
export function newNode(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attributes: readonly Pieces[] = []): Pieces {
  const w = new PieceWriter();
  for (const i of inputs) w.string(NodeField.input, i);
  for (const o of outputs) w.string(NodeField.output, o);
  w.string(NodeField.name, name).string(NodeField.opType, opType);
  for (const a of attributes) w.field(NodeField.attribute, a);
  return w.pieces();
}

/** What changes in a node; attributes by index into `node.attributes` (null: removed). */
export interface NodeEdit {
  inputs?: readonly string[];
  outputs?: readonly string[];
  attributes?: ReadonlyMap<number, Pieces | null>;
  addAttributes?: readonly Pieces[];
}

/** `node` with the changes of `edit`; undefined when there are none. */
export function editNode(buf: Uint8Array, node: NodeView, edit: NodeEdit): Pieces | undefined {
  const { inputs, outputs, attributes, addAttributes = [] } = edit;
  if (!inputs && !outputs && !attributes?.size && addAttributes.length === 0) return undefined;
  let attrIndex = -1;
  const replaced: Pieces[] = [];
  const p = rebuild(
    buf,
    node.start,
    node.end,
    (f) => {
      if (f.no === NodeField.input) return Boolean(inputs);
      if (f.no === NodeField.output) return Boolean(outputs);
      if (f.no !== NodeField.attribute) return false;
      attrIndex++;
      if (!attributes?.has(attrIndex)) return false;
      const r = attributes.get(attrIndex);
      if (r) replaced.push(r);
      return true;
    },
    (w) => {
      for (const i of inputs ?? []) w.string(NodeField.input, i);
      for (const o of outputs ?? []) w.string(NodeField.output, o);
      for (const a of [...replaced, ...addAttributes]) w.field(NodeField.attribute, a);
    },
  );
  return p;
}

/** A TypeProto with every `from` element type (tensors, sequences, optionals, map values) set to `to`. */
function retypeType(buf: Uint8Array, start: number, end: number, from: number, to: number): Pieces | undefined {
  const changes = new Map<number, Pieces>();
  for (const f of fields(buf, start, end)) {
    if (f.wire !== Wire.Bytes) continue;
    let p: Pieces | undefined;
    if (f.no === 1 || f.no === 8) p = retypeTensorType(buf, f, from, to); // tensor_type, sparse_tensor_type
    else if (f.no === 4 || f.no === 9) p = editChild(buf, f, 1, (g) => retypeType(buf, g.start, g.end, from, to)); // sequence, optional
    else if (f.no === 5) p = editChild(buf, f, 2, (g) => retypeType(buf, g.start, g.end, from, to)); // map value_type
    if (p) changes.set(f.start, p);
  }
  return replaceItems(buf, start, end, changes);
}

function retypeTensorType(buf: Uint8Array, f: Field, from: number, to: number): Pieces | undefined {
  let hit = false;
  for (const g of fields(buf, f.start, f.end)) if (g.no === 1 && g.wire === Wire.Varint && g.varint === from) hit = true;
  if (!hit) return undefined;
  return rebuild(buf, f.start, f.end, (g) => g.no === 1, (w) => w.varint(1, to));
}

/** `f`'s payload with its child message field `no` edited by `fn` (undefined: unchanged). */
function editChild(buf: Uint8Array, f: Field, no: number, fn: (child: Field) => Pieces | undefined): Pieces | undefined {
  const changes = new Map<number, Pieces>();
  for (const g of fields(buf, f.start, f.end)) {
    if (g.no !== no || g.wire !== Wire.Bytes) continue;
    const p = fn(g);
    if (p) changes.set(g.start, p);
  }
  return replaceItems(buf, f.start, f.end, changes);
}

/**
 * The message `buf[start, end)` with some of its message fields replaced in place, each found by
 * its payload offset (the `start` of a view: a tensor, a subgraph...); undefined when none is.
 */
export function replaceItems(buf: Uint8Array, start: number, end: number, changes: ReadonlyMap<number, Pieces>): Pieces | undefined {
  if (changes.size === 0) return undefined;
  const w = new PieceWriter();
  let copyFrom = start;
  for (const f of fields(buf, start, end)) {
    const p = changes.get(f.start);
    if (!p) continue;
    w.copy(buf, copyFrom, f.tagStart).field(f.no, p);
    copyFrom = f.end;
  }
  return w.copy(buf, copyFrom, end).pieces();
}

/** A ValueInfoProto renamed and/or with element type `from` set to `to`; undefined when unchanged. */
export function editValueInfo(buf: Uint8Array, v: ValueInfoView, name: string | undefined, retype?: { from: number; to: number }): Pieces | undefined {
  let type: Pieces | undefined;
  if (retype) {
    for (const f of fields(buf, v.start, v.end)) {
      if (f.no === ValueInfoField.type && f.wire === Wire.Bytes) type = retypeType(buf, f.start, f.end, retype.from, retype.to);
    }
  }
  if (name === undefined && !type) return undefined;
  return rebuild(
    buf,
    v.start,
    v.end,
    (f) => (f.no === ValueInfoField.name && name !== undefined) || (f.no === ValueInfoField.type && Boolean(type)),
    (w) => {
      if (name !== undefined) w.string(ValueInfoField.name, name);
      if (type) w.field(ValueInfoField.type, type);
    },
  );
}

/**
 * A tensor with new data: `dataType`, and either raw bytes or external entries (replacing
 * raw_data, float_data, int32_data and external data fields); optionally renamed.
 */
export function retypeTensor(buf: Uint8Array, t: TensorRef, dataType: number, data: { raw: Uint8Array } | { external: Record<string, string> }, name?: string): Pieces {
  const drop = new Set<number>([TensorField.dataType, TensorField.rawData, TensorField.floatData, TensorField.int32Data, TensorField.externalData, TensorField.dataLocation]);
  if (name !== undefined) drop.add(TensorField.name);
  return rebuild(buf, t.start, t.end, (f) => drop.has(f.no), (w) => {
    w.varint(TensorField.dataType, dataType);
    if (name !== undefined) w.string(TensorField.name, name);
    if ('raw' in data) w.field(TensorField.rawData, data.raw);
    else appendExternal(w, data.external);
  });
}

/** A tensor renamed, data untouched. */
export function renameTensor(buf: Uint8Array, t: TensorRef, name: string): Pieces {
  return rebuild(buf, t.start, t.end, (f) => f.no === TensorField.name, (w) => w.string(TensorField.name, name));
}

/** What replaces one repeated item of a graph: nothing (removed) or one or more payloads. */
export type GraphEdits = Map<number, Pieces[]>;

/**
 * The GraphProto `buf[start, end)` with items replaced: `edits` maps an item's payload offset (the
 * `start` of a view from ./graph.ts) to the payloads written in its place (same field number, in order; [] removes it); `prepend` nodes are
 * written before the first node (topological order: casts of graph inputs and initializers).
 */
export function editGraph(buf: Uint8Array, start: number, end: number, edits: GraphEdits, prepend: readonly Pieces[] = []): Pieces | undefined {
  if (edits.size === 0 && prepend.length === 0) return undefined;
  const w = new PieceWriter();
  let copyFrom = start;
  let prepended = prepend.length === 0;
  for (const f of fields(buf, start, end)) {
    const p = edits.get(f.start);
    const firstNode = !prepended && f.no === GraphField.node;
    if (!p && !firstNode) continue;
    w.copy(buf, copyFrom, f.tagStart);
    if (firstNode) {
      for (const n of prepend) w.field(GraphField.node, n);
      prepended = true;
    }
    if (p) {
      for (const item of p) w.field(f.no, item);
      copyFrom = f.end;
    } else copyFrom = f.tagStart;
  }
  w.copy(buf, copyFrom, end);
  // A graph without nodes: the casts still have to go somewhere.
  if (!prepended) for (const n of prepend) w.field(GraphField.node, n);
  return w.pieces();
}
