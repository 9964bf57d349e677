// The tiered cache: reads memory -> disk (-> shared), promotes hits upward, writes through to
// the local tiers. Values go in and come out raw; the codec (frame + optional encryption) is
// applied once, for the tiers that hold encoded bytes. A tier that fails degrades to a miss.
import { type BytesLike, toBytes } from './bytes.js';
import { decryptAsync, encryptAsync, checkCipher, decrypt, encrypt, type Cipher } from './cipher.js';
import { compress, compressAsync, decompress, decompressAsync, type Codec } from './codec.js';
import { CacheError, checkInteger, checkOptionNames, invalidType } from './errors.js';
import { warn } from './log.js';
import { defaultCacheDir } from './paths.js';
import { DiskTier } from './store/disk.js';
import { MemoryTier } from './store/memory.js';
import type { PutMeta, Tier, TierStats } from './store/tier.js';

/** How values are compressed before they reach an encoded tier. */
export interface CompressionOptions {
  codec?: Codec;
  level?: number;
  /** Default element size for the byte-shuffle filter (per put, `elementSize` overrides). */
  elementSize?: number;
}

/** Options of {@link Cache}. */
export interface CacheOptions {
  /** Explicit tiers, fastest first. When given, `dir`, `maxMemoryBytes` and `maxDiskBytes` are not used. */
  tiers?: Tier[];
  /** Disk tier directory; `false` for memory only. Default: `MODELCACHE_DIR` or the platform cache dir. */
  dir?: string | false;
  /** Memory tier size (0 turns it off). Default 1 GB. */
  maxMemoryBytes?: number;
  /** Disk tier size. Default 10 GB. */
  maxDiskBytes?: number;
  /** Frame codec for encoded tiers: a codec name, options, or `false` for 'none'. Default zstd level 3. */
  compression?: Codec | CompressionOptions | false;
  /** Encrypts values in encoded tiers: `{ algorithm: 'aes-256-gcm', key }` or `{ encrypt, decrypt }`. */
  encryption?: Cipher;
  /**
   * A shared tier behind memory and disk (e.g. an AzureBlobTier): reads fall through to it, its
   * hits are kept locally, and local puts are uploaded to it in the background (`flush()` waits).
   */
  shared?: Tier;
}

/** Per-call options of {@link Cache.put}. */
export interface CachePutOptions extends PutMeta {
  /** Byte-shuffle element size for this value (4 for float32 tensors). */
  elementSize?: number;
}

/** Counters of a {@link Cache} and of each of its tiers. */
export interface CacheStats {
  hits: number;
  misses: number;
  puts: number;
  /** Values that failed to decode (corrupt or undecryptable) and were dropped. */
  corrupt: number;
  /** Tier operations that threw and were degraded to a miss / skipped write. */
  errors: number;
  tiers: Record<string, TierStats>;
}

const ASYNC_THRESHOLD = 1 << 20;

/**
 * A tiered byte cache.
 *
 * @example
 * const cache = new Cache({ dir: '.cache/models', maxDiskBytes: 5e9, compression: { codec: 'zstd', level: 1 } });
 * await cache.put(key, bytes, { elementSize: 4 });
 * const back = await cache.get(key); // Buffer | undefined
 */
export class Cache {
  readonly tiers: readonly Tier[];
  readonly #codec: { codec: Codec; level?: number; elementSize: number };
  readonly #cipher: Cipher | undefined;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #inflight = new Map<string, Promise<Buffer>>();
  readonly #stats = { hits: 0, misses: 0, puts: 0, corrupt: 0, errors: 0 };
  #closed = false;

