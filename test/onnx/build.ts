// Small ONNX models built with onnx-proto (a dev dependency) for the tests of src/onnx, and a
// runner that feeds them float32 inputs in onnxruntime.
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

const { onnx } = onnxProto;
export { onnx };

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
export const INT64 = onnx.TensorProto.DataType.INT64;

type Attr = number | string | number[] | { tensor: onnxProto.onnx.ITensorProto } | { graph: onnxProto.onnx.IGraphProto } | { float: number };

/** A node; attributes: integers, strings, int lists, { float }, { tensor } or { graph }. */
export function node(opType: string, input: string[], output: string[], attrs: Record<string, Attr> = {}, name = `${opType}_${output[0]}`): onnxProto.onnx.INodeProto {
  const attribute = Object.entries(attrs).map(([k, v]) => {
    const T = onnx.AttributeProto.AttributeType;
    if (typeof v === 'number') return { name: k, type: T.INT, i: v };
    if (typeof v === 'string') return { name: k, type: T.STRING, s: Buffer.from(v) };
    if (Array.isArray(v)) return { name: k, type: T.INTS, ints: v };
    if ('float' in v) return { name: k, type: T.FLOAT, f: v.float };
    if ('tensor' in v) return { name: k, type: T.TENSOR, t: v.tensor };
    return { name: k, type: T.GRAPH, g: v.graph };
  });
  return { opType, input, output, name, attribute };
}

/** A float tensor with raw data (or float_data when `asFloatData`). */
export function floats(name: string, dims: number[], values: number[], asFloatData = false): onnxProto.onnx.ITensorProto {
  const f32 = Float32Array.from(values);
  return asFloatData
    ? { name, dims, dataType: FLOAT, floatData: [...f32] }
    : { name, dims, dataType: FLOAT, rawData: new Uint8Array(f32.buffer) };
}

export function int64s(name: string, dims: number[], values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: INT64, rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer) };
}

/** A tensor value info; `elemType` undefined gives one without a type. */
export function vi(name: string, elemType: number | undefined, dims: (number | string)[] = []): onnxProto.onnx.IValueInfoProto {
  if (elemType === undefined) return { name };
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

export function graph(nodes: onnxProto.onnx.INodeProto[], inputs: onnxProto.onnx.IValueInfoProto[], outputs: onnxProto.onnx.IValueInfoProto[], initializer: onnxProto.onnx.ITensorProto[] = [], name = 'g'): onnxProto.onnx.IGraphProto {
  return { name, node: nodes, input: inputs, output: outputs, initializer };
}

/** A serialized model (opset 17 unless given). */
export function model(g: onnxProto.onnx.IGraphProto, opset = 17): Buffer {
  return Buffer.from(onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph: g, producerName: 'test' }).finish());
}

export function decode(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** Runs a model file or bytes on float32 feeds; returns each output's values as numbers. */
export async function runModel(m: string | Uint8Array, feeds: Record<string, { dims: number[]; data: number[] }>): Promise<Record<string, number[]>> {
  const session = typeof m === 'string' ? await ort.InferenceSession.create(m) : await ort.InferenceSession.create(m);
  try {
    const t: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) t[k] = new ort.Tensor('float32', Float32Array.from(v.data), v.dims);
    const out = await session.run(t);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data as ArrayLike<number | bigint>, Number)]));
  } finally {
    await session.release();
  }
}

/** Largest absolute difference of two equally long arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
