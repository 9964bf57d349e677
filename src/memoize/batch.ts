// Batch-aware memoization of one function or method: per-sample keys (key.ts) over the call as
// captured at call time (rows.ts), hits served from the Cache, one call of the function on the
// sub-batch of misses, outputs split per row, stored, and reassembled in the caller's order.
// Concurrent calls compute a sample once. A call resolves once its results are accepted by the cache.
import { castBfloat16ToFloat32, castFloat16ToFloat32, castFloat32ToBfloat16, castFloat32ToFloat16 } from '../cast.js';
import type { Cache, CacheStats } from '../cache.js';
import { invalidType } from '../errors.js';
import { logDebug, warn } from '../log.js';
import { bytesOf, dtypeInfo, isStringTensor, isTensorLike, makeTensor, rowLayout, tensorClassOf, type NumericTensor, type RowLayout, type TensorCtor, type TensorLike } from '../tensor.js';
import { dataOffsets, decodeHeader, encodeHeader, entrySize, type Container, type EntrySchema } from './entry.js';
import { sampleKeys } from './key.js';
import { captureCall, type CapturedCall } from './rows.js';
import { tensorNamespace } from '../store/namespace.js';

/** Storage dtype for float32 outputs. */
export type CacheDtype = 'float16' | 'bfloat16';

/** Counters of one memoized function or instance. */
export interface MemoStats {
  /** Calls of the wrapped function (or method, for this instance) since it was wrapped, cached or not. */
  calls: number;
  /** Samples (rows along batch dim 0) across all calls. */
  samples: number;
  /** Samples served from the cache (or from a concurrent call computing them). */
  hits: number;
  /** Samples computed by calling the function. */
  computed: number;
  /** Calls that could not be split per sample and ran uncached. */
  uncached: number;
  /**
   * Counters of the {@link Cache} the results are stored in. When several functions or instances
   * share one Cache (the `cache` option), they include the others' reads and writes too.
   */
  cache: CacheStats;
}

interface Outputs {
  container: Container;
  ctor: TensorCtor | undefined;
  names: string[];
  tensors: TensorLike[];
}

interface Computed {
  outputs: Outputs;
  layouts: RowLayout[];
  /** Bytes of each output for the whole sub-batch, as returned. */
  bytes: Uint8Array[];
  /** Stored bytes of each output for the whole sub-batch (cast when cacheDtype applies). */
  stored: Uint8Array[];
  schema: EntrySchema;
  header: Buffer;
}

/** A parsed entry header and where each output's bytes start. */
interface ParsedHeader {
  schema: EntrySchema;
  bytes: Buffer;
  entryLength: number;
  offsets: number[];
}

/** Where each sample of a call comes from. */
type Source = { entry: Buffer } | { computed: Computed; row: number };

let ortTensorCtor: Promise<TensorCtor | undefined> | undefined;
/** onnxruntime's Tensor class, loaded lazily (an optional peer). */
function loadOrtTensor(): Promise<TensorCtor | undefined> {
  ortTensorCtor ??= import('onnxruntime-common').then(
    (m) => (m as unknown as { Tensor: TensorCtor }).Tensor,
    () => undefined,
  );
  return ortTensorCtor;
}

/** A deferred promise for single flight. */
interface Flight {
  promise: Promise<Buffer>;
  resolve(b: Buffer): void;
  reject(e: unknown): void;
}

function flight(): Flight {
  let resolve!: (b: Buffer) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<Buffer>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // waiters handle failure; no unhandled rejection when there are none
  return { promise, resolve, reject };
}

export class TensorMemo {
  readonly #inflight = new Map<string, Flight>();
  readonly #counters = { calls: 0, samples: 0, hits: 0, computed: 0, uncached: 0 };
  readonly #rows: ReadonlySet<number | string>;
  /** Where this module's entries live in every tier: `clear()` deletes exactly it. */
  readonly namespace: string;
  #lastHeader: ParsedHeader | undefined;
  #tensorCtor: TensorCtor | undefined;

  constructor(
    readonly cache: Cache,
    readonly moduleHash: string,
    readonly cacheDtype: CacheDtype | undefined,
    rows: readonly (number | string)[] = [],
  ) {
    this.#rows = new Set(rows);
    this.namespace = tensorNamespace(moduleHash);
  }

