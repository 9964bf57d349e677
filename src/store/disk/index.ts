// The disk tier's LMDB schema: one database, keys tagged by what they hold (ordered-binary arrays,
// so that a namespace is a key range):
//
//   ['e', ns, key]          record (see record.ts), inline value included
//   ['a', ns, key]          last access stamp (f64, µs), beside the immutable record
//   ['l', stamp, ns, key]   LRU order (empty value)
//   ['r', id]               references to a blob file or an entry folder (u32)
//   ['c', ns]               namespace counters: entries, bytes, hits, misses, puts, evictions (f64 x 6)
//   ['m', name]             totals (bytes, entries: f64 x 2), layout version, stored size limit
//
// Writes happen only inside `txn` (lmdb-js `transactionSync`): a short synchronous callback, so
// LMDB's write lock is never held across an event-loop turn of this process.
import type { Key as LmdbKey, RootDatabase } from 'lmdb';
import { CacheError } from '../../errors.js';
import type { NamespaceStats } from '../tier.js';
import { decodeRecord, type DiskRecord } from './record.js';

export const LAYOUT_VERSION = 2;

/** Persistent counters of one namespace. */
export type Counters = Omit<NamespaceStats, 'namespace'>;
const COUNTER_FIELDS = ['entries', 'bytes', 'hits', 'misses', 'puts', 'evictions'] as const;

type Key = (string | number)[];
const EMPTY = Buffer.alloc(0);
// Sorts after every key of the grammar (whose characters are all below '~').
const END = '~';

export class DiskIndex {
  readonly root: RootDatabase<Buffer, LmdbKey>;
  // Reused key arrays: a hit builds no key object (lmdb-js encodes the array at once).
  readonly #e: Key = ['e', '', ''];
  // Inside a transaction: changes of totals and counters not written yet.
  #totals: { bytes: number; entries: number } | undefined;
  #counters: Map<string, Partial<Counters>> | undefined;

  constructor(root: RootDatabase<Buffer, LmdbKey>) {
    this.root = root;
  }

  /**
   * Runs `fn` in a write transaction (synchronous: see the module comment). Totals and counters
   * changed in it are summed in memory and written once, at its end.
   */
  txn<T>(fn: () => T): T {
    return this.root.transactionSync(() => {
      this.#totals = { bytes: 0, entries: 0 };
      this.#counters = new Map();
      try {
        const result = fn();
        this.#writeSums();
        return result;
      } finally {
        this.#totals = undefined;
        this.#counters = undefined;
      }
    }) as T;
  }

