// The canonical encoding that every key is made of, and the one walker that produces it.
//
// THE KEY RULE (DESIGN.md, "Keys"): whatever can change a result is in its key, or the call is
// refused with a TypeError that says how to declare it; the bytes a key is made of are the bytes
// the computation receives. This module decides how a value becomes key bytes: tagged, length-
// prefixed, object keys sorted, tensors by dtype + shape + bytes, NaN/-0/Infinity distinct, and
// XXH3-128 over (format version, namespace, parts). A value without a faithful encoding (a
// function, a symbol, a class instance, a cycle) is refused, naming its path, unless the caller
// describes it explicitly (pipeline configs: local-only {@link Opaque} descriptions). The same walk
// also yields a private copy of the value and a readable JSON form (keycopy.ts), so the three can
// never disagree about what a value is.
import { hash } from './hash.js';
import { invalidType, outOfRange } from './errors.js';
import { bytesOf, dtypeOf, isStringTensor, isTensorLike, type TensorLike } from './tensor.js';

/** Bumped whenever the encoding changes, so new code can never read old bytes wrongly. */
export const KEY_FORMAT_VERSION = 2;

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
  Tensor = 0x0a, // a bare TypedArray, ArrayBuffer or DataView: dtype + [length] + bytes
  // 0x0b was a function's source text (format 1): functions are refused since format 2.
  BytesDigest = 0x0c,
  Opaque = 0x0d,
  Date = 0x0e,
  TensorObject = 0x0f, // a { type, dims, data } tensor (numeric or string)
}

/** Byte arrays at or above this size are folded in by their digest instead of copied. */
const DIGEST_THRESHOLD = 4096;

/** Arrays and objects nested deeper than this are refused (a RangeError), long before the stack would overflow. */
export const MAX_KEY_DEPTH = 1000;

/**
 * A stand-in for a value that has no portable encoding, chosen by a caller that keeps such values
 * (pipeline configs): keyed by `kind` + `identity` (+ `fields`), shown as `label`. Its own tag keeps
 * it apart from any plain value.
 */
export class Opaque {
  constructor(
    readonly kind: string,
    readonly identity: string,
    readonly label: string,
    readonly fields?: Record<string, unknown>,
  ) {}
}

/** What has no canonical encoding: reported to {@link WalkOptions.describe}. */
export type Unportable =
  | { kind: 'function'; value: Function }
  | { kind: 'symbol'; value: symbol }
  | { kind: 'instance'; value: object; className: string }
  | { kind: 'circular'; value: object };

export interface WalkOptions {
  /** How the path of the walked value starts in messages (default `args`). */
  rootName?: string;
  /** Leave out object members whose value is `undefined` (`{ a: 1, b: undefined }` is `{ a: 1 }`). */
  dropUndefined?: boolean;
  /**
   * Gives a stand-in for a value without a canonical encoding (an {@link Opaque}, or any encodable
   * value); without it such a value is a TypeError naming its path.
   */
  describe?: (u: Unportable, path: string) => unknown;
  /** Appended to the TypeError for an unportable value: how to declare it instead. */
  hint?: string;
}

/** What the walker reports, value by value, in encoding order. */
export interface Sink {
  scalar(v: undefined | null | boolean | number | bigint | string): void;
  date(d: Date): void;
  /** A TypedArray, ArrayBuffer or DataView (`original`), or a tensor when `tensor` is given. */
  bytes(dtype: string, dims: readonly number[], view: ArrayBufferView, original: object, tensor?: TensorLike): void;
  strings(dims: readonly number[], data: readonly string[], tensor: TensorLike): void;
  beginArray(n: number): void;
  beginObject(n: number): void;
  key(k: string): void;
  /** Followed by its fields (an object) when it has them. */
  opaque(o: Opaque): void;
  end(): void;
}