  constructor(options: CacheOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('Cache options', options, ['tiers', 'dir', 'maxMemoryBytes', 'maxDiskBytes', 'compression', 'encryption', 'shared']);
    this.#codec = parseCompression(options.compression);
    this.#cipher = options.encryption === undefined ? undefined : checkCipher('options.encryption', options.encryption);
    if (options.tiers !== undefined) {
      if (!Array.isArray(options.tiers) || options.tiers.some((t) => !t || typeof t.get !== 'function')) {
        throw invalidType('options.tiers', 'array of tiers', options.tiers);
      }
      this.tiers = [...options.tiers, ...sharedTier(options.shared)];
      return;
    }
    const tiers: Tier[] = [];
    const mem = options.maxMemoryBytes === undefined ? 1e9 : checkInteger('options.maxMemoryBytes', options.maxMemoryBytes, 0, Number.MAX_SAFE_INTEGER);
    if (mem > 0) tiers.push(new MemoryTier({ maxBytes: mem }));
    if (options.dir !== false) {
      const dir = options.dir ?? defaultCacheDir();
      if (typeof dir !== 'string' || dir.length === 0) throw invalidType('options.dir', 'non-empty string or false', dir);
      const maxBytes = options.maxDiskBytes === undefined ? 10e9 : checkInteger('options.maxDiskBytes', options.maxDiskBytes, 0, Number.MAX_SAFE_INTEGER);
      tiers.push(new DiskTier({ dir, maxBytes }));
    }
    this.tiers = [...tiers, ...sharedTier(options.shared)];
  }

  /** The disk tier, if this cache has one. */
  get disk(): DiskTier | undefined {
    return this.tiers.find((t): t is DiskTier => t instanceof DiskTier);
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheError('ERR_CLOSED', 'cache is closed');
  }

