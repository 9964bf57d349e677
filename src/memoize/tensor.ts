// Tensors as tensorCache sees them: onnxruntime's Tensor or any { type, dims, data } object whose
// data is a TypedArray with the batch along dim 0. Rows are contiguous byte ranges of `data`.
import { invalidType } from '../errors.js';
import { isTensorLike, type TensorLike } from '../keys.js';

type TypedArrayCtor =
  | Float32ArrayConstructor | Float64ArrayConstructor | Int8ArrayConstructor | Uint8ArrayConstructor
  | Int16ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor
  | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

interface DtypeInfo {
  code: number;
  bytes: number;
  ctor: TypedArrayCtor;
}

/** Element types tensorCache can slice per row (onnxruntime's numeric types). */
export const DTYPES: Record<string, DtypeInfo> = {
  float32: { code: 1, bytes: 4, ctor: Float32Array },
  float64: { code: 2, bytes: 8, ctor: Float64Array },
  float16: { code: 3, bytes: 2, ctor: Uint16Array },
  bfloat16: { code: 4, bytes: 2, ctor: Uint16Array },
  int8: { code: 5, bytes: 1, ctor: Int8Array },
  uint8: { code: 6, bytes: 1, ctor: Uint8Array },
  int16: { code: 7, bytes: 2, ctor: Int16Array },
  uint16: { code: 8, bytes: 2, ctor: Uint16Array },
  int32: { code: 9, bytes: 4, ctor: Int32Array },
  uint32: { code: 10, bytes: 4, ctor: Uint32Array },
  int64: { code: 11, bytes: 8, ctor: BigInt64Array },
  uint64: { code: 12, bytes: 8, ctor: BigUint64Array },
  bool: { code: 13, bytes: 1, ctor: Uint8Array },
};

export const DTYPE_BY_CODE = new Map<number, string>(Object.entries(DTYPES).map(([name, d]) => [d.code, name]));

export { isTensorLike, type TensorLike };

/** A tensor's batch layout: rows along dim 0, each `rowBytes` long with shape `rowDims`. */
export interface RowLayout {
  dtype: string;
  batch: number;
  rowDims: number[];
  rowBytes: number;
  bytes: Uint8Array;
}

/** Validates `t` as a batched tensor and describes its rows. `name` is used in errors. */
export function rowLayout(name: string, t: TensorLike): RowLayout {
  const info = DTYPES[t.type];
  if (!info) throw invalidType(`${name}.type`, `a numeric tensor type (${Object.keys(DTYPES).join(', ')})`, t.type);
  if (t.dims.length === 0) throw invalidType(`${name}.dims`, 'at least one dimension (the batch)', '[]');
  for (const d of t.dims) {
    if (!Number.isInteger(d) || d < 0) throw invalidType(`${name}.dims`, 'non-negative integers', t.dims.join(','));
  }
  const batch = t.dims[0];
  const rowDims = t.dims.slice(1);
  const rowElems = rowDims.reduce((a, b) => a * b, 1);
  const rowBytes = rowElems * info.bytes;
  const data = t.data;
  if (data.byteLength !== batch * rowBytes) {
    throw invalidType(`${name}.data`, `${batch * rowBytes} bytes for dims [${t.dims.join(', ')}] of ${t.type}`, `${data.byteLength} bytes`);
  }
  return { dtype: t.type, batch, rowDims, rowBytes, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A new TypedArray of `dtype` over a fresh copy of `bytes` (elements aligned). */
export function typedArrayOf(dtype: string, bytes: Uint8Array): ArrayBufferView {
  const info = DTYPES[dtype];
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new info.ctor(copy.buffer, 0, bytes.byteLength / info.bytes);
}

/** Gathers rows `indices` of a batched tensor into a new contiguous buffer. */
export function gatherRows(layout: RowLayout, indices: readonly number[]): Uint8Array {
  const out = new Uint8Array(indices.length * layout.rowBytes);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    out.set(layout.bytes.subarray(i * layout.rowBytes, (i + 1) * layout.rowBytes), j * layout.rowBytes);
  }
  return out;
}

/** Builds a tensor of the same kind as `like` (an onnxruntime Tensor class, or a plain object). */
export function makeTensor(ctor: TensorCtor | undefined, dtype: string, dims: number[], data: ArrayBufferView): TensorLike {
  if (ctor) return new ctor(dtype, data, dims);
  return { type: dtype, dims, data };
}

/** The constructor of onnxruntime's Tensor: `new Tensor(type, data, dims)`. */
export type TensorCtor = new (type: string, data: ArrayBufferView, dims: readonly number[]) => TensorLike;

/** The class of a tensor when it is not a plain object (onnxruntime's Tensor), for building more. */
export function tensorClassOf(t: TensorLike): TensorCtor | undefined {
  const proto = Object.getPrototypeOf(t);
  if (proto === Object.prototype || proto === null) return undefined;
  return proto.constructor as TensorCtor;
}