  stats(): MemoStats {
    return { ...this.#counters, cache: this.cache.stats() };
  }

  /** Calls `fn` with `args` through the cache. */
  async call(fn: (...args: unknown[]) => unknown, thisArg: unknown, args: unknown[]): Promise<unknown> {
    this.#counters.calls++;
    // Captured before anything yields: the caller may refill its buffers as soon as we return.
    const call = captureCall(args, this.#rows);
    try {
      return await this.#run(fn, thisArg, call);
    } finally {
      call.release();
    }
  }

  async #run(fn: (...args: unknown[]) => unknown, thisArg: unknown, call: CapturedCall): Promise<unknown> {
    const batch = call.batch;
    this.#tensorCtor ??= call.tensorCtor;
    if (batch === 0) return fn.apply(thisArg, call.argsFor([]));
    this.#counters.samples += batch;

    const keys = sampleKeys(this.moduleHash, call.shape, call.rowDigests, batch);
    const sources: (Source | undefined)[] = new Array(batch);
    // Before anything yields: rows that may be computed are copied while they are the bytes hashed.
    // Every key in the memory tier now is every key found by the getMany below, in this same turn.
    if (!this.cache.inMemory(keys, { namespace: this.namespace })) call.capture();
    const found = await this.cache.getMany(keys, { borrow: true, namespace: this.namespace });

    // Misses, deduplicated: the first row of each missing key computes it.
    const firstRow = new Map<string, number>();
    for (let i = 0; i < batch; i++) {
      const e = found[i];
      if (e) sources[i] = { entry: e };
      else if (!firstRow.has(keys[i])) firstRow.set(keys[i], i);
    }
    const owned: string[] = [];
    const waiting: string[] = [];
    for (const key of firstRow.keys()) {
      if (this.#inflight.has(key)) waiting.push(key);
      else {
        owned.push(key);
        this.#inflight.set(key, flight());
      }
    }

    const computedBy = new Map<string, Source>();
    // Take the promises now: a flight leaves the map as soon as it lands.
    const waits = waiting.map((key) => ({ key, promise: this.#inflight.get(key)!.promise }));
    if (owned.length > 0) await this.#compute(fn, thisArg, call, owned, firstRow, computedBy);
    for (const w of waits) {
      // If the call computing it failed, compute it here (that failure belongs to its caller),
      // unless another call has taken the key over meanwhile: then wait for that one.
      for (let promise: Promise<Buffer> | undefined = w.promise, attempt = 0; !computedBy.has(w.key); attempt++) {
        if (promise && attempt < 3) {
          try {
            computedBy.set(w.key, { entry: await promise });
          } catch {
            promise = this.#inflight.get(w.key)?.promise;
          }
          continue;
        }
        if (!this.#inflight.has(w.key)) this.#inflight.set(w.key, flight());
        await this.#compute(fn, thisArg, call, [w.key], firstRow, computedBy);
      }
    }
    let computedRows = 0;
    for (let i = 0; i < batch; i++) {
      sources[i] ??= computedBy.get(keys[i]);
      if ('computed' in sources[i]!) computedRows++;
    }
    this.#counters.hits += batch - computedRows;
    const fromCache = found.reduce((n, e) => n + (e ? 1 : 0), 0);
    logDebug(`tensorCache ${this.moduleHash.slice(0, 8)}: ${batch} samples, ${fromCache} cached`);
    const assembled = await this.#assemble(sources as Source[], batch);
    if (assembled !== undefined) return assembled;
    // Samples disagree in shape (e.g. outputs padded per batch): cannot be served per sample.
    this.#counters.uncached++;
    warn('ERR_TENSORCACHE_SHAPE', 'tensorCache: per-sample outputs differ in shape across calls; this call ran uncached');
    return fn.apply(thisArg, call.argsFor(Array.from({ length: batch }, (_, i) => i)));
  }

  async #compute(
    fn: (...args: unknown[]) => unknown,
    thisArg: unknown,
    call: CapturedCall,
    keys: string[],
    firstRow: Map<string, number>,
    into: Map<string, Source>,
  ): Promise<void> {
    const rows = keys.map((k) => firstRow.get(k)!);
    let computed: Computed;
    try {
      const out = await fn.apply(thisArg, call.argsFor(rows));
      computed = this.#prepare(out, rows.length);
    } catch (err) {
      for (const k of keys) {
        this.#inflight.get(k)?.reject(err);
        this.#inflight.delete(k);
      }
      throw err; // nothing from a failed call is cached
    }
    this.#counters.computed += rows.length;
    const size = entrySize(computed.header, computed.schema);
    const offsets = dataOffsets(computed.header, computed.schema);
    const elementSize = commonElementSize(computed.schema);
    const puts = keys.map((key, j) => {
      const entry = Buffer.alloc(size);
      computed.header.copy(entry, 0);
      computed.schema.outputs.forEach((o, k) => {
        entry.set(computed.stored[k].subarray(j * o.storedBytes, (j + 1) * o.storedBytes), offsets[k]);
      });
      into.set(key, { computed, row: j });
      this.#inflight.get(key)?.resolve(entry);
      this.#inflight.delete(key);
      return this.cache.put(key, entry, { kind: 'tensor', elementSize, namespace: this.namespace });
    });
    // Durability: the call resolves once the cache has accepted every result it computed.
    await Promise.all(puts);
  }

  /** Validates a function's output for a sub-batch of `m` and works out what to store. */
  #prepare(out: unknown, m: number): Computed {
    const outputs = normalizeOutputs(out);
    const layouts = outputs.tensors.map((t, k) => {
      const name = outputs.container === 'tensor' ? 'the output' : `output ${JSON.stringify(outputs.names[k])}`;
      if (isStringTensor(t)) throw invalidType(`${name}.type`, 'a numeric tensor type (string outputs cannot be cached)', t.type);
      const l = rowLayout(name, t);
      if (l.batch !== m) throw invalidType(`${name}.dims[0]`, `the batch size of the call (${m})`, l.batch);
      return l;
    });
    const bytes = outputs.tensors.map((t) => bytesOf((t as NumericTensor).data));
    const stored = layouts.map((l, k) => {
      if (this.cacheDtype && l.dtype === 'float32') {
        const src = bytes[k];
        // A view whose offset is not 4-aligned cannot be read as float32 in place: copy it.
        const f32 = src.byteOffset % 4 === 0 ? new Float32Array(src.buffer, src.byteOffset, src.byteLength / 4) : new Float32Array(src.slice().buffer);
        const narrow = this.cacheDtype === 'float16' ? castFloat32ToFloat16(f32) : castFloat32ToBfloat16(f32);
        return new Uint8Array(narrow.buffer, narrow.byteOffset, narrow.byteLength);
      }
      return bytes[k];
    });
    const schema: EntrySchema = {
      container: outputs.container,
      ortClass: outputs.ctor !== undefined,
      outputs: layouts.map((l, k) => {
        const storedDtype = this.cacheDtype && l.dtype === 'float32' ? this.cacheDtype : l.dtype;
        return { name: outputs.names[k], dtype: l.dtype, storedDtype, rowDims: l.rowDims, storedBytes: stored[k].byteLength / m };
      }),
    };
    if (outputs.ctor) this.#tensorCtor ??= outputs.ctor;
    return { outputs, layouts, bytes, stored, schema, header: encodeHeader(schema) };
  }

  /** The schema of an entry, parsed once per distinct header (all samples of a function share one). */
  #schemaOf(entry: Buffer): ParsedHeader {
    const last = this.#lastHeader;
    if (last && entry.length === last.entryLength && entry.compare(last.bytes, 0, last.bytes.length, 0, last.bytes.length) === 0) {
      return last;
    }
    const { schema, headerLength } = decodeHeader(entry);
    const bytes = Buffer.from(entry.subarray(0, headerLength));
    const parsed: ParsedHeader = { schema, bytes, entryLength: entry.length, offsets: dataOffsets(bytes, schema) };
    this.#lastHeader = parsed;
    return parsed;
  }

  /** Builds the outputs in the caller's order; undefined when samples disagree in shape. */
  async #assemble(sources: Source[], batch: number): Promise<unknown> {
    // Every sample must carry the same header (names, dtypes, row shapes) to be reassembled.
    let header: Buffer | undefined;
    let schema: EntrySchema | undefined;
    let offsets: number[] = [];
    let ctorHint: TensorCtor | undefined;
    for (let i = 0; i < batch; i++) {
      const s = sources[i];
      let h: Buffer;
      if ('entry' in s) {
        let p: ParsedHeader;
        try {
          p = this.#schemaOf(s.entry);
        } catch {
          return undefined; // a damaged entry cannot be served; the call runs uncached
        }
        if (header === undefined) {
          header = p.bytes;
          schema = p.schema;
          offsets = p.offsets;
          continue;
        }
        if (s.entry.length < header.length || s.entry.compare(header, 0, header.length, 0, header.length) !== 0) return undefined;
        continue;
      }
      h = s.computed.header;
      ctorHint ??= s.computed.outputs.ctor;
      if (header === undefined) {
        header = h;
        schema = s.computed.schema;
        offsets = dataOffsets(h, schema);
      } else if (!h.equals(header)) {
        return undefined;
      }
    }
    const sch = schema!;
    const ctor = ctorHint ?? (sch.ortClass ? (this.#tensorCtor ?? (await loadOrtTensor())) : undefined);
    const tensors = sch.outputs.map((o, k) => {
      const info = dtypeInfo(o.dtype)!;
      const rowElems = o.rowDims.reduce((a, b) => a * b, 1);
      const rowBytes = rowElems * info.bytes;
      const out = new Uint8Array(batch * rowBytes);
      const narrowed = o.storedDtype !== o.dtype;
      // Rows stored narrow are gathered here and widened in one native call.
      const staging = narrowed ? new Uint8Array(batch * o.storedBytes) : undefined;
      const stagedRows: number[] = [];
      const off = offsets[k];
      for (let i = 0; i < batch; i++) {
        const s = sources[i];
        if ('computed' in s) {
          out.set(s.computed.bytes[k].subarray(s.row * rowBytes, (s.row + 1) * rowBytes), i * rowBytes);
        } else if (staging) {
          staging.set(s.entry.subarray(off, off + o.storedBytes), i * o.storedBytes);
          stagedRows.push(i);
        } else {
          out.set(s.entry.subarray(off, off + rowBytes), i * rowBytes);
        }
      }
      if (staging && stagedRows.length > 0) {
        const u16 = new Uint16Array(staging.buffer, 0, staging.byteLength / 2);
        const wide = o.storedDtype === 'float16' ? castFloat16ToFloat32(u16) : castBfloat16ToFloat32(u16);
        const wideBytes = new Uint8Array(wide.buffer, wide.byteOffset, wide.byteLength);
        if (stagedRows.length === batch) out.set(wideBytes);
        else for (const i of stagedRows) out.set(wideBytes.subarray(i * rowBytes, (i + 1) * rowBytes), i * rowBytes);
      }
      return makeTensor(ctor, o.dtype, [batch, ...o.rowDims], new info.ctor(out.buffer, 0, batch * rowElems));
    });
    if (sch.container === 'tensor') return tensors[0];
    if (sch.container === 'array') return tensors;
    const record: Record<string, TensorLike> = {};
    sch.outputs.forEach((o, k) => {
      record[o.name] = tensors[k];
    });
    return record;
  }
}

/** The element size all outputs share (for the byte-shuffle filter), or 1 when they differ. */
function commonElementSize(schema: EntrySchema): number {
  const sizes = new Set(schema.outputs.map((o) => dtypeInfo(o.storedDtype)!.bytes));
  return sizes.size === 1 ? [...sizes][0] : 1;
}

/** A function's result as a container of named tensors. */
function normalizeOutputs(out: unknown): Outputs {
  if (isTensorLike(out)) return { container: 'tensor', ctor: tensorClassOf(out), names: [''], tensors: [out] };
  if (Array.isArray(out)) {
    if (out.length === 0 || !out.every(isTensorLike)) {
      throw invalidType('the function result', 'a tensor, an array of tensors or a record of tensors', out);
    }
    return { container: 'array', ctor: tensorClassOf(out[0]), names: out.map((_, i) => String(i)), tensors: out };
  }
  if (out !== null && typeof out === 'object') {
    const entries = Object.entries(out);
    if (entries.length > 0 && entries.every(([, v]) => isTensorLike(v))) {
      const tensors = entries.map(([, v]) => v as TensorLike);
      return { container: 'record', ctor: tensorClassOf(tensors[0]), names: entries.map(([k]) => k), tensors };
    }
  }
  throw invalidType('the function result', 'a tensor, an array of tensors or a record of tensors', out);
}
