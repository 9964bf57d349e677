// The tiered cache: reads memory -> disk (-> shared), promotes hits upward, writes through to the
// local tiers and uploads to the shared one in the background. Values go in and come out raw; the
// codec (frame + optional encryption) is applied once, for the tiers that hold encoded bytes. A
// tier that fails degrades to a miss. Tiers are used through their declared capabilities only.
import { type BytesLike, toBytes } from './bytes.js';
import { type Cipher } from './cipher.js';
import { type Codec } from './codec.js';
import { ValueCodec, type CompressionOptions } from './cache/codec.js';
import { EncodedWrites } from './cache/write.js';
import { TierReads } from './cache/read.js';
import type { CacheGetManyOptions, CachePutOptions, CacheReadOptions, CacheStats, ComputeOptions } from './cache/types.js';
import { FileEntries, type CacheFileEntry, type ComputeFiles, type GetFilesOptions } from './cache/files.js';
import { buildTiers, type CacheOptions } from './cache/options.js';
import { withKeyLock, type LockingOptions } from './cache/lock.js';
import { countNamespace, deleteNamespace, listNamespace } from './cache/namespaces.js';
import { DEFAULT_LOCK_WAIT_MS } from './defaults.js';
import { CacheError, checkInteger, invalidType } from './errors.js';
import { debugEnabled, logDebug, warn } from './log.js';
import { checkKey, checkNamespace } from './store/namespace.js';
import {
  checkFilesOptions, checkKeys, checkLocking, COMPUTE_OPTIONS, elementSizeOf, FILES_OPTIONS, GET_FILES_OPTIONS, GET_MANY_OPTIONS, namespaceOf, PUT_FILES_OPTIONS, PUT_OPTIONS, putMeta, READ_OPTIONS,
} from './cache/args.js';
import { isDiskTier, type DiskTier } from './store/disk/tier.js';
import type { EntryInfo, FileSource, NamespaceStats, PutMeta, Tier, TierStats } from './store/tier.js';

export type { CompressionOptions, CacheOptions, CacheFileEntry, ComputeFiles, GetFilesOptions };
export type { CacheGetManyOptions, CachePutOptions, CacheReadOptions, CacheStats, ComputeOptions } from './cache/types.js';

/**
 * A tiered byte cache, with file entries and namespaces.
 *
 * @example
 * const cache = new Cache({ dir: '.cache/models', maxDiskBytes: 5e9, compression: { codec: 'zstd', level: 1 } });
 * await cache.put(key, bytes, { namespace: 'embeddings', elementSize: 4 });
 * const back = await cache.get(key, { namespace: 'embeddings' }); // Buffer | undefined
 */
export class Cache {
  /**
   * The tiers this cache reads, fastest first: the memory tier, the disk tier, then the shared
   * tier (or `options.tiers` followed by `options.shared`). Use them for tier-specific calls such
   * as `DiskTier.verify`; storing through a tier directly bypasses the cache's codec and encryption.
   */
  readonly tiers: readonly Tier[];
  readonly #codec: ValueCodec;
  readonly #writes: EncodedWrites;
  readonly #reads: TierReads;
  /** The local tier holding file entries, locks and persistent counters (a disk tier). */
  readonly #local: Tier | undefined;
  readonly #files: FileEntries;
  readonly #lockWaitMs: number;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #inflight = new Map<string, Promise<Buffer>>();
  readonly #stats = { hits: 0, misses: 0, puts: 0, corrupt: 0, errors: 0 };
  #closed = false;

