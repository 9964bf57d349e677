// In-memory LRU by bytes, shaped like lru-cache (`maxBytes`, `dispose(value, key, reason)`).
// Values are copied in and out, so nothing a caller holds ever aliases cache state. Entries live
// in one map per namespace and one recency list across all of them.
import { DEFAULT_MAX_MEMORY_BYTES } from '../defaults.js';
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { toBytes } from '../bytes.js';
import { checkKey, checkNamespace, DEFAULT_NAMESPACE, isKey, isNamespace } from './namespace.js';
import { emptyStats, type EntryInfo, type PutMeta, type Tier, type TierStats } from './tier.js';

/** Why an entry left a {@link MemoryTier}. */
export type DisposeReason = 'evict' | 'set' | 'delete' | 'clear';

/** Options of {@link MemoryTier}; validated by its constructor (TypeError / RangeError, `code: 'ERR_BAD_INPUT'`). */
export interface MemoryTierOptions {
  /**
   * Upper bound of the bytes held (sum of value lengths); least recently used entries are evicted
   * past it, and a value larger than the whole limit is refused. Default 1 GB (1e9).
   */
  maxBytes?: number;
  /** Called when an entry leaves the tier, with its value (the tier no longer holds it) and key. */
  dispose?: (value: Buffer, key: string, reason: DisposeReason) => void;
}

interface Node {
  ns: string;
  key: string;
  value: Buffer;
  prev: Node | undefined; // towards least recently used
  next: Node | undefined; // towards most recently used
}

/**
 * A byte-limited LRU in memory. Operations are synchronous. Recency is a doubly linked list of
 * entries (a hit moves one node, no re-hashing); the maps only find nodes by namespace and key.
 */
export class MemoryTier implements Tier {
  readonly name = 'memory';
  readonly encoded = false;
  /** The byte limit from {@link MemoryTierOptions.maxBytes} (default 1 GB). */
  readonly maxBytes: number;
  readonly #dispose: MemoryTierOptions['dispose'];
  readonly #spaces = new Map<string, Map<string, Node>>();
  // The default namespace's map, found without a lookup (most reads use it).
  readonly #defaultSpace = new Map<string, Node>();
  #count = 0;
  #oldest: Node | undefined;
  #newest: Node | undefined;
  #bytes = 0;
  readonly #stats: TierStats;

  constructor(options: MemoryTierOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('MemoryTier options', options, ['maxBytes', 'dispose']);
    this.maxBytes = options.maxBytes === undefined ? DEFAULT_MAX_MEMORY_BYTES : checkInteger('options.maxBytes', options.maxBytes, 0, Number.MAX_SAFE_INTEGER);
    if (options.dispose !== undefined && typeof options.dispose !== 'function') {
      throw invalidType('options.dispose', 'function', options.dispose);
    }
    this.#dispose = options.dispose;
    this.#stats = emptyStats(this.maxBytes);
    this.#spaces.set(DEFAULT_NAMESPACE, this.#defaultSpace);
  }

