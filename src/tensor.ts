// Tensors as modelcache sees them: onnxruntime's Tensor or any `{ type, dims, data }` object whose
// data is a TypedArray (a `string[]` for type 'string'), batch along dim 0. The one dtype table
// of the library: key encoding, per-row splitting and stored tensor entries all read it.
import { invalidType } from './errors.js';

type TypedArrayCtor =
  | Float32ArrayConstructor | Float64ArrayConstructor | Int8ArrayConstructor | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor | Int16ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor
  | Uint32ArrayConstructor | BigInt64ArrayConstructor | BigUint64ArrayConstructor;

/** A numeric element type: its code in stored entries, its size and the TypedArray that holds it. */
export interface DtypeInfo {
  readonly code: number;
  readonly bytes: number;
  readonly ctor: TypedArrayCtor;
}

// Codes are part of the stored entry format (src/memoize/entry.ts): never renumber one.
const TABLE: [name: string, code: number, bytes: number, ctor: TypedArrayCtor, alias?: 'alias'][] = [
  ['float32', 1, 4, Float32Array],
  ['float64', 2, 8, Float64Array],
  ['float16', 3, 2, Uint16Array, 'alias'],
  ['bfloat16', 4, 2, Uint16Array, 'alias'],
  ['int8', 5, 1, Int8Array],
  ['uint8', 6, 1, Uint8Array],
  ['int16', 7, 2, Int16Array],
  ['uint16', 8, 2, Uint16Array],
  ['int32', 9, 4, Int32Array],
  ['uint32', 10, 4, Uint32Array],
  ['int64', 11, 8, BigInt64Array],
  ['uint64', 12, 8, BigUint64Array],
  ['bool', 13, 1, Uint8Array, 'alias'],
  ['uint8c', 14, 1, Uint8ClampedArray],
];

const BY_NAME = new Map<string, DtypeInfo>(TABLE.map(([name, code, bytes, ctor]) => [name, { code, bytes, ctor }]));
const BY_CODE = new Map<number, string>(TABLE.map(([name, code]) => [code, name]));
// A bare TypedArray is named by its class; float16, bfloat16 and bool share a class with another type.
const BY_CTOR = new Map<unknown, string>(TABLE.filter((t) => !t[4]).map(([name, , , ctor]) => [ctor, name]));

/** The numeric dtype `name`, or undefined (a Map: `'constructor'` or `'__proto__'` are not dtypes). */
export function dtypeInfo(name: string): DtypeInfo | undefined {
  return BY_NAME.get(name);
}

/** The dtype stored under `code` in an entry, or undefined. */
export function dtypeOfCode(code: number): string | undefined {
  return BY_CODE.get(code);
}

/** Names of the numeric dtypes, for messages. */
export const NUMERIC_DTYPES: readonly string[] = TABLE.map((t) => t[0]);

/** The dtype name of a TypedArray by its class ('float32', 'int64', ...), or undefined for other values. */
export function dtypeOf(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return undefined;
  if (Buffer.isBuffer(value)) return 'uint8';
  for (let proto = Object.getPrototypeOf(value); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const name = BY_CTOR.get(proto.constructor);
    if (name) return name;
  }
  return undefined;
}

/** A numeric tensor: onnxruntime's `Tensor` or any `{ type, dims, data }` with a TypedArray. */
export interface NumericTensor {
  /**
   * The element type, as onnxruntime names it: `'float32'`, `'float64'`, `'float16'`,
   * `'bfloat16'`, `'int8'`, `'uint8'`, `'int16'`, `'uint16'`, `'int32'`, `'uint32'`, `'int64'`,
   * `'uint64'`, `'bool'` (or `'uint8c'`). Part of every key: the same bytes under another type are
   * another sample. Any other name is a TypeError.
   */
  type: string;
  /** The shape; dim 0 is the batch (one cached sample per row). At least one dimension, non-negative integers. */
  dims: readonly number[];
  /**
   * The elements in row-major order, in the TypedArray of `type` (float16, bfloat16 as Uint16Array,
   * bool as Uint8Array); its byte length must equal the product of `dims` times the element size.
   */
  data: ArrayBufferView;
}

/** A string tensor (`type: 'string'`): one string per element. */
export interface StringTensor {
  /** Always `'string'`. */
  type: 'string';
  /** The shape; dim 0 is the batch (one cached sample per row). */
  dims: readonly number[];
  /** One string per element, row-major: as many as the product of `dims`. */
  data: readonly string[];
}

