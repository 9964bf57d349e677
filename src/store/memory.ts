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

interface Node {
  key: string;
  value: Buffer;
  prev: Node | undefined; // towards least recently used
  next: Node | undefined; // towards most recently used
}

/**
 * A byte-limited LRU in memory. Operations are synchronous. Recency is a doubly linked list of
 * entries (a hit moves one node, no re-hashing); the Map only finds nodes by key.
 */
export class MemoryTier implements Tier {
  readonly name = 'memory';
  readonly encoded = false;
  readonly maxBytes: number;
  readonly #dispose: MemoryTierOptions['dispose'];
  readonly #map = new Map<string, Node>();
  #oldest: Node | undefined;
  #newest: Node | undefined;
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

  #unlink(n: Node): void {
    if (n.prev) n.prev.next = n.next;
    else this.#oldest = n.next;
    if (n.next) n.next.prev = n.prev;
    else this.#newest = n.prev;
    n.prev = n.next = undefined;
  }

  #append(n: Node): void {
    n.prev = this.#newest;
    n.next = undefined;
    if (this.#newest) this.#newest.next = n;
    else this.#oldest = n;
    this.#newest = n;
  }

  /** Finds a node and marks it most recently used. */
  #touch(key: string): Node | undefined {
    const n = this.#map.get(key);
    if (n === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    if (n !== this.#newest) {
      this.#unlink(n);
      this.#append(n);
    }
    this.#stats.hits++;
    return n;
  }

  get(key: string): Buffer | undefined {
    const n = this.#touch(key);
    return n && Buffer.from(n.value);
  }

  getMany(keys: readonly string[]): (Buffer | undefined)[] {
    return keys.map((k) => this.get(k));
  }

  /**
   * Like getMany, but hands out the tier's own buffers (no copy): the caller must read them at
   * once and never mutate or keep them. Recency and counters are updated as for get.
   * @internal used by Cache.getMany({ borrow: true }).
   */
  getManyBorrowed(keys: readonly string[]): (Buffer | undefined)[] {
    const out = new Array<Buffer | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.#touch(keys[i])?.value;
    return out;
  }

  /** Reads without copying or touching recency: for callers that only read the bytes at once. */
  peek(key: string): Buffer | undefined {
    return this.#map.get(key)?.value;
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
      this.#bytes += value.byteLength - prev.value.byteLength;
      const old = prev.value;
      prev.value = value;
      if (prev !== this.#newest) {
        this.#unlink(prev);
        this.#append(prev);
      }
      this.#dispose?.(old, key, 'set');
    } else {
      const n: Node = { key, value, prev: undefined, next: undefined };
      this.#map.set(key, n);
      this.#append(n);
      this.#bytes += value.byteLength;
    }
    this.#stats.puts++;
    while (this.#bytes > this.maxBytes && this.#oldest) {
      const victim = this.#oldest;
      this.#unlink(victim);
      this.#map.delete(victim.key);
      this.#bytes -= victim.value.byteLength;
      this.#stats.evictions++;
      this.#dispose?.(victim.value, victim.key, 'evict');
    }
    return true;
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  delete(key: string): boolean {
    const n = this.#map.get(key);
    if (n === undefined) return false;
    this.#unlink(n);
    this.#map.delete(key);
    this.#bytes -= n.value.byteLength;
    this.#dispose?.(n.value, key, 'delete');
    return true;
  }

  clear(): void {
    const nodes = [...this.#map.values()];
    this.#map.clear();
    this.#oldest = this.#newest = undefined;
    this.#bytes = 0;
    if (this.#dispose) for (const n of nodes) this.#dispose(n.value, n.key, 'clear');
  }

  /** Keys from least to most recently used. */
  keys(): string[] {
    const out: string[] = [];
    for (let n = this.#oldest; n; n = n.next) out.push(n.key);
    return out;
  }

  stats(): TierStats {
    return { ...this.#stats, bytes: this.#bytes, entries: this.#map.size };
  }

  close(): void {
    this.clear();
  }
}
