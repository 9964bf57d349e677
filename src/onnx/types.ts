// Element types of every value of a model, without running it: declared types (graph inputs,
// initializers, value_info, outputs) first, then one forward sweep through the nodes with a rule
// per op for the ops whose output type is not their first input's. Enough to decide where a
// precision change needs a Cast; a value it cannot type stays undefined (callers refuse to guess).
import { DataType, type AttributeView, type GraphView, type ModelView, type NodeView } from './graph.js';

/** Element type by value name (one namespace for the whole model: names are unique in ONNX). */
export type TypeMap = Map<string, number | undefined>;

const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression', 'StringSplit']);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf', 'RegexFullMatch']);
const INT32_OUT = new Set(['MatMulInteger', 'ConvInteger']);
/** Ops whose every output after the first is int64 indices. */
const INDICES_AFTER_FIRST = new Set(['TopK', 'MaxPool', 'Unique']);

function attr(n: NodeView, name: string): AttributeView | undefined {
  return n.attributes.find((a) => a.name === name);
}

/** The type a Constant node produces, from whichever value attribute it has. */
function constantType(n: NodeView): number | undefined {
  for (const a of n.attributes) {
    if (a.name === 'value' && a.t) return a.t.dataType;
    if (a.name === 'value_float' || a.name === 'value_floats') return DataType.FLOAT;
    if (a.name === 'value_int' || a.name === 'value_ints') return DataType.INT64;
    if (a.name === 'value_string' || a.name === 'value_strings') return DataType.STRING;
  }
  return undefined;
}

/** Output element types of `n`, given the types known so far. */
function outputTypes(n: NodeView, types: TypeMap, subOutputs: (number | undefined)[] | undefined): (number | undefined)[] {
  const input = (i: number) => (n.inputs[i] ? types.get(n.inputs[i]) : undefined);
  const first = n.inputs.map((x) => (x ? types.get(x) : undefined)).find((t) => t !== undefined);
  const all = (t: number | undefined) => n.outputs.map(() => t);
  const dtype = (fallback: number | undefined) => attr(n, 'dtype')?.i ?? fallback;
  if (n.domain !== '' && n.domain !== 'ai.onnx') return all(first);
  switch (n.opType) {
    case 'Constant':
      return all(constantType(n));
    case 'Cast':
      return all(attr(n, 'to')?.i);
    case 'CastLike':
      return all(input(1));
    case 'ConstantOfShape':
      return all(attr(n, 'value')?.t?.dataType ?? DataType.FLOAT);
    case 'Where':
      return all(input(1));
    case 'OneHot':
      return all(input(2));
    case 'QuantizeLinear':
      return all(input(2) ?? attr(n, 'output_dtype')?.i ?? DataType.UINT8);
    case 'DequantizeLinear':
      return all(input(1));
    case 'DynamicQuantizeLinear':
      return [DataType.UINT8, DataType.FLOAT, DataType.UINT8];
    case 'RandomNormal':
    case 'RandomUniform':
      return all(dtype(DataType.FLOAT));
    case 'RandomNormalLike':
    case 'RandomUniformLike':
    case 'EyeLike':
    case 'Bernoulli':
      return all(dtype(input(0)));
    case 'Multinomial':
      return all(dtype(DataType.INT32));
    case 'If':
    case 'Loop':
    case 'Scan':
      // Loop's outputs are its body's outputs after the condition.
      return subOutputs ? n.outputs.map((_, i) => subOutputs[n.opType === 'Loop' ? i + 1 : i]) : all(undefined);
    case 'LayerNormalization':
      return n.outputs.map((_, i) => (i === 0 ? first : (attr(n, 'stash_type')?.i ?? DataType.FLOAT)));
  }
  if (INT64_OUT.has(n.opType)) return all(DataType.INT64);
  if (BOOL_OUT.has(n.opType)) return all(DataType.BOOL);
  if (INT32_OUT.has(n.opType)) return all(DataType.INT32);
  if (INDICES_AFTER_FIRST.has(n.opType)) return n.outputs.map((_, i) => (i === 0 ? first : DataType.INT64));
  return all(first);
}

function declare(types: TypeMap, name: string, t: number | undefined): void {
  if (name && t !== undefined && t !== 0) types.set(name, t);
}

function sweep(g: GraphView, types: TypeMap): void {
  for (const v of g.inputs) declare(types, v.name, v.elemType);
  for (const t of g.initializers) declare(types, t.name, t.dataType);
  const declared = new Map<string, number>();
  for (const v of [...g.valueInfo, ...g.outputs]) if (v.elemType) declared.set(v.name, v.elemType);
  for (const n of g.nodes) {
    let subOutputs: (number | undefined)[] | undefined;
    for (const a of n.attributes) {
      for (const sub of a.g ? [a.g, ...a.graphs] : a.graphs) {
        sweep(sub, types);
        subOutputs ??= sub.outputs.map((o) => types.get(o.name) ?? o.elemType);
      }
    }
    const out = outputTypes(n, types, subOutputs);
    n.outputs.forEach((name, i) => declare(types, name, declared.get(name) ?? out[i]));
  }
}

/** Element types of every value in the model (graph inputs, initializers, node outputs, subgraphs). */
export function inferTypes(model: ModelView): TypeMap {
  const types: TypeMap = new Map();
  sweep(model.graph, types);
  return types;
}