export class Writer implements Sink {
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
  raw(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.len);
    this.len += b.byteLength;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  scalar(v: undefined | null | boolean | number | bigint | string): void {
    if (v === undefined) this.u8(Tag.Undefined);
    else if (v === null) this.u8(Tag.Null);
    else if (typeof v === 'boolean') this.u8(v ? Tag.True : Tag.False);
    else if (typeof v === 'number') {
      if (Number.isNaN(v)) this.u8(Tag.NaN);
      else {
        this.u8(Tag.Number);
        this.f64(v); // -0 and 0 differ in their bits, as do ±Infinity
      }
    } else if (typeof v === 'bigint') {
      this.u8(Tag.BigInt);
      this.str(v.toString(16));
    } else {
      this.u8(Tag.String);
      this.str(v);
    }
  }
  date(d: Date): void {
    this.u8(Tag.Date);
    this.f64(d.getTime());
  }
  #head(tag: Tag, dtype: string, dims: readonly number[]): void {
    this.u8(tag);
    this.str(dtype);
    this.u32(dims.length);
    for (const d of dims) this.f64(d);
  }
  bytes(dtype: string, dims: readonly number[], view: ArrayBufferView, _original: object, tensor?: TensorLike): void {
    this.#head(tensor ? Tag.TensorObject : Tag.Tensor, dtype, dims);
    const b = bytesOf(view);
    if (b.byteLength >= DIGEST_THRESHOLD) {
      this.u8(Tag.BytesDigest);
      this.f64(b.byteLength);
      this.str(hash(b));
    } else {
      this.raw(b);
    }
  }
  strings(dims: readonly number[], data: readonly string[]): void {
    this.#head(Tag.TensorObject, 'string', dims);
    this.u32(data.length);
    for (const s of data) this.str(s);
  }
  beginArray(n: number): void {
    this.u8(Tag.Array);
    this.u32(n);
  }
  beginObject(n: number): void {
    this.u8(Tag.Object);
    this.u32(n);
  }
  key(k: string): void {
    this.str(k);
  }
  opaque(o: Opaque): void {
    this.u8(Tag.Opaque);
    this.str(o.kind);
    this.str(o.identity);
    this.u8(o.fields ? 1 : 0);
  }
  end(): void {}
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

const WHAT = 'a number, string, boolean, bigint, null, undefined, Date, array, plain object, typed array or tensor';

/** The TypeError for a value without a canonical encoding at `path`, ending with `hint` (how to declare it). */
export function unportableError(u: Unportable, path: string, hint?: string): TypeError {
  const tail = hint ? `; ${hint}` : '';
  switch (u.kind) {
    case 'function':
      return invalidType(path, `${WHAT} (a function cannot be keyed: its captured state cannot be hashed)${tail}`, u.value);
    case 'symbol':
      return invalidType(path, `${WHAT} (symbols have no canonical encoding)${tail}`, u.value);
    case 'circular':
      return invalidType(path, `a value without circular references${tail}`, 'a circular reference');
    case 'instance':
      return invalidType(path, `${WHAT}${tail}`, u.value);
  }
}

export class Walker {
  readonly #seen = new Set<object>();
  #depth = 0;
  constructor(
    private readonly sink: Sink,
    private readonly options: WalkOptions,
  ) {}

  #unportable(u: Unportable, path: string, holder?: object): void {
    if (!this.options.describe) throw unportableError(u, path, this.options.hint);
    const stand = this.options.describe(u, path);
    if (holder) this.#seen.add(holder); // fields of an instance may point back at it
    try {
      this.walk(stand, path, true);
    } finally {
      if (holder) this.#seen.delete(holder);
    }
  }

  walk(v: unknown, path: string, described = false): void {
    const s = this.sink;
    switch (typeof v) {
      case 'undefined':
      case 'boolean':
      case 'number':
      case 'bigint':
      case 'string':
        return s.scalar(v);
      case 'function':
        return this.#unportable({ kind: 'function', value: v }, path);
      case 'symbol':
        return this.#unportable({ kind: 'symbol', value: v }, path);
    }
    if (v === null) return s.scalar(null);
    const obj = v as object;
    if (obj instanceof Opaque && described) {
      s.opaque(obj);
      if (obj.fields) this.#members(obj.fields, path);
      return;
    }
    if (this.#seen.has(obj)) return this.#unportable({ kind: 'circular', value: obj }, path);
    if (this.#depth >= MAX_KEY_DEPTH) {
      const where = path.length > 60 ? `${path.slice(0, 60)}… (${this.#depth} levels down)` : path;
      throw outOfRange(where, `a value nested at most ${MAX_KEY_DEPTH} levels deep`, obj);
    }
    const dtype = dtypeOf(obj);
    if (dtype) return s.bytes(dtype, [(obj as unknown as { length: number }).length], obj as ArrayBufferView, obj);
    if (obj instanceof ArrayBuffer) return s.bytes('arraybuffer', [obj.byteLength], new Uint8Array(obj), obj);
    if (obj instanceof DataView) return s.bytes('dataview', [obj.byteLength], obj, obj);
    if (obj instanceof Date) return s.date(obj);
    if (isTensorLike(obj)) {
      if (isStringTensor(obj)) return s.strings(obj.dims, obj.data, obj);
      return s.bytes(obj.type, obj.dims, obj.data, obj, obj);
    }
    if (Array.isArray(obj)) {
      this.#seen.add(obj);
      this.#depth++;
      try {
        s.beginArray(obj.length);
        for (let i = 0; i < obj.length; i++) this.walk(obj[i], pathOf(path, i));
        s.end();
      } finally {
        this.#seen.delete(obj);
        this.#depth--;
      }
      return;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const ctor = (proto as { constructor?: unknown }).constructor;
      const className = typeof ctor === 'function' ? ctor.name || 'anonymous class' : 'object';
      return this.#unportable({ kind: 'instance', value: obj, className }, path, obj);
    }
    this.#seen.add(obj);
    this.#depth++;
    try {
      this.#members(obj as Record<string, unknown>, path);
    } finally {
      this.#seen.delete(obj);
      this.#depth--;
    }
  }

  #members(obj: Record<string, unknown>, path: string): void {
    const s = this.sink;
    let keys = Object.keys(obj).sort();
    // Read each member once: a getter answering differently twice cannot split key and copy.
    let values = keys.map((k) => obj[k]);
    if (this.options.dropUndefined) {
      const keep = values.map((v) => v !== undefined);
      keys = keys.filter((_, i) => keep[i]);
      values = values.filter((_, i) => keep[i]);
    }
    s.beginObject(keys.length);
    for (let i = 0; i < keys.length; i++) {
      s.key(keys[i]);
      this.walk(values[i], pathOf(path, keys[i]));
    }
    s.end();
  }
}

