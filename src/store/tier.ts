// The one interface every storage tier implements, and the counters they all report.

/** What a caller may attach to an entry. */
export interface PutMeta {
  /** A short label of what the entry is ('tensor', 'session', 'pass-output', ...). */
  kind?: string;
  /** Small JSON-serialisable metadata kept in the index beside the entry. */
  meta?: Record<string, unknown>;
}

/** Counters of one tier, since it was opened (bytes and entries: current totals). */
export interface TierStats {
  hits: number;
  misses: number;
  puts: number;
  /** Puts refused (entry larger than the tier, or the tier failed softly). */
  rejected: number;
  evictions: number;
  /** Entries found damaged, dropped and reported as misses. */
  corrupt: number;
  /** Operations that failed inside the tier and were degraded to a miss / no-op. */
  errors: number;
  bytes: number;
  entries: number;
  maxBytes: number;
}

/**
 * A store of opaque byte values by key. Methods may answer synchronously or with a promise;
 * callers await either. Values returned are the caller's to keep and mutate.
 */
export interface Tier {
  readonly name: string;
  /** True when the tier holds encoded frames (disk, shared); false when it holds raw values (memory). */
  readonly encoded: boolean;
  /**
   * True for a tier shared over the network (blob storage): the Cache uploads to it in the
   * background (`flush()` waits) instead of making `put` wait for it.
   */
  readonly shared?: boolean;
  get(key: string): Buffer | undefined | Promise<Buffer | undefined>;
  getMany(keys: readonly string[]): (Buffer | undefined)[] | Promise<(Buffer | undefined)[]>;
  /** Resolves true when stored, false when refused (too large or failed softly). */
  put(key: string, value: Uint8Array, meta?: PutMeta): boolean | Promise<boolean>;
  has(key: string): boolean | Promise<boolean>;
  delete(key: string): boolean | Promise<boolean>;
  clear(): void | Promise<void>;
  stats(): TierStats;
  close(): void | Promise<void>;
}

export function emptyStats(maxBytes: number): TierStats {
  return { hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: 0, maxBytes };
}
