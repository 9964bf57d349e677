// A read-only view of a serialized ModelProto's graphs: nodes (names, op types, inputs, outputs,
// attributes), initializers, graph inputs/outputs and value_info with their element types, and
// the subgraphs of If/Loop/Scan. Every item keeps its byte range, so a pass rewrites only what it
// changes and copies the rest by reference (see ./wire.ts). Built for untrusted bytes: ERR_CORRUPT
// on anything malformed, bounded nesting.
import { parseTensor, type TensorRef } from './tensor.js';
import { corrupt, fields, utf8, Wire, type Field } from './wire.js';

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;

/** AttributeProto.AttributeType values used here. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, TENSORS: 9, GRAPHS: 10 } as const;

/** Field numbers of the messages this module reads. */
export const ModelField = { producerName: 2, producerVersion: 3, docString: 6, graph: 7, opsetImport: 8, metadataProps: 14, functions: 25 } as const;
export const GraphField = { node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
export const NodeField = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
export const AttrField = { name: 1, f: 2, i: 3, t: 5, g: 6, floats: 7, tensors: 10, graphs: 11, type: 20 } as const;
export const ValueInfoField = { name: 1, type: 2 } as const;

/** A graph input, output or value_info entry. */
export interface ValueInfoView {
  name: string;
  /** Element type of a tensor type; undefined for other types (sequence, map...) or none. */
  elemType?: number;
  /** The ValueInfoProto message (payload range). */
  start: number;
  end: number;
}

export interface AttributeView {
  name: string;
  type: number;
  /** `i` (INT attributes), when present. */
  i?: number;
  /** `f` (FLOAT attributes): offset of its 4 little-endian bytes. */
  fAt?: number;
  /** `floats` (FLOATS): every value's offset (packed or not). */
  floatsAt: number[];
  t?: TensorRef;
  tensors: TensorRef[];
  g?: GraphView;
  graphs: GraphView[];
  start: number;
  end: number;
}

export interface NodeView {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: AttributeView[];
  start: number;
  end: number;
}

export interface GraphView {
  nodes: NodeView[];
  initializers: TensorRef[];
  inputs: ValueInfoView[];
  outputs: ValueInfoView[];
  valueInfo: ValueInfoView[];
  /** 0 for the main graph, 1 for a subgraph of one of its nodes, and so on. */
  depth: number;
  start: number;
  end: number;
}

export interface ModelView {
  buf: Uint8Array;
  graph: GraphView;
  /** The graph field of the ModelProto (its tag starts at `graphField.tagStart`). */
  graphField: Field;
  /** `(domain, name)` of the model-local functions, as `domain:name`. */
  functions: Set<string>;
}

const MAX_GRAPH_DEPTH = 32;

function str(buf: Uint8Array, f: Field): string {
  if (f.wire !== Wire.Bytes) corrupt(`field ${f.no} should be a string`);
  return utf8(buf, f.start, f.end);
}

function readFloatsAt(buf: Uint8Array, f: Field, out: number[]): void {
  if (f.wire === Wire.Fixed32) out.push(f.start);
  else if (f.wire === Wire.Bytes) {
    if ((f.end - f.start) % 4 !== 0) corrupt('packed floats are not a multiple of 4 bytes');
    for (let p = f.start; p < f.end; p += 4) out.push(p);
  } else corrupt('float attribute with a wrong wire type');
}

/** The element type inside a TypeProto: tensor_type.elem_type (1.1). */
function elemTypeOf(buf: Uint8Array, start: number, end: number): number | undefined {
  for (const f of fields(buf, start, end)) {
    if (f.no !== 1 || f.wire !== Wire.Bytes) continue;
    for (const g of fields(buf, f.start, f.end)) if (g.no === 1 && g.wire === Wire.Varint) return g.varint;
  }
  return undefined;
}

function readValueInfo(buf: Uint8Array, f: Field): ValueInfoView {
  if (f.wire !== Wire.Bytes) corrupt('value info is not a message');
  const v: ValueInfoView = { name: '', start: f.start, end: f.end };
  for (const g of fields(buf, f.start, f.end)) {
    if (g.no === ValueInfoField.name) v.name = str(buf, g);
    else if (g.no === ValueInfoField.type && g.wire === Wire.Bytes) v.elemType = elemTypeOf(buf, g.start, g.end);
  }
  return v;
}

function readAttribute(buf: Uint8Array, f: Field, depth: number): AttributeView {
  const a: AttributeView = { name: '', type: 0, floatsAt: [], tensors: [], graphs: [], start: f.start, end: f.end };
  for (const g of fields(buf, f.start, f.end)) {
    switch (g.no) {
      case AttrField.name:
        a.name = str(buf, g);
        break;
      case AttrField.type:
        if (g.wire === Wire.Varint) a.type = g.varint;
        break;
      case AttrField.i:
        if (g.wire === Wire.Varint) a.i = g.varint;
        break;
      case AttrField.f:
        if (g.wire !== Wire.Fixed32) corrupt('attribute f is not a fixed32');
        a.fAt = g.start;
        break;
      case AttrField.floats:
        readFloatsAt(buf, g, a.floatsAt);
        break;
      case AttrField.t:
        if (g.wire !== Wire.Bytes) corrupt('attribute t is not a message');
        a.t = parseTensor(buf, g.start, g.end, 'attribute', depth);
        break;
      case AttrField.tensors:
        if (g.wire !== Wire.Bytes) corrupt('attribute tensors is not a message');
        a.tensors.push(parseTensor(buf, g.start, g.end, 'attribute', depth));
        break;
      case AttrField.g:
        if (g.wire !== Wire.Bytes) corrupt('attribute g is not a message');
        a.g = readGraph(buf, g.start, g.end, depth + 1);
        break;
      case AttrField.graphs:
        if (g.wire !== Wire.Bytes) corrupt('attribute graphs is not a message');
        a.graphs.push(readGraph(buf, g.start, g.end, depth + 1));
        break;
    }
  }
  return a;
}

function readNode(buf: Uint8Array, f: Field, depth: number): NodeView {
  if (f.wire !== Wire.Bytes) corrupt('node is not a message');
  const n: NodeView = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [], start: f.start, end: f.end };
  for (const g of fields(buf, f.start, f.end)) {
    switch (g.no) {
      case NodeField.input:
        n.inputs.push(str(buf, g));
        break;
      case NodeField.output:
        n.outputs.push(str(buf, g));
        break;
      case NodeField.name:
        n.name = str(buf, g);
        break;
      case NodeField.opType:
        n.opType = str(buf, g);
        break;
      case NodeField.domain:
        n.domain = str(buf, g);
        break;
      case NodeField.attribute:
        if (g.wire !== Wire.Bytes) corrupt('node attribute is not a message');
        n.attributes.push(readAttribute(buf, g, depth));
        break;
    }
  }
  return n;
}

