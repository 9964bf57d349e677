// Canonical encoding of keys: a value is turned into tagged, length-prefixed bytes (object keys
// sorted, typed arrays by dtype + shape + bytes, NaN/-0/Infinity kept distinct) and hashed with
// XXH3-128 together with the namespace and the key format version.
import { hash } from './hash.js';
import { invalidType } from './errors.js';

/** Bumped whenever the encoding changes, so new code can never read old bytes wrongly. */
export const KEY_FORMAT_VERSION = 1;

const enum Tag {
  Null = 0x00,
  Undefined = 0x01,
  False = 0x02,
  True = 0x03,
  Number = 0x04,
  NaN = 0x05,
  BigInt = 0x06,
  String = 0x07,
  Array = 0x08,
  Object = 0x09,
  Tensor = 0x0a,
  Function = 0x0b,
  BytesDigest = 0x0c,
}

/** Typed arrays at or above this size are folded in by their digest instead of copied. */
const DIGEST_THRESHOLD = 4096;

const DTYPES = new Map<unknown, string>([
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int8Array, 'int8'],
  [Uint8Array, 'uint8'],
  [Uint8ClampedArray, 'uint8c'],
  [Int16Array, 'int16'],
  [Uint16Array, 'uint16'],
  [Int32Array, 'int32'],
  [Uint32Array, 'uint32'],
  [BigInt64Array, 'int64'],
  [BigUint64Array, 'uint64'],
]);

/** The dtype name of a TypedArray ('float32', 'int64', ...), or undefined for other values. */
export function dtypeOf(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return undefined;
  if (Buffer.isBuffer(value)) return 'uint8';
  let proto = Object.getPrototypeOf(value);
  while (proto && proto !== Object.prototype) {
    const name = DTYPES.get(proto.constructor);
    if (name) return name;
    proto = Object.getPrototypeOf(proto);
  }
  return undefined;
}

/** A tensor as onnxruntime's `Tensor` or any `{ type, dims, data }` object with a TypedArray. */
export interface TensorLike {
  type: string;
  dims: readonly number[];
  data: ArrayBufferView;
}

export function isTensorLike(v: unknown): v is TensorLike {
  if (v === null || typeof v !== 'object') return false;
  const t = v as Partial<TensorLike>;
  return typeof t.type === 'string' && Array.isArray(t.dims) && ArrayBuffer.isView(t.data) && !(t.data instanceof DataView);
}

class Writer {
  private buf = Buffer.allocUnsafe(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }
  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.u32(n);
    this.ensure(n);
    this.len += this.buf.write(s, this.len, 'utf8');
  }
  bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.len);
    this.len += b.byteLength;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** Result of {@link encodeKey}: the canonical bytes and whether they include function source. */
export interface EncodedKey {
  bytes: Buffer;
  /** True when a function was hashed by its source text: such keys are not shared across machines. */
  localOnly: boolean;
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function writeTensor(w: Writer, dtype: string, dims: readonly number[], view: ArrayBufferView): void {
  w.u8(Tag.Tensor);
  w.str(dtype);
  w.u32(dims.length);
  for (const d of dims) w.f64(d);
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  if (bytes.byteLength >= DIGEST_THRESHOLD) {
    w.u8(Tag.BytesDigest);
    w.f64(bytes.byteLength);
    w.str(hash(bytes));
  } else {
    w.bytes(bytes);
  }
}

function encodeValue(w: Writer, v: unknown, path: string, seen: Set<object>, state: { localOnly: boolean }): void {
  switch (typeof v) {
    case 'undefined':
      w.u8(Tag.Undefined);
      return;
    case 'boolean':
      w.u8(v ? Tag.True : Tag.False);
      return;
    case 'number':
      if (Number.isNaN(v)) w.u8(Tag.NaN);
      else {
        w.u8(Tag.Number);
        w.f64(v); // -0 and 0 differ in their bits, as do ±Infinity
      }
      return;
    case 'bigint':
      w.u8(Tag.BigInt);
      w.str(v.toString(16));
      return;
    case 'string':
      w.u8(Tag.String);
      w.str(v);
      return;
    case 'function':
      w.u8(Tag.Function);
      w.str(Function.prototype.toString.call(v));
      state.localOnly = true;
      return;
    case 'symbol':
      throw invalidType(path, 'a value with a canonical encoding (symbols have none)', v);
  }
  if (v === null) {
    w.u8(Tag.Null);
    return;
  }
  const obj = v as object;
  if (seen.has(obj)) throw invalidType(path, 'a value without circular references', 'a circular reference');
  const dtype = dtypeOf(obj);
  if (dtype) {
    writeTensor(w, dtype, [(obj as ArrayBufferView & { length: number }).length], obj as ArrayBufferView);
    return;
  }
  if (obj instanceof DataView || obj instanceof ArrayBuffer) {
    const view = obj instanceof DataView ? obj : new Uint8Array(obj);
    writeTensor(w, 'uint8', [view.byteLength], view);
    return;
  }
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      w.u8(Tag.Array);
      w.u32(obj.length);
      for (let i = 0; i < obj.length; i++) encodeValue(w, obj[i], pathOf(path, i), seen, state);
      return;
    }
    if (isTensorLike(obj)) {
      const t = obj as TensorLike;
      writeTensor(w, t.type, t.dims, t.data);
      return;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw invalidType(path, 'a number, string, boolean, bigint, null, undefined, array, plain object or typed array', v);
    }
    const keys = Object.keys(obj).sort();
    w.u8(Tag.Object);
    w.u32(keys.length);
    for (const k of keys) {
      w.str(k);
      encodeValue(w, (obj as Record<string, unknown>)[k], pathOf(path, k), seen, state);
    }
  } finally {
    seen.delete(obj);
  }
}

/**
 * Canonical bytes of `parts` under `namespace`. Throws a TypeError naming the path of the first
 * value that has no canonical encoding (for example `args[1].options.callback` for a class instance).
 * `rootName` is how the parts are called in that path (default `args`).
 */
export function encodeKey(namespace: string, parts: readonly unknown[], rootName = 'args'): EncodedKey {
  if (typeof namespace !== 'string') throw invalidType('namespace', 'string', namespace);
  const w = new Writer();
  w.str(`modelcache-key-v${KEY_FORMAT_VERSION}`);
  w.str(namespace);
  w.u32(parts.length);
  const state = { localOnly: false };
  const seen = new Set<object>();
  for (let i = 0; i < parts.length; i++) encodeValue(w, parts[i], `${rootName}[${i}]`, seen, state);
  return { bytes: w.result(), localOnly: state.localOnly };
}

/**
 * A cache key: XXH3-128 (32 hex chars) of the canonical encoding of `parts` under `namespace`,
 * with the key format version folded in.
 *
 * @example
 * cacheKey('embeddings', 'model-v3', { maxLength: 128 }, new Int32Array([101, 2023, 102]))
 */
export function cacheKey(namespace: string, ...parts: unknown[]): string {
  return hash(encodeKey(namespace, parts).bytes);
}

/** Like {@link cacheKey}, also telling whether the key depends on function source (local only). */
export function cacheKeyInfo(namespace: string, ...parts: unknown[]): { key: string; localOnly: boolean } {
  const { bytes, localOnly } = encodeKey(namespace, parts);
  return { key: hash(bytes), localOnly };
}