  #writeSums(): void {
    const t = this.#totals!;
    if (t.bytes !== 0 || t.entries !== 0) {
      const stored = this.#storedTotals();
      this.#putTotals(stored.bytes + t.bytes, stored.entries + t.entries);
    }
    for (const [ns, delta] of this.#counters!) {
      const c = decodeCounters(this.root.getBinaryFast(['c', ns] as never) as Buffer | undefined);
      for (const f of COUNTER_FIELDS) c[f] += delta[f] ?? 0;
      this.#putCounters(ns, c);
    }
  }

  /** Starts reads from the newest snapshot (after writes of other processes). */
  refresh(): void {
    this.root.resetReadTxn();
  }

  // ---------------------------------------------------------------------------------- reads

  /** The record's bytes, in a buffer that the next LMDB call overwrites: read it at once. */
  recordView(ns: string, key: string): Buffer | undefined {
    const k = this.#e;
    k[1] = ns;
    k[2] = key;
    return this.root.getBinaryFast(k as never) as Buffer | undefined;
  }

  /** The decoded record (a CacheError ERR_CORRUPT when damaged). */
  record(ns: string, key: string): DiskRecord | undefined {
    const raw = this.recordView(ns, key);
    return raw === undefined ? undefined : decodeRecord(raw);
  }

  /** The record, or undefined when absent or damaged. */
  recordSafe(ns: string, key: string): DiskRecord | undefined {
    try {
      return this.record(ns, key);
    } catch {
      return undefined;
    }
  }

  hasEntry(ns: string, key: string): boolean {
    return this.recordView(ns, key) !== undefined;
  }

  stamp(ns: string, key: string): number | undefined {
    const b = this.root.getBinaryFast(['a', ns, key] as never) as Buffer | undefined;
    return b && b.length === 8 ? b.readDoubleLE(0) : undefined;
  }

  totals(): { bytes: number; entries: number } {
    const t = this.#storedTotals();
    if (this.#totals) {
      t.bytes += this.#totals.bytes;
      t.entries += this.#totals.entries;
    }
    return t;
  }

  #storedTotals(): { bytes: number; entries: number } {
    const t = this.root.getBinaryFast(['m', 'totals'] as never) as Buffer | undefined;
    if (!t || t.length !== 16) return { bytes: 0, entries: 0 };
    return { bytes: t.readDoubleLE(0), entries: t.readDoubleLE(8) };
  }

  counters(ns: string): Counters {
    const c = decodeCounters(this.root.getBinaryFast(['c', ns] as never) as Buffer | undefined);
    const d = this.#counters?.get(ns);
    if (d) for (const f of COUNTER_FIELDS) c[f] += d[f] ?? 0;
    return c;
  }

  /** Every namespace with counters, and its counters. */
  *allCounters(): Generator<[string, Counters]> {
    for (const { key, value } of this.root.getRange({ start: ['c'], end: ['c', END] } as never)) {
      yield [(key as unknown as Key)[1] as string, decodeCounters(value as Buffer)];
    }
  }

  refs(id: string): number {
    const b = this.root.getBinaryFast(['r', id] as never) as Buffer | undefined;
    return b && b.length === 4 ? b.readUInt32LE(0) : 0;
  }

  meta(name: string): Buffer | undefined {
    return this.root.getBinary(['m', name] as never) as Buffer | undefined;
  }

  /** Records of `ns` (every namespace when undefined), in key order: [ns, key, bytes]. */
  *entries(ns?: string): Generator<[string, string, Buffer]> {
    const range = ns === undefined ? { start: ['e'], end: ['e', END] } : { start: ['e', ns], end: ['e', ns, END] };
    for (const { key, value } of this.root.getRange(range as never)) {
      const k = key as unknown as Key;
      yield [k[1] as string, k[2] as string, value as Buffer];
    }
  }

  /** The LRU order, least recently used first: [stamp, ns, key]. */
  *lru(): Generator<[number, string, string]> {
    for (const { key } of this.root.getRange({ start: ['l'], end: ['l', END] } as never)) {
      const k = key as unknown as Key;
      yield [k[1] as number, k[2] as string, k[3] as string];
    }
  }

  /** Every referenced id (blob hash or entry folder id) with its count. */
  *allRefs(): Generator<[string, number]> {
    for (const { key, value } of this.root.getRange({ start: ['r'], end: ['r', END] } as never)) {
      const v = value as Buffer;
      yield [(key as unknown as Key)[1] as string, v.length === 4 ? v.readUInt32LE(0) : 0];
    }
  }

  // --------------------------------------------------------------- writes (inside txn only)

  putRecord(ns: string, key: string, record: Buffer): void {
    this.root.putSync(['e', ns, key] as never, record);
  }

  removeRecord(ns: string, key: string): boolean {
    return this.root.removeSync(['e', ns, key] as never);
  }

  /** Sets the last access of an entry, moving its LRU key. */
  setStamp(ns: string, key: string, stamp: number, old?: number): void {
    if (old !== undefined) this.root.removeSync(['l', old, ns, key] as never);
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(stamp, 0);
    this.root.putSync(['a', ns, key] as never, b);
    this.root.putSync(['l', stamp, ns, key] as never, EMPTY);
  }

  removeStamp(ns: string, key: string): void {
    const old = this.stamp(ns, key);
    this.root.removeSync(['a', ns, key] as never);
    if (old !== undefined) this.root.removeSync(['l', old, ns, key] as never);
  }

  removeLruKey(stamp: number, ns: string, key: string): void {
    this.root.removeSync(['l', stamp, ns, key] as never);
  }

  /** Adds `delta` references to `id`; returns the count after. At 0 the reference key is removed. */
  addRef(id: string, delta: number): number {
    const n = Math.max(0, this.refs(id) + delta);
    if (n === 0) this.root.removeSync(['r', id] as never);
    else {
      const b = Buffer.allocUnsafe(4);
      b.writeUInt32LE(n, 0);
      this.root.putSync(['r', id] as never, b);
    }
    return n;
  }

  /** Inside a transaction: changes the totals (written once, at its end). */
  addTotals(bytes: number, entries: number): void {
    this.#totals!.bytes += bytes;
    this.#totals!.entries += entries;
  }

  /** Inside a transaction: sets the totals (verify's rebuild). */
  setTotals(bytes: number, entries: number): void {
    this.#totals = { bytes: 0, entries: 0 };
    this.#putTotals(bytes, entries);
  }

  #putTotals(bytes: number, entries: number): void {
    const b = Buffer.allocUnsafe(16);
    b.writeDoubleLE(Math.max(0, bytes), 0);
    b.writeDoubleLE(Math.max(0, entries), 8);
    this.root.putSync(['m', 'totals'] as never, b);
  }

  /** Inside a transaction: changes the counters of `ns` (written once, at its end). */
  addCounters(ns: string, delta: Partial<Counters>): void {
    const d = this.#counters!.get(ns) ?? {};
    for (const f of COUNTER_FIELDS) if (delta[f] !== undefined) d[f] = (d[f] ?? 0) + delta[f];
    this.#counters!.set(ns, d);
  }

  /** Inside a transaction: sets the entries and bytes of a namespace (verify's rebuild), keeping its other counters. */
  setSize(ns: string, entries: number, bytes: number): void {
    const c = this.counters(ns);
    this.addCounters(ns, { entries: entries - c.entries, bytes: bytes - c.bytes });
  }

  #putCounters(ns: string, c: Counters): void {
    const b = Buffer.allocUnsafe(8 * COUNTER_FIELDS.length);
    COUNTER_FIELDS.forEach((f, i) => b.writeDoubleLE(Math.max(0, c[f]), 8 * i));
    this.root.putSync(['c', ns] as never, b);
  }

  setMeta(name: string, value: Buffer): void {
    this.root.putSync(['m', name] as never, value);
  }

  /** Checks the layout version; writes it only into an empty index. */
  checkLayout(dir: string, writable: boolean): void {
    const v = this.meta('layout');
    if (v === undefined) {
      // Layout 1 kept its tables in named databases; their names are keys of the root one.
      if (this.root.getBinaryFast('meta' as never) !== undefined) throw layoutError(dir, '1');
      if (writable) this.txn(() => this.meta('layout') ?? this.setMeta('layout', Buffer.from(String(LAYOUT_VERSION))));
    } else if (v.toString() !== String(LAYOUT_VERSION)) {
      throw layoutError(dir, v.toString());
    }
  }
}

function decodeCounters(b: Buffer | undefined): Counters {
  const c: Counters = { entries: 0, bytes: 0, hits: 0, misses: 0, puts: 0, evictions: 0 };
  if (b && b.length === 8 * COUNTER_FIELDS.length) COUNTER_FIELDS.forEach((f, i) => (c[f] = b.readDoubleLE(8 * i)));
  return c;
}

function layoutError(dir: string, found: string): CacheError {
  return new CacheError('ERR_BAD_INPUT', `cache at ${dir} has layout version ${found}; this modelcache reads version ${LAYOUT_VERSION} (remove the directory, or point dir elsewhere)`);
}
