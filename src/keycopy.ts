// What else one canonical walk (keys.ts) yields besides key bytes: a private deep copy of the
// value (what tensorCache hands the function, so it receives exactly what was keyed) and a
// readable JSON form (pipeline run records). Both come from the same walk as the bytes.
import { hash } from './hash.js';
import { Walker, Writer, type Opaque, type Sink, type WalkOptions } from './keys.js';
import { bytesOf, makeTensor, tensorClassOf, viewAs, type TensorLike } from './tensor.js';

/**
 * Builds a value from the walk: a private deep copy (`copy`: what the function receives) or a
 * readable JSON form (`json`: NaN, -0, Infinity and bigint as strings, bytes by size and digest).
 */
class Builder implements Sink {
  result: unknown;
  readonly #stack: { into: unknown[] | Record<string, unknown>; key?: string }[] = [];
  /** The label of an opaque value whose fields come next: shown as `{ label: fields }`. */
  #label: string | undefined;

  constructor(private readonly mode: 'copy' | 'json') {}

  #put(v: unknown): void {
    const top = this.#stack[this.#stack.length - 1];
    if (!top) this.result = v;
    else if (Array.isArray(top.into)) top.into.push(v);
    else top.into[top.key!] = v;
  }
  scalar(v: undefined | null | boolean | number | bigint | string): void {
    if (this.mode === 'copy') return this.#put(v);
    if (typeof v === 'number') return this.#put(Number.isFinite(v) && !Object.is(v, -0) ? v : Object.is(v, -0) ? '-0' : String(v));
    if (typeof v === 'bigint') return this.#put(`${v}n`);
    this.#put(v === undefined ? null : v);
  }
  date(d: Date): void {
    this.#put(this.mode === 'copy' ? new Date(d.getTime()) : Number.isNaN(d.getTime()) ? 'Invalid Date' : d.toISOString());
  }
  bytes(dtype: string, dims: readonly number[], view: ArrayBufferView, original: object, tensor?: TensorLike): void {
    const b = bytesOf(view);
    if (this.mode === 'json') {
      const what = tensor ? `tensor ${dtype} [${dims.join(', ')}]` : `${(original as object).constructor?.name ?? 'bytes'}`;
      return this.#put(`<${what} ${b.byteLength} bytes ${hash(b).slice(0, 16)}>`);
    }
    const copy = new Uint8Array(b); // a fresh, aligned buffer
    if (tensor) return this.#put(makeTensor(tensorClassOf(tensor), dtype, [...dims], viewAs(copy, dtype, view)));
    if (original instanceof ArrayBuffer) return this.#put(copy.buffer);
    if (original instanceof DataView) return this.#put(new DataView(copy.buffer));
    this.#put(viewAs(copy, dtype, view));
  }
  strings(dims: readonly number[], data: readonly string[], tensor: TensorLike): void {
    if (this.mode === 'json') return this.#put(`<tensor string [${dims.join(', ')}] ${hash(data.join('\u0000')).slice(0, 16)}>`);
    this.#put(makeTensor(tensorClassOf(tensor), 'string', [...dims], [...data]));
  }
  beginArray(): void {
    const a: unknown[] = [];
    this.#put(a);
    this.#stack.push({ into: a });
  }
  beginObject(): void {
    const o: Record<string, unknown> = {};
    if (this.#label === undefined) this.#put(o);
    else this.#put({ [this.#label]: o });
    this.#label = undefined;
    this.#stack.push({ into: o });
  }
  key(k: string): void {
    this.#stack[this.#stack.length - 1].key = k;
  }
  opaque(o: Opaque): void {
    if (this.mode === 'copy') throw new TypeError('internal: an opaque value cannot be copied');
    if (o.fields) this.#label = o.label;
    else this.#put(o.label);
  }
  end(): void {
    this.#stack.pop();
  }
}

/** Sends every event to several sinks: one walk, several products. */
class Tee implements Sink {
  constructor(private readonly sinks: Sink[]) {}
  scalar(v: undefined | null | boolean | number | bigint | string): void { for (const s of this.sinks) s.scalar(v); }
  date(d: Date): void { for (const s of this.sinks) s.date(d); }
  bytes(dtype: string, dims: readonly number[], view: ArrayBufferView, original: object, tensor?: TensorLike): void { for (const s of this.sinks) s.bytes(dtype, dims, view, original, tensor); }
  strings(dims: readonly number[], data: readonly string[], tensor: TensorLike): void { for (const s of this.sinks) s.strings(dims, data, tensor); }
  beginArray(n: number): void { for (const s of this.sinks) s.beginArray(n); }
  beginObject(n: number): void { for (const s of this.sinks) s.beginObject(n); }
  key(k: string): void { for (const s of this.sinks) s.key(k); }
  opaque(o: Opaque): void { for (const s of this.sinks) s.opaque(o); }
  end(): void { for (const s of this.sinks) s.end(); }
}

/**
 * A private deep copy of `value` and its canonical bytes, from one walk: the copy is exactly what
 * the bytes describe, whatever the caller does to the original afterwards.
 */
export function captureValue(value: unknown, path: string, options: Omit<WalkOptions, 'describe' | 'dropUndefined'> = {}): { copy: unknown; bytes: Buffer } {
  const w = new Writer();
  const b = new Builder('copy');
  new Walker(new Tee([w, b]), options).walk(value, path);
  return { copy: b.result, bytes: w.result() };
}

/** Canonical bytes and a readable JSON form of `value`, from one walk (pipeline configs, records). */
export function describeValue(value: unknown, path: string, options: WalkOptions = {}): { bytes: Buffer; json: unknown } {
  const w = new Writer();
  const b = new Builder('json');
  new Walker(new Tee([w, b]), options).walk(value, path);
  return { bytes: w.result(), json: b.result === undefined ? null : b.result };
}
