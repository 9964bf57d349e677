// Option defaults, defined once: every module that needs one imports it from here, so the docs,
// the code and the CLI can never disagree about what "default" means.

/** Default byte limit of a memory tier (`maxMemoryBytes`, `MemoryTier` `maxBytes`): 1 GB. */
export const DEFAULT_MAX_MEMORY_BYTES = 1e9;

/** Largest raw value a Cache decodes by default (`maxValueBytes`), unless its memory tier holds more: 1 GB. */
export const DEFAULT_MAX_VALUE_BYTES = 1e9;

/** Default byte limit of a disk tier (`maxDiskBytes`, `DiskTier` `maxBytes`, `maxLocalBytes`): 10 GB. */
export const DEFAULT_MAX_DISK_BYTES = 10e9;

/** Values up to this size live inside the disk index; larger ones are files. 64 KiB. */
export const DEFAULT_INLINE_THRESHOLD = 64 * 1024;

/** How often a disk tier writes batched access times and counters, ms. */
export const DEFAULT_ACCESS_FLUSH_MS = 1000;

/** A work file or folder older than this is stale even when its writer cannot be checked (another host). 24 h. */
export const STALE_WORK_MS = 24 * 3600_000;

/** How long a caller waits for another process computing the same key before computing it itself. 10 min. */
export const DEFAULT_LOCK_WAIT_MS = 600_000;

/** A lock held by another host and older than this is taken over. 10 min. */
export const DEFAULT_LOCK_STALE_MS = 600_000;

/** Files in a disk tier younger than this are never collected as orphans (a put may be in flight). 1 min. */
export const ORPHAN_GRACE_MS = 60_000;

/** Eviction frees space down to this fraction of the limit, so that every put does not evict. */
export const EVICT_TARGET = 0.95;
