// Access times and hit counts of a cache directory: recorded in memory on the hit path (no index
// opened for them), written in batches by a timer, with each commit, and at exit. They are
// advisory (LRU order, statistics): losing some never changes a value.
import type { DiskIndex } from './index.js';
import type { DiskStore } from './store.js';

let lastStamp = 0;
/** Unique, increasing access stamps (µs since epoch) within this process. */
export function nextStamp(): number {
  lastStamp = Math.max(Date.now() * 1000, lastStamp + 1);
  return lastStamp;
}

export class AccessLog {
  readonly #store: DiskStore;
  readonly #stamps = new Map<string, Map<string, number>>();
  readonly #counts = new Map<string, { hits: number; misses: number }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(store: DiskStore) {
    this.#store = store;
  }

  /** Stops the background writes (the last handle closed). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Records an access to write in the background (the index is not opened for it now). */
  touch(ns: string, key: string): void {
    if (this.#store.readOnly) return;
    let m = this.#stamps.get(ns);
    if (!m) this.#stamps.set(ns, (m = new Map()));
    m.set(key, nextStamp());
    this.#schedule(m.size >= 4096 ? 0 : this.#store.accessFlushMs);
  }

  /** Adds hits and misses of a namespace (written with the access times). */
  countAccess(ns: string, hits: number, misses: number): void {
    let c = this.#counts.get(ns);
    if (!c) this.#counts.set(ns, (c = { hits: 0, misses: 0 }));
    c.hits += hits;
    c.misses += misses;
    this.#schedule(this.#store.accessFlushMs);
  }

  /** The access stamp of `key` not yet written, if any. */
  pending(ns: string, key: string): number | undefined {
    return this.#stamps.get(ns)?.get(key);
  }

  drop(ns: string, key: string): void {
    this.#stamps.get(ns)?.delete(key);
  }

  #schedule(ms: number): void {
    if (this.#timer && ms > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        this.flush(true);
      } catch (err) {
        this.#store.fail('access-time update', err);
      }
    }, ms);
    this.#timer.unref();
  }

  /** Writes batched access times and counters (opening the index only when `open`). */
  flush(open = false): void {
    if (this.#stamps.size === 0 && this.#counts.size === 0) return;
    if ((!this.#store.indexOpen && !open) || this.#store.released || this.#store.readOnly) return;
    const idx = this.#store.index();
    try {
      idx.txn(() => this.writeInTxn(idx));
    } catch (err) {
      this.#store.fail('access-time update', err); // advisory: LRU order and hit counts, never values
    }
  }

  /** Inside a commit: writes what is pending. */
  writeInTxn(idx: DiskIndex): void {
    for (const [ns, m] of this.#stamps) {
      for (const [key, stamp] of m) {
        const old = idx.stamp(ns, key);
        if (old !== undefined && old < stamp) idx.setStamp(ns, key, stamp, old);
      }
    }
    for (const [ns, c] of this.#counts) idx.addCounters(ns, c);
    this.#stamps.clear();
    this.#counts.clear();
  }
}