  #tierFailed(tier: Tier, op: string, err: unknown): void {
    this.#stats.errors++;
    warn('ERR_TIER', `${tier.name} tier ${op} failed (${(err as Error)?.message ?? err}); treated as a miss`);
  }

  async #encode(raw: Uint8Array, elementSize: number): Promise<Buffer> {
    const opts = { codec: this.#codec.codec, elementSize, ...(this.#codec.level !== undefined ? { level: this.#codec.level } : {}) };
    const big = raw.byteLength >= ASYNC_THRESHOLD;
    const frame = big ? await compressAsync(raw, opts) : compress(raw, opts);
    if (!this.#cipher) return frame;
    return big || 'encrypt' in this.#cipher ? encryptAsync(frame, this.#cipher) : encrypt(frame, this.#cipher);
  }

  /** Small frames without callback encryption decode on this thread: no promise per entry. */
  #decodesSync(stored: Buffer): boolean {
    return stored.byteLength < ASYNC_THRESHOLD && !(this.#cipher && 'encrypt' in this.#cipher);
  }

  /** Decodes a small stored value on this thread (built-in ciphers only). */
  #decodeSync(stored: Buffer): Buffer {
    const frame = this.#cipher ? decrypt(stored, this.#cipher) : stored;
    return decompress(frame);
  }

  async #decode(stored: Buffer): Promise<Buffer> {
    const big = stored.byteLength >= ASYNC_THRESHOLD;
    let frame = stored;
    if (this.#cipher) frame = big || 'encrypt' in this.#cipher ? await decryptAsync(stored, this.#cipher) : decrypt(stored, this.#cipher);
    return big ? decompressAsync(frame) : decompress(frame);
  }

  /** Reads `key` from the fastest tier that has it, promoting it to the faster ones. */
  async get(key: string): Promise<Buffer | undefined> {
    return (await this.getMany([key]))[0];
  }

  #dropUndecodable(tier: Tier, key: string, err: unknown): void {
    const code = (err as CacheError).code;
    if (code === 'ERR_CORRUPT' || code === 'ERR_DECRYPT') {
      this.#stats.corrupt++;
      warn(code, `dropped cache entry ${key} from the ${tier.name} tier: ${(err as Error).message}`);
      this.#track(Promise.resolve(tier.delete(key)).catch((e) => this.#tierFailed(tier, 'delete', e)));
    } else {
      this.#tierFailed(tier, 'decode', err);
    }
  }

  #promote(key: string, raw: Buffer, foundAt: number): void {
    for (let j = 0; j < foundAt; j++) {
      const tier = this.tiers[j];
      if (!tier.encoded) {
        try {
          // A private copy: the caller owns `raw`.
          if (tier instanceof MemoryTier) tier.putOwned(key, Buffer.from(raw));
          else void tier.put(key, raw);
        } catch (err) {
          this.#tierFailed(tier, 'put', err);
        }
      } else {
        this.#track(this.#encode(raw, this.#codec.elementSize).then((enc) => tier.put(key, enc)).catch((err) => this.#tierFailed(tier, 'put', err)));
      }
    }
  }

  /**
   * Reads several keys; misses are undefined. Tier by tier: each tier is asked only for what the
   * faster ones missed, and a synchronous tier (memory) answers without a promise per key.
   * `borrow: true` may return the memory tier's own buffers without copying: read them at once,
   * never mutate or keep them (tensorCache copies rows straight into fresh outputs).
   */
  async getMany(keys: readonly string[], options: { borrow?: boolean } = {}): Promise<(Buffer | undefined)[]> {
    this.#assertOpen();
    const out: (Buffer | undefined)[] = new Array(keys.length);
    let pending: number[] = keys.map((_, i) => i);
    for (let t = 0; t < this.tiers.length && pending.length > 0; t++) {
      const tier = this.tiers[t];
      let stored: (Buffer | undefined)[];
      try {
        const ks = pending.length === keys.length ? keys : pending.map((i) => keys[i]);
        if (options.borrow && tier instanceof MemoryTier) stored = tier.getManyBorrowed(ks);
        else {
          const r = tier.getMany(ks);
          stored = r instanceof Promise ? await r : r;
        }
      } catch (err) {
        this.#tierFailed(tier, 'getMany', err);
        continue;
      }
      const still: number[] = [];
      const decoding: Promise<void>[] = [];
      pending.forEach((i, j) => {
        const v = stored[j];
        if (v === undefined) {
          still.push(i);
          return;
        }
        if (!tier.encoded) {
          out[i] = v;
          if (t > 0) this.#promote(keys[i], v, t);
          return;
        }
        if (this.#decodesSync(v)) {
          try {
            const raw = this.#decodeSync(v);
            out[i] = raw;
            this.#promote(keys[i], raw, t);
          } catch (err) {
            this.#dropUndecodable(tier, keys[i], err);
            still.push(i);
          }
          return;
        }
        decoding.push(
          this.#decode(v).then(
            (raw) => {
              out[i] = raw;
              this.#promote(keys[i], raw, t);
            },
            (err) => {
              this.#dropUndecodable(tier, keys[i], err);
              still.push(i);
            },
          ),
        );
      });
      if (decoding.length > 0) await Promise.all(decoding);
      pending = still;
    }
    this.#stats.hits += keys.length - pending.length;
    this.#stats.misses += pending.length;
    return out;
  }

  /**
   * Stores `value` in every tier (the memory tier at once; encoded tiers once the value is
   * compressed and written). Resolves when every tier has answered; never rejects because a
   * tier failed (that is counted and warned about).
   */
  async put(key: string, value: BytesLike, options: CachePutOptions = {}): Promise<void> {
    this.#assertOpen();
    const raw = toBytes('value', value);
    const elementSize = options.elementSize === undefined ? this.#codec.elementSize : checkInteger('options.elementSize', options.elementSize, 1, 255);
    const meta: PutMeta = { ...(options.kind !== undefined ? { kind: options.kind } : {}), ...(options.meta !== undefined ? { meta: options.meta } : {}) };
    this.#stats.puts++;
    const work: Promise<unknown>[] = [];
    let encoded: Promise<Buffer> | undefined;
    for (const tier of this.tiers) {
      try {
        if (!tier.encoded) {
          const r = tier.put(key, raw, meta);
          if (r instanceof Promise) work.push(r.catch((err) => this.#tierFailed(tier, 'put', err)));
        } else {
          encoded ??= this.#encode(raw, elementSize);
          const upload = encoded.then((enc) => tier.put(key, enc, meta)).catch((err) => this.#tierFailed(tier, 'put', err));
          // A shared tier uploads in the background: the caller waits for local tiers only.
          if (tier.shared) this.#track(upload);
          else work.push(upload);
        }
      } catch (err) {
        this.#tierFailed(tier, 'put', err);
      }
    }
    const all = Promise.all(work);
    this.#track(all);
    await all;
  }

  /**
   * Returns the cached value of `key`, or computes, stores and returns it. Concurrent calls for
   * the same key in this process share one computation.
   */
  async getOrCompute(key: string, compute: () => BytesLike | Promise<BytesLike>, options: CachePutOptions = {}): Promise<Buffer> {
    const hit = await this.get(key);
    if (hit) return hit;
    const running = this.#inflight.get(key);
    if (running) return Buffer.from(await running);
    const p = (async () => {
      const value = Buffer.from(toBytes('compute() result', await compute()));
      await this.put(key, value, options);
      return value;
    })();
    this.#inflight.set(key, p);
    try {
      return Buffer.from(await p);
    } finally {
      this.#inflight.delete(key);
    }
  }

  async has(key: string): Promise<boolean> {
    this.#assertOpen();
    for (const tier of this.tiers) {
      try {
        if (await tier.has(key)) return true;
      } catch (err) {
        this.#tierFailed(tier, 'has', err);
      }
    }
    return false;
  }

  async delete(key: string): Promise<boolean> {
    this.#assertOpen();
    let any = false;
    for (const tier of this.tiers) {
      try {
        any = (await tier.delete(key)) || any;
      } catch (err) {
        this.#tierFailed(tier, 'delete', err);
      }
    }
    return any;
  }

  async clear(): Promise<void> {
    this.#assertOpen();
    await this.flush();
    for (const tier of this.tiers) await tier.clear();
  }

  #track(p: Promise<unknown>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Waits for background writes (promotions, uploads) to finish. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    for (const tier of this.tiers) if (tier instanceof DiskTier) await tier.flushAccess();
  }

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
    for (const tier of this.tiers) await tier.close();
  }
}