/** Reads the GraphProto in `buf[start, end)`. */
export function readGraph(buf: Uint8Array, start: number, end: number, depth = 0): GraphView {
  if (depth > MAX_GRAPH_DEPTH) corrupt(`subgraphs nested deeper than ${MAX_GRAPH_DEPTH}`);
  const g: GraphView = { nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [], depth, start, end };
  for (const f of fields(buf, start, end)) {
    switch (f.no) {
      case GraphField.node:
        g.nodes.push(readNode(buf, f, depth));
        break;
      case GraphField.initializer:
        if (f.wire !== Wire.Bytes) corrupt('initializer is not a message');
        g.initializers.push(parseTensor(buf, f.start, f.end, 'initializer', depth));
        break;
      case GraphField.input:
        g.inputs.push(readValueInfo(buf, f));
        break;
      case GraphField.output:
        g.outputs.push(readValueInfo(buf, f));
        break;
      case GraphField.valueInfo:
        g.valueInfo.push(readValueInfo(buf, f));
        break;
    }
  }
  return g;
}

/** Reads a serialized ModelProto; it must have a graph. */
export function readModel(buf: Uint8Array): ModelView {
  let graphField: Field | undefined;
  const functions = new Set<string>();
  for (const f of fields(buf, 0, buf.byteLength)) {
    if (f.no === ModelField.graph) {
      if (f.wire !== Wire.Bytes) corrupt('graph is not a message');
      graphField = f;
    } else if (f.no === ModelField.functions && f.wire === Wire.Bytes) {
      let name = '';
      let domain = '';
      for (const g of fields(buf, f.start, f.end)) {
        if (g.no === 1) name = str(buf, g);
        else if (g.no === 10 && g.wire === Wire.Bytes) domain = str(buf, g);
      }
      functions.add(`${domain}:${name}`);
    }
  }
  if (!graphField) corrupt('no graph');
  return { buf, graph: readGraph(buf, graphField.start, graphField.end), graphField, functions };
}

/** The float32 at `at` (little-endian), e.g. an attribute's `f`. */
export function floatAt(buf: Uint8Array, at: number): number {
  return new DataView(buf.buffer, buf.byteOffset + at, 4).getFloat32(0, true);
}