/** A tensor as onnxruntime's `Tensor` or any `{ type, dims, data }` object. */
export type TensorLike = NumericTensor | StringTensor;

export function isStringTensor(t: TensorLike): t is StringTensor {
  return t.type === 'string';
}

export function isTensorLike(v: unknown): v is TensorLike {
  if (v === null || typeof v !== 'object') return false;
  const t = v as { type?: unknown; dims?: unknown; data?: unknown };
  if (typeof t.type !== 'string' || !Array.isArray(t.dims)) return false;
  if (t.type === 'string') return Array.isArray(t.data);
  return ArrayBuffer.isView(t.data) && !(t.data instanceof DataView);
}

/** A tensor's batch layout: `batch` rows along dim 0, each of shape `rowDims`. */
export interface RowLayout {
  dtype: string;
  batch: number;
  rowDims: number[];
  /** Elements per row. */
  rowElems: number;
  /** Bytes per row (numeric tensors; 0 for strings). */
  rowBytes: number;
}

/** Validates `t` as a batched tensor and describes its rows. `name` is used in errors. */
export function rowLayout(name: string, t: TensorLike): RowLayout {
  const info = isStringTensor(t) ? undefined : dtypeInfo(t.type);
  if (!info && !isStringTensor(t)) {
    throw invalidType(`${name}.type`, `a tensor type (${NUMERIC_DTYPES.join(', ')} or string)`, t.type);
  }
  if (t.dims.length === 0) throw invalidType(`${name}.dims`, 'at least one dimension (the batch)', '[]');
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw invalidType(`${name}.dims`, 'non-negative integers', t.dims.join(','));
  }
  const batch = t.dims[0];
  const rowDims = t.dims.slice(1);
  const rowElems = rowDims.reduce((a, b) => a * b, 1);
  if (isStringTensor(t)) {
    if (t.data.length !== batch * rowElems) {
      throw invalidType(`${name}.data`, `${batch * rowElems} strings for dims [${t.dims.join(', ')}]`, `${t.data.length} elements`);
    }
    for (let i = 0; i < t.data.length; i++) {
      if (typeof t.data[i] !== 'string') throw invalidType(`${name}.data[${i}]`, 'string', t.data[i]);
    }
    return { dtype: 'string', batch, rowDims, rowElems, rowBytes: 0 };
  }
  const rowBytes = rowElems * info!.bytes;
  if (t.data.byteLength !== batch * rowBytes) {
    throw invalidType(`${name}.data`, `${batch * rowBytes} bytes for dims [${t.dims.join(', ')}] of ${t.type}`, `${t.data.byteLength} bytes`);
  }
  return { dtype: t.type, batch, rowDims, rowElems, rowBytes };
}

/** The bytes of a view (no copy). */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * A TypedArray over `bytes` (no copy; `bytes` must start at an offset aligned for the element):
 * of the same class as `like` when given (the caller's data keeps its class), else of `dtype`'s.
 */
export function viewAs(bytes: Uint8Array, dtype: string, like?: ArrayBufferView): ArrayBufferView {
  if (like && Buffer.isBuffer(like)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ctor = (like?.constructor as TypedArrayCtor | undefined) ?? dtypeInfo(dtype)!.ctor;
  return new ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / ctor.BYTES_PER_ELEMENT);
}

/** The constructor of onnxruntime's Tensor: `new Tensor(type, data, dims)`. */
export type TensorCtor = new (type: string, data: ArrayBufferView | readonly string[], dims: readonly number[]) => TensorLike;

/** Builds a tensor of class `ctor` (onnxruntime's Tensor) or a plain `{ type, dims, data }` object. */
export function makeTensor(ctor: TensorCtor | undefined, dtype: string, dims: number[], data: ArrayBufferView | readonly string[]): TensorLike {
  if (ctor) return new ctor(dtype, data, dims);
  return { type: dtype, dims, data } as TensorLike;
}

/** The class of a tensor when it is not a plain object (onnxruntime's Tensor), for building more. */
export function tensorClassOf(t: TensorLike): TensorCtor | undefined {
  const proto = Object.getPrototypeOf(t);
  if (proto === Object.prototype || proto === null) return undefined;
  return proto.constructor as TensorCtor;
}