  #space(ns: string): Map<string, Node> | undefined {
    return ns === DEFAULT_NAMESPACE ? this.#defaultSpace : this.#spaces.get(ns);
  }

  /** Number of entries held. */
  get size(): number {
    return this.#count;
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

  /** Finds a node of `space` and marks it most recently used. */
  #touch(space: Map<string, Node> | undefined, key: string): Node | undefined {
    const n = space?.get(key);
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

  /** A copy of the value of `key` (the caller may keep and mutate it), marked most recently used. */
  get(key: string, namespace = DEFAULT_NAMESPACE): Buffer | undefined {
    const n = this.#touch(this.#space(namespace), key);
    return n && Buffer.from(n.value);
  }

  getMany(keys: readonly string[], namespace = DEFAULT_NAMESPACE): (Buffer | undefined)[] {
    const space = this.#space(namespace);
    const out = new Array<Buffer | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const n = this.#touch(space, keys[i]);
      out[i] = n && Buffer.from(n.value);
    }
    return out;
  }

  /**
   * Like getMany, but hands out the tier's own buffers (no copy): the caller must read them at
   * once and never mutate or keep them. Recency and counters are updated as for get.
   */
  getManyBorrowed(keys: readonly string[], namespace = DEFAULT_NAMESPACE): (Buffer | undefined)[] {
    const space = this.#space(namespace);
    const out = new Array<Buffer | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) out[i] = this.#touch(space, keys[i])?.value;
    return out;
  }

  /** Reads without copying or touching recency: for callers that only read the bytes at once. */
  peek(key: string, namespace = DEFAULT_NAMESPACE): Buffer | undefined {
    return this.#space(namespace)?.get(key)?.value;
  }

  put(key: string, value: Uint8Array, meta?: PutMeta): boolean {
    return this.#store(meta?.namespace ?? DEFAULT_NAMESPACE, key, Buffer.from(toBytes('value', value)));
  }

  /** Stores a buffer the caller hands over and will not touch again (no defensive copy). */
  putOwned(key: string, value: Buffer, namespace = DEFAULT_NAMESPACE): boolean {
    return this.#store(namespace, key, value);
  }

  #store(ns: string, key: string, value: Buffer): boolean {
    if (!isKey(key)) checkKey(key);
    if (ns !== DEFAULT_NAMESPACE && !isNamespace(ns)) checkNamespace(ns);
    // Larger than the whole tier: not stored, and nothing is evicted for it.
    if (value.byteLength > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    let space = this.#space(ns);
    if (space === undefined) this.#spaces.set(ns, (space = new Map()));
    const prev = space.get(key);
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
      const n: Node = { ns, key, value, prev: undefined, next: undefined };
      space.set(key, n);
      this.#count++;
      this.#append(n);
      this.#bytes += value.byteLength;
    }
    this.#stats.puts++;
    while (this.#bytes > this.maxBytes && this.#oldest) {
      const victim = this.#oldest;
      this.#remove(victim);
      this.#stats.evictions++;
      this.#dispose?.(victim.value, victim.key, 'evict');
    }
    return true;
  }

  #remove(n: Node): void {
    this.#unlink(n);
    const space = this.#space(n.ns)!;
    space.delete(n.key);
    if (space.size === 0 && space !== this.#defaultSpace) this.#spaces.delete(n.ns);
    this.#count--;
    this.#bytes -= n.value.byteLength;
  }

  has(key: string, namespace = DEFAULT_NAMESPACE): boolean {
    return this.#space(namespace)?.has(key) ?? false;
  }

  /** Whether every key of `keys` is held (recency and counters untouched). */
  hasAll(keys: readonly string[], namespace = DEFAULT_NAMESPACE): boolean {
    const space = this.#space(namespace);
    if (space === undefined) return keys.length === 0;
    for (let i = 0; i < keys.length; i++) if (!space.has(keys[i])) return false;
    return true;
  }

  delete(key: string, namespace = DEFAULT_NAMESPACE): boolean {
    const n = this.#space(namespace)?.get(key);
    if (n === undefined) return false;
    this.#remove(n);
    this.#dispose?.(n.value, key, 'delete');
    return true;
  }

  /** Deletes every entry of `namespace`; returns how many. */
  deleteNamespace(namespace: string): number {
    const space = this.#space(namespace);
    if (!space) return 0;
    const nodes = [...space.values()];
    for (const n of nodes) this.#remove(n);
    if (this.#dispose) for (const n of nodes) this.#dispose(n.value, n.key, 'delete');
    return nodes.length;
  }

  countEntries(namespace: string): number {
    return this.#space(namespace)?.size ?? 0;
  }

  namespaces(): string[] {
    return [...this.#spaces].filter(([, m]) => m.size > 0).map(([ns]) => ns);
  }

  *listEntries(namespace?: string): Generator<EntryInfo> {
    for (let n = this.#oldest; n; n = n.next) {
      if (namespace === undefined || n.ns === namespace) {
        yield { namespace: n.ns, key: n.key, type: 'value', size: n.value.byteLength, kind: '', created: 0 };
      }
    }
  }

  clear(): void {
    const nodes: Node[] = [];
    for (let n = this.#oldest; n; n = n.next) nodes.push(n);
    this.#spaces.clear();
    this.#defaultSpace.clear();
    this.#spaces.set(DEFAULT_NAMESPACE, this.#defaultSpace);
    this.#count = 0;
    this.#oldest = this.#newest = undefined;
    this.#bytes = 0;
    if (this.#dispose) for (const n of nodes) this.#dispose(n.value, n.key, 'clear');
  }

  /** Keys from least to most recently used (of every namespace). */
  keys(): string[] {
    const out: string[] = [];
    for (let n = this.#oldest; n; n = n.next) out.push(n.key);
    return out;
  }

  stats(): TierStats {
    return { ...this.#stats, bytes: this.#bytes, entries: this.#count };
  }

  close(): void {
    this.clear();
  }
}
