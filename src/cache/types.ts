// The per-call options and the counters of a Cache (src/cache.ts), in a module of their own so
// that the class reads as what it does.
import type { LockingOptions } from './lock.js';
import type { PutMeta, TierStats } from '../store/tier.js';

/** Per-call options of reads. */
export interface CacheReadOptions {
  /** The entry's namespace. Default 'default'. */
  namespace?: string;
  /** `false`: this call skips the shared tier (reads only local tiers; writes and deletes stay local). Default true. */
  shared?: boolean;
}

/** Options of {@link Cache.getMany}. */
export interface CacheGetManyOptions extends CacheReadOptions {
  /**
   * May return the memory tier's own buffers without copying: read them at once, never mutate
   * or keep them (tensorCache copies rows straight into fresh outputs).
   */
  borrow?: boolean;
}

/** Per-call options of {@link Cache.put}. */
export interface CachePutOptions extends PutMeta {
  /** `false`: the value stays in the local tiers (never uploaded). Default true. */
  shared?: boolean;
  /** Byte-shuffle element size for this value (4 for float32 tensors). */
  elementSize?: number;
}

/** Options of {@link Cache.getOrCompute}. */
export interface ComputeOptions extends CachePutOptions, LockingOptions {}

/** Counters of a {@link Cache} and of each of its tiers. */
export interface CacheStats {
  /** Keys (values and file entries) found in some tier, since this Cache was created. */
  hits: number;
  /** Keys found in no tier (a value that failed to decode counts as a miss too). */
  misses: number;
  /** Calls to {@link Cache.put} (including those made by `getOrCompute`), whether or not every tier stored the value. */
  puts: number;
  /** Values that failed to decode (corrupt or undecryptable) and were dropped. */
  corrupt: number;
  /** Tier operations that threw and were degraded to a miss / skipped write. */
  errors: number;
  /** Each tier's own counters, by tier name (`'memory'`, `'disk'`, `'azure'`). */
  tiers: Record<string, TierStats>;
}