  constructor(options: CacheOptions = {}) {
    const built = buildTiers(options);
    this.tiers = built.tiers;
    this.#codec = new ValueCodec(options.compression, options.encryption, built.maxValueBytes);
    this.#writes = new EncodedWrites(this.#codec, (p) => this.#track(p), (tier, err) => this.#tierFailed(tier, 'put', err));
    this.#reads = new TierReads({
      tiers: this.tiers, codec: this.#codec, writes: this.#writes, track: (p) => this.#track(p),
      tierFailed: (tier, op, err) => this.#tierFailed(tier, op, err), corrupt: () => this.#stats.corrupt++,
    });
    this.#lockWaitMs = options.lockWaitMs === undefined ? DEFAULT_LOCK_WAIT_MS : checkInteger('options.lockWaitMs', options.lockWaitMs, 0, Number.MAX_SAFE_INTEGER);
    this.#local = this.tiers.find((t) => !t.shared && typeof t.putFiles === 'function');
    this.#files = new FileEntries({
      tiers: this.tiers, local: this.#local, cipher: this.#codec.cipher, track: (p) => this.#track(p),
      counted: (ns, key, hit) => {
        this.#counted(ns, hit ? 1 : 0, hit ? 0 : 1);
        if (debugEnabled()) logDebug(`cache ${ns}: file entry ${hit ? 'hit' : 'miss'} (${key})`);
      },
    });
  }

  /** Whether values and file entries are encrypted in the encoded tiers (file entries then hold ciphertext: read them with `read()`). */
  get encrypted(): boolean {
    return this.#codec.cipher !== undefined;
  }

  /** The disk tier, if this cache has one (for callers that need its own API, such as `modelcache/ort`). */
  get disk(): DiskTier | undefined {
    return this.tiers.find(isDiskTier);
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheError('ERR_CLOSED', 'cache is closed');
  }

  #tierFailed(tier: Tier, op: string, err: unknown): void {
    this.#stats.errors++;
    warn('ERR_TIER', `${tier.name} tier ${op} failed (${(err as Error)?.message ?? err}); treated as a miss`);
  }

  #track(p: Promise<unknown>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Counts a read's hits and misses here and in the persistent per-namespace counters. */
  #counted(ns: string, hits: number, misses: number): void {
    this.#stats.hits += hits;
    this.#stats.misses += misses;
    this.#local?.countAccess?.(ns, hits, misses);
  }

  /**
   * Whether every key is in the memory tier at this moment (checked synchronously; recency and
   * counters untouched). A {@link getMany} started right after, in the same turn, finds them all
   * there without reading another tier: a caller can skip, in that case, work only a miss needs.
   */
  inMemory(keys: readonly string[], options: CacheReadOptions = {}): boolean {
    const first = this.tiers[0];
    if (this.#closed || first?.hasAll === undefined || first.encoded || first.shared) return false;
    return first.hasAll(keys, namespaceOf(options, 'inMemory', READ_OPTIONS));
  }

  /** Reads `key` from the fastest tier that has it, promoting it to the faster ones. */
  async get(key: string, options: CacheReadOptions = {}): Promise<Buffer | undefined> {
    checkKey(key);
    return (await this.getMany([key], options))[0];
  }

  /**
   * Reads several keys; misses are undefined. Tier by tier: each tier is asked only for what the
   * faster ones missed, and a synchronous tier (memory, inline disk values) answers without a
   * promise per key. `borrow: true` may hand out a tier's own buffers (see {@link CacheGetManyOptions}).
   */
  async getMany(keys: readonly string[], options: CacheGetManyOptions = {}): Promise<(Buffer | undefined)[]> {
    this.#assertOpen();
    checkKeys(keys);
    const ns = namespaceOf(options, 'getMany', GET_MANY_OPTIONS);
    const { out, missed } = await this.#reads.read(keys, ns, Boolean(options.borrow), options.shared === false);
    this.#counted(ns, keys.length - missed, missed);
    if (debugEnabled()) logDebug(`cache ${ns}: ${keys.length - missed} hit, ${missed} miss${keys.length === 1 ? ` (${keys[0]})` : ''}`);
    return out;
  }

  /**
   * Stores `value` under `key`: in the memory tier at once, in the disk tier's write queue (which
   * reaches the disk before the process exits, `process.exit()` included) by the time the promise
   * resolves, and in a shared tier in the background (`flush()` waits). Never rejects because a
   * tier failed (that is counted and warned about).
   */
  async put(key: string, value: BytesLike, options: CachePutOptions = {}): Promise<void> {
    this.#assertOpen();
    checkKey(key);
    const ns = namespaceOf(options, 'put', PUT_OPTIONS);
    const raw = toBytes('value', value);
    const elementSize = elementSizeOf(options, this.#codec.elementSize);
    const meta = putMeta(options, ns);
    this.#stats.puts++;
    const work: Promise<unknown>[] = [];
    for (const tier of this.tiers) {
      if (tier.shared && options.shared === false) continue;
      try {
        if (!tier.encoded) {
          const r = tier.put(key, raw, meta);
          if (r instanceof Promise) work.push(r.catch((err) => this.#tierFailed(tier, 'put', err)));
        } else if (raw.byteLength <= this.#codec.maxValueBytes) {
          const p = this.#writes.put(tier, key, raw, elementSize, meta);
          if (p) work.push(p);
        } else if (debugEnabled()) {
          logDebug(`cache ${ns}: ${key} (${raw.byteLength} bytes) is larger than maxValueBytes; not stored in the ${tier.name} tier`);
        }
      } catch (err) {
        this.#tierFailed(tier, 'put', err);
      }
    }
    if (work.length > 0) await Promise.all(work);
  }

  /**
   * Returns the cached value of `key`, or computes, stores and returns it. Concurrent calls for
   * the same key share one computation in this process, and, through the disk tier's per-key
   * lock, across processes (a waiter stops waiting after `lockWaitMs` and computes itself).
   */
  async getOrCompute(key: string, compute: () => BytesLike | Promise<BytesLike>, options: ComputeOptions = {}): Promise<Buffer> {
    this.#assertOpen();
    checkKey(key);
    if (typeof compute !== 'function') throw invalidType('compute', 'function', compute);
    const ns = namespaceOf(options, 'getOrCompute', COMPUTE_OPTIONS);
    putMeta(options, ns);
    elementSizeOf(options, 1);
    checkLocking(options);
    const read = { namespace: ns, ...(options.shared === false ? { shared: false } : {}) };
    const hit = await this.get(key, read);
    if (hit) return hit;
    const id = `${ns}\0${key}`;
    const running = this.#inflight.get(id);
    if (running) return Buffer.from(await running);
    const p = withKeyLock(this.#local, ns, key, { lockWaitMs: this.#lockWaitMs, ...options }, async () => (await this.#reads.read([key], ns, false, options.shared === false)).out[0], async () => {
      const value = Buffer.from(toBytes('compute() result', await compute()));
      await this.put(key, value, { ...options, namespace: ns });
      return value;
    });
    this.#inflight.set(id, p);
    try {
      return Buffer.from(await p);
    } finally {
      this.#inflight.delete(id);
    }
  }

  /**
   * Whether some tier (the shared one unless `shared: false`) holds `key`, without reading or
   * decoding it: a damaged entry still counts until a read drops it. Not counted as a hit or miss.
   * Throws CacheError `ERR_CLOSED` after {@link close}; a tier that fails is skipped with a warning.
   */
  async has(key: string, options: CacheReadOptions = {}): Promise<boolean> {
    this.#assertOpen();
    checkKey(key);
    const ns = namespaceOf(options, 'has', READ_OPTIONS);
    for (const tier of this.tiers) {
      if (tier.shared && options.shared === false) continue;
      try {
        if (await tier.has(key, ns)) return true;
      } catch (err) {
        this.#tierFailed(tier, 'has', err);
      }
    }
    return false;
  }

  /** Deletes `key` (value or file entry) from every tier, the shared one included. */
  async delete(key: string, options: CacheReadOptions = {}): Promise<boolean> {
    this.#assertOpen();
    checkKey(key);
    const ns = namespaceOf(options, 'delete', READ_OPTIONS);
    let any = false;
    for (const tier of this.tiers) {
      if (tier.shared && options.shared === false) continue;
      try {
        any = (await tier.delete(key, ns)) || any;
      } catch (err) {
        this.#tierFailed(tier, 'delete', err);
      }
    }
    return any;
  }

  // -------------------------------------------------------------------------- file entries

  /**
   * Stores a file entry: named files (an ORT model; an ONNX model and its external data; a folder
   * of outputs) kept together under their names, encrypted like values when the cache encrypts.
   * Resolves true once the disk tier holds it in its write queue; a shared tier gets it in the
   * background (files first, manifest last).
   */
  async putFiles(key: string, files: readonly FileSource[], options: PutMeta & { shared?: boolean } = {}): Promise<boolean> {
    this.#assertOpen();
    checkKey(key);
    const ns = namespaceOf(options, 'putFiles', PUT_FILES_OPTIONS);
    return this.#files.put(key, files, { ...putMeta(options, ns), ...(options.shared === false ? { shared: false } : {}) });
  }

  /**
   * The file entry of `key`: from the disk tier (paths ready to load, verified unless
   * `verify: false`), else from the shared tier (downloaded and verified first, with progress;
   * or, with `download: false`, only its manifest: call `fetch()` when the files are needed).
   */
  async getFiles(key: string, options: GetFilesOptions = {}): Promise<CacheFileEntry | undefined> {
    this.#assertOpen();
    checkKey(key);
    const ns = namespaceOf(options, 'getFiles', GET_FILES_OPTIONS);
    return this.#files.get(key, { ...checkFilesOptions(options), namespace: ns });
  }

  /**
   * The file entry of `key`, or computes it: `compute(dir)` writes the files into `dir` (a fresh
   * folder on the cache's filesystem, moved in whole) or returns them. Once per key across calls
   * and processes, as {@link getOrCompute}.
   */
  async getOrComputeFiles(key: string, compute: ComputeFiles, options: GetFilesOptions & PutMeta & LockingOptions = {}): Promise<CacheFileEntry> {
    this.#assertOpen();
    checkKey(key);
    if (typeof compute !== 'function') throw invalidType('compute', 'function', compute);
    const ns = namespaceOf(options, 'getOrComputeFiles', FILES_OPTIONS);
    checkLocking(options);
    const o = { ...options, ...checkFilesOptions(options), ...putMeta(options, ns), namespace: ns };
    return this.#files.getOrCompute(key, compute, o, (lookup, produce) =>
      withKeyLock(this.#local, ns, key, { lockWaitMs: this.#lockWaitMs, ...options }, lookup, produce));
  }

  // ---------------------------------------------------------------------------- namespaces

  /** How many entries `namespace` holds, per tier (by tier name). */
  count(namespace: string): Promise<Record<string, number>> {
    return countNamespace(this.tiers, checkNamespace(namespace));
  }

  /** The entries of `namespace` (every namespace when omitted) in every tier (local ones only with `shared: false`), with the tier's name. */
  entries(namespace?: string, options: { shared?: boolean } = {}): AsyncGenerator<EntryInfo & {
    /** Name of the tier that holds this entry (`'memory'`, `'disk'`, `'azure'`): an entry held by several tiers is listed once per tier. */
    tier: string;
  }> {
    const tiers = options.shared === false ? this.tiers.filter((t) => !t.shared) : this.tiers;
    return listNamespace(tiers, namespace === undefined ? undefined : checkNamespace(namespace));
  }

  /**
   * Deletes every entry of `namespace` in every tier, the shared one included; resolves to how
   * many per tier. Other namespaces are never touched.
   */
  async deleteNamespace(namespace: string): Promise<Record<string, number>> {
    this.#assertOpen();
    const ns = checkNamespace(namespace);
    await this.flush();
    return deleteNamespace(this.tiers, ns, (tier, err) => this.#tierFailed(tier, 'deleteNamespace', err));
  }

  /**
   * Deletes every entry of the local tiers (memory, disk). A shared tier is never cleared by the
   * library: delete a namespace ({@link deleteNamespace}) or use the tier's own explicit method.
   */
  async clear(): Promise<void> {
    this.#assertOpen();
    await this.flush();
    for (const tier of this.tiers) if (!tier.shared) await tier.clear?.();
  }

  /** Persistent counters per namespace (hits, misses, puts, evictions, entries, bytes), across runs and processes. */
  namespaceStats(namespace?: string): NamespaceStats[] {
    return this.#local?.namespaceStats?.(namespace) ?? [];
  }

  /** Waits for background work (promotions, uploads) and commits every tier's queued writes. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    for (const tier of this.tiers) await tier.flush?.();
  }

  /** A snapshot of this process's counters of the cache and of every tier (see {@link namespaceStats} for persistent ones). */
  stats(): CacheStats {
    const tiers: Record<string, TierStats> = {};
    for (const t of this.tiers) tiers[t.name] = t.stats();
    return { ...this.#stats, tiers };
  }

  /** Flushes and closes every tier. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    this.#writes.close();
    for (const tier of this.tiers) await tier.close();
  }
}

export type { Codec, Cipher };
