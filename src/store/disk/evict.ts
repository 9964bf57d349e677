// Eviction of a cache directory: least recently used entries go, in one transaction, until the
// stored bytes are at or below a target. The order is the index's access stamps, where a file entry
// whose head was touched later (an index-free hit, store/disk/peek.ts) counts as used then.
import { statSync } from 'node:fs';
import type { Freed } from './queue.js';
import type { Layout } from './layout.js';
import { FILES, type DiskRecord } from './record.js';
import type { DiskStore } from './store.js';

/**
 * Evicts least recently used entries until at most `target` bytes remain. `keep` (what a put
 * just stored) is never evicted: a value that fits the tier is never thrown away by its own put.
 */
export function evictLru(store: DiskStore, target: number, keep?: { ns: string; key: string }): { evicted: number; bytes: number } {
  const idx = store.index();
  store.access.flush();
  idx.refresh();
  const freed: Freed[] = [];
  const result = idx.txn(() => {
    const totals = idx.totals();
    let bytes = 0;
    const victims: [string, string, DiskRecord][] = [];
    const stale: [number, string, string][] = [];
    const touched: [number, number, string, string][] = [];
    // Collect first, then delete: no writes while the cursor walks the LRU keys.
    for (const [stamp, ns, key] of idx.lru()) {
      if (totals.bytes - bytes <= target) break;
      if (keep && ns === keep.ns && key === keep.key) continue;
      const rec = idx.stamp(ns, key) === stamp ? idx.recordSafe(ns, key) : undefined;
      if (!rec) stale.push([stamp, ns, key]);
      else {
        const headStamp = rec.type === FILES ? headTouched(store.layout, ns, key, stamp) : undefined;
        if (headStamp !== undefined) touched.push([stamp, headStamp, ns, key]);
        else {
          victims.push([ns, key, rec]);
          bytes += rec.size;
        }
      }
    }
    for (const [stamp, ns, key] of stale) idx.removeLruKey(stamp, ns, key);
    for (const [old, stamp, ns, key] of touched) idx.setStamp(ns, key, stamp, old);
    for (const [ns, key, rec] of victims) {
      store.queue.removeInTxn(idx, ns, key, rec, freed);
      idx.addCounters(ns, { evictions: 1 });
    }
    return { evicted: victims.length, bytes };
  });
  store.queue.releaseFreed(freed);
  store.stats.evictions += result.evicted;
  return result;
}

/**
 * The access stamp (µs) of a file entry whose head was touched after `stamp` by a hit that read
 * it without the index (store/disk/peek.ts touchFileEntry); undefined when it was not.
 */
function headTouched(layout: Layout, ns: string, key: string, stamp: number): number | undefined {
  try {
    const t = Math.floor(statSync(layout.headPath(ns, key)).mtimeMs * 1000);
    return t > stamp ? t : undefined;
  } catch {
    return undefined;
  }
}