/**
 * Canonical bytes of `parts` under `namespace`. Throws a TypeError naming the path of the first
 * value that has no canonical encoding (for example `args[1].options.callback` for a class
 * instance), unless `options.describe` gives a stand-in.
 */
export function encodeKey(namespace: string, parts: readonly unknown[], options: WalkOptions | string = {}): Buffer {
  if (typeof namespace !== 'string') throw invalidType('namespace', 'string', namespace);
  const opts = typeof options === 'string' ? { rootName: options } : options;
  const w = new Writer();
  w.str(`modelcache-key-v${KEY_FORMAT_VERSION}`);
  w.str(namespace);
  w.u32(parts.length);
  const walker = new Walker(w, opts);
  const root = opts.rootName ?? 'args';
  for (let i = 0; i < parts.length; i++) walker.walk(parts[i], `${root}[${i}]`);
  return w.result();
}

/** The canonical bytes of one value, without namespace or version (for digests folded into keys). */
export function encodeValue(value: unknown, path: string, options: WalkOptions = {}): Buffer {
  const w = new Writer();
  new Walker(w, options).walk(value, path);
  return w.result();
}

/**
 * A cache key: XXH3-128 (32 hex chars) of the canonical encoding of `parts` under `namespace`,
 * with the key format version folded in. A function, symbol, class instance or cycle anywhere in
 * `parts` is a TypeError naming its path (`args[1].options.callback`).
 *
 * @example
 * cacheKey('embeddings', 'model-v3', { maxLength: 128 }, new Int32Array([101, 2023, 102]))
 */
export function cacheKey(namespace: string, ...parts: unknown[]): string {
  return hash(encodeKey(namespace, parts));
}

const codeDigests = new WeakMap<object, string>();

/**
 * The code an instance runs, as a digest: the source of the class of every prototype on its
 * chain (its runtime class, each class between it and a decorated one, and their bases) and of
 * every method found on those prototypes (methods patched in after the class was defined
 * included). Computed once per prototype.
 */
export function codeDigest(proto: object | null): string {
  if (proto === null || proto === Object.prototype) return '';
  let d = codeDigests.get(proto);
  if (d !== undefined) return d;
  const parts: string[] = [codeDigest(Object.getPrototypeOf(proto))];
  const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  parts.push(typeof ctor === 'function' ? Function.prototype.toString.call(ctor) : '');
  for (const name of Object.getOwnPropertyNames(proto).sort()) {
    if (name === 'constructor') continue;
    const desc = Object.getOwnPropertyDescriptor(proto, name)!;
    for (const fn of [desc.value, desc.get, desc.set]) {
      if (typeof fn === 'function') parts.push(`${name}:${Function.prototype.toString.call(fn)}`);
    }
  }
  d = hash(encodeKey('modelcache-code', parts));
  codeDigests.set(proto, d);
  return d;
}