function sharedTier(shared: unknown): Tier[] {
  if (shared === undefined) return [];
  if (shared === null || typeof shared !== 'object' || typeof (shared as Tier).get !== 'function') {
    throw invalidType('options.shared', 'a tier (e.g. an AzureBlobTier)', shared);
  }
  return [shared as Tier];
}

function parseCompression(c: CacheOptions['compression']): { codec: Codec; level?: number; elementSize: number } {
  if (c === undefined) return { codec: 'zstd', level: 3, elementSize: 1 };
  if (c === false) return { codec: 'none', elementSize: 1 };
  if (typeof c === 'string') {
    if (c !== 'zstd' && c !== 'lz4' && c !== 'none') throw invalidType('options.compression', "'zstd', 'lz4', 'none', false or { codec, level, elementSize }", c);
    return { codec: c, elementSize: 1 };
  }
  if (c === null || typeof c !== 'object') throw invalidType('options.compression', "'zstd', 'lz4', 'none', false or { codec, level, elementSize }", c);
  checkOptionNames('options.compression', c, ['codec', 'level', 'elementSize']);
  const codec = c.codec ?? 'zstd';
  if (codec !== 'zstd' && codec !== 'lz4' && codec !== 'none') throw invalidType('options.compression.codec', "'zstd', 'lz4' or 'none'", codec);
  // Validate the level once, here, with the same rules compress() applies.
  compress(Buffer.alloc(0), { codec, ...(c.level !== undefined ? { level: c.level } : {}) });
  const elementSize = c.elementSize === undefined ? 1 : checkInteger('options.compression.elementSize', c.elementSize, 1, 255);
  return { codec, ...(c.level !== undefined ? { level: c.level } : {}), elementSize };
}
