// In-memory LRU by bytes, shaped like lru-cache (`maxBytes`, `dispose(value, key, reason)`).
// Values are copied in and out, so nothing a caller holds ever aliases cache state.
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { toBytes } from '../bytes.js';
import { emptyStats, type PutMeta, type Tier, type TierStats } from './tier.js';

/** Why an entry left a {@link MemoryTier}. */
export type DisposeReason = 'evict' | 'set' | 'delete' | 'clear';

export interface MemoryTierOptions {
  /** Upper bound of the bytes held (sum of value lengths). Default 1 GB. */
  maxBytes?: number;
  /** Called when an entry leaves the tier, with a private copy of its value. */
  dispose?: (value: Buffer, key: string, reason: DisposeReason) => void;
}

/** A byte-limited LRU in memory. Operations are synchronous. */
export class MemoryTier implements Tier {
  readonly name = 'memory';
  readonly encoded = false;
  readonly maxBytes: number;
  readonly #dispose: MemoryTierOptions['dispose'];
  // Map iteration order is insertion order: re-inserting on access keeps it in LRU order.
  readonly #map = new Map<string, Buffer>();
  #bytes = 0;
  readonly #stats: TierStats;

  constructor(options: MemoryTierOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('MemoryTier options', options, ['maxBytes', 'dispose']);
    this.maxBytes = options.maxBytes === undefined ? 1e9 : checkInteger('options.maxBytes', options.maxBytes, 0, Number.MAX_SAFE_INTEGER);
    if (options.dispose !== undefined && typeof options.dispose !== 'function') {
      throw invalidType('options.dispose', 'function', options.dispose);
    }
    this.#dispose = options.dispose;
    this.#stats = emptyStats(this.maxBytes);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): Buffer | undefined {
    const v = this.#map.get(key);
    if (v === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    this.#map.delete(key);
    this.#map.set(key, v);
    this.#stats.hits++;
    return Buffer.from(v);
  }

  getMany(keys: readonly string[]): (Buffer | undefined)[] {
    return keys.map((k) => this.get(k));
  }

  /** Reads without copying or touching recency: for callers that only read the bytes at once. */
  peek(key: string): Buffer | undefined {
    return this.#map.get(key);
  }

  put(key: string, value: Uint8Array, _meta?: PutMeta): boolean {
    return this.#store(key, Buffer.from(toBytes('value', value)));
  }

  /**
   * Stores a buffer the caller hands over and will not touch again (no defensive copy).
   * @internal used by Cache for buffers it has just produced.
   */
  putOwned(key: string, value: Buffer): boolean {
    return this.#store(key, value);
  }

  #store(key: string, value: Buffer): boolean {
    if (typeof key !== 'string') throw invalidType('key', 'string', key);
    // Larger than the whole tier: not stored, and nothing is evicted for it.
    if (value.byteLength > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    const prev = this.#map.get(key);
    if (prev !== undefined) {
      this.#map.delete(key);
      this.#bytes -= prev.byteLength;
      this.#dispose?.(prev, key, 'set');
    }
    this.#map.set(key, value);
    this.#bytes += value.byteLength;
    this.#stats.puts++;
    this.#evict();
    return true;
  }

  #evict(): void {
    for (const [k, v] of this.#map) {
      if (this.#bytes <= this.maxBytes) break;
      this.#map.delete(k);
      this.#bytes -= v.byteLength;
      this.#stats.evictions++;
      this.#dispose?.(v, k, 'evict');
    }
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  delete(key: string): boolean {
    const v = this.#map.get(key);
    if (v === undefined) return false;
    this.#map.delete(key);
    this.#bytes -= v.byteLength;
    this.#dispose?.(v, key, 'delete');
    return true;
  }

  clear(): void {
    const entries = [...this.#map];
    this.#map.clear();
    this.#bytes = 0;
    if (this.#dispose) for (const [k, v] of entries) this.#dispose(v, k, 'clear');
  }

  /** Keys from least to most recently used. */
  keys(): string[] {
    return [...this.#map.keys()];
  }

  stats(): TierStats {
    return { ...this.#stats, bytes: this.#bytes, entries: this.#map.size };
  }

  close(): void {
    this.clear();
  }
}
