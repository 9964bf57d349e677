// Compute-once across processes: the caller that takes a key's lock computes and publishes; the
// others wait (never longer than their bound) and then read what it published. The lock only
// saves duplicate work: whatever happens to it, the caller gets a value.
import { logDebug } from '../log.js';
import type { Tier } from '../store/tier.js';
import type { LockResult } from '../store/work.js';

/** How a compute waits for another process computing the same key. */
export interface LockingOptions {
  /** `false`: compute without the cross-process lock. Default true (when the cache has a disk tier). */
  lock?: boolean;
  /** Longest wait for another process's computation before computing here, ms. Default: the cache's `lockWaitMs`. */
  lockWaitMs?: number;
}

/**
 * Runs `produce` holding the lock of `ns`/`key` in `tier` (when it has the capability): if another
 * process published the entry meanwhile, `lookup` returns it instead. The lock is released only
 * after `tier` committed what `produce` stored, so a waiter that wakes up finds it.
 */
export async function withKeyLock<T>(
  tier: Tier | undefined,
  ns: string,
  key: string,
  options: LockingOptions & { lockWaitMs: number },
  lookup: () => Promise<T | undefined>,
  produce: () => Promise<T>,
): Promise<T> {
  if (!tier?.lock || options.lock === false) return produce();
  let got: LockResult;
  try {
    got = await tier.lock(key, ns, { ready: () => tier.has(key, ns), maxWaitMs: options.lockWaitMs });
  } catch (err) {
    logDebug(`cache: lock of ${ns}/${key} unavailable (${(err as Error).message}); computing without it`);
    return produce();
  }
  try {
    if (got.ready || got.lock) {
      // Published by another process while we waited, or just before we took the lock.
      const found = await lookup();
      if (found !== undefined) return found;
    }
    if (!got.lock) logDebug(`cache: gave up waiting for ${ns}/${key} after ${Math.round(got.waitedMs)} ms; computing it here`);
    const value = await produce();
    await tier.flush?.();
    return value;
  } finally {
    got.lock?.release();
  }
}
