// Checking and repairing a disk tier: every record against its value, file or folder; LRU keys,
// totals, namespace sizes and reference counts against the records; files nothing references.
// Everything compared is read in one snapshot (a live writer never makes a report inconsistent);
// a problem of an entry counts only once confirmed under the write lock, its record unchanged and
// the problem still there, and a repair fixes it in that same transaction. Derived keys are
// rebuilt from the records as one commit sees them; no repair ever clears a database.
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ORPHAN_GRACE_MS, STALE_WORK_MS } from '../../defaults.js';
import { hashFile, treeHash } from '../../hash.js';
import { logDebug } from '../../log.js';
import { cleanStaleWork, isStaleWork } from '../work.js';
import { readHead, verifyFiles } from './files.js';
import type { Counters, DiskIndex } from './index.js';
import { blobState } from './blob.js';
import { unlinkQuietly } from './layout.js';
import { BLOB, FILES, INLINE, valueOffset, type DiskRecord } from './record.js';
import { moveToTrash, safeDecode, type Freed } from './queue.js';
import { nextStamp } from './access.js';
import type { DiskStore } from './store.js';

/** One problem found by `DiskTier.verify`. */
export interface VerifyProblem {
  /** Namespace of the entry concerned (absent for problems of the index as a whole or of a stray file). */
  namespace?: string;
  /** Key of the entry concerned, when the problem is one entry's. */
  key?: string;
  /** The file or folder concerned, when there is one (a damaged blob, an orphan, a stale work file). */
  path?: string;
  /**
   * What is wrong. Entry problems (a read would drop the entry as a miss; repair deletes it):
   * `'missing-file'` (its file is gone), `'checksum'` (its bytes differ from the recorded hash or
   * size), `'missing-value'`, `'bad-record'` (its index record cannot be decoded, or names the
   * wrong files), `'missing-head'` (a file entry's head file is gone). Index bookkeeping (repair
   * recomputes it from the records): `'lru-mismatch'`, `'totals'` (byte or entry totals, overall or
   * per namespace), `'refs'` (reference counts of shared content). Stray files (repair removes
   * them): `'orphan-file'` (a file no entry references, older than a minute) and `'stale-tmp'` (a
   * work file whose writer is gone, or older than a day).
   */
  problem: 'missing-file' | 'checksum' | 'missing-value' | 'bad-record' | 'missing-head' | 'lru-mismatch' | 'totals' | 'refs' | 'orphan-file' | 'stale-tmp';
  /** Human-readable specifics (expected and found counts, why a file failed). */
  detail?: string;
}

/** What `DiskTier.verify` found (and, with `repair: true`, fixed). */
export interface VerifyReport {
  /** Entries the index holds (with a readable record), damaged ones included. */
  entries: number;
  /** Stored bytes of those entries, as their records say. */
  bytes: number;
  /** Every problem found; empty for a healthy cache. An entry's problem is confirmed under the write lock, so a live writer never causes a false report. */
  problems: VerifyProblem[];
  /** How many problems were fixed; always 0 without `repair: true` or on a read-only tier. */
  repaired: number;
}

const HEX32 = /^[0-9a-f]{32}$/;

/** An entry as the snapshot saw it: its record bytes (a copy) and its last access. */
interface Seen {
  ns: string;
  key: string;
  raw: Buffer;
  rec: DiskRecord | undefined;
  stamp: number | undefined;
}

/** Everything verify compares, read in one snapshot (no await in between: one read transaction). */
interface Snapshot {
  seen: Seen[];
  lru: Set<string>;
  totals: { bytes: number; entries: number };
  counters: [string, Counters][];
  refs: [string, number][];
}

function takeSnapshot(idx: DiskIndex): Snapshot {
  idx.refresh();
  const seen: Seen[] = [];
  for (const [ns, key, raw] of idx.entries()) seen.push({ ns, key, raw: Buffer.from(raw), rec: safeDecode(raw), stamp: undefined });
  for (const e of seen) e.stamp = idx.stamp(e.ns, e.key);
  const lru = new Set<string>();
  for (const [stamp, ns, key] of idx.lru()) lru.add(`${ns}\0${key}\0${stamp}`);
  return { seen, lru, totals: idx.totals(), counters: [...idx.allCounters()], refs: [...idx.allRefs()] };
}

/** A problem of one entry, with what must still hold for it to be true when it is confirmed. */
interface Found {
  e: Seen;
  problem: Omit<VerifyProblem, 'namespace' | 'key'>;
  /** Asked under the write lock (or in a fresh snapshot when read-only), the record unchanged. */
  stillBad: () => boolean;
}

/** The identity of a file's bytes: the same file, never written since (content files never are). */
function identity(path: string): string {
  try {
    const st = lstatSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return 'missing';
  }
}

/** Checks one entry's bytes; a problem, if any. */
async function checkEntry(store: DiskStore, e: Seen): Promise<Found | undefined> {
  const { rec } = e;
  const found = (problem: Found['problem'], stillBad: () => boolean = () => true): Found => ({ e, problem, stillBad });
  if (!rec) return found({ problem: 'bad-record', detail: 'record cannot be decoded' });
  if (rec.type === INLINE) {
    const value = e.raw.subarray(valueOffset(e.raw));
    return value.length !== rec.size || treeHash(value) !== rec.hash ? found({ problem: 'checksum' }) : undefined;
  }
  if (rec.type === BLOB) {
    const path = store.layout.blobPath(rec.hash);
    const before = identity(path);
    const state = blobState(path, rec.size);
    const same = () => identity(path) === before;
    if (state === 'missing') return found({ path, problem: 'missing-file' }, same);
    if (state !== 'ok') return found({ path, problem: 'checksum', detail: state }, same);
    try {
      return (await hashFile(path)) !== rec.hash ? found({ path, problem: 'checksum' }, same) : undefined;
    } catch {
      return found({ path, problem: 'missing-file' }, () => identity(path) === 'missing' || same());
    }
  }
  const head = store.layout.headPath(e.ns, e.key);
  const headBefore = identity(head);
  const entry = readHead(store.layout, e.ns, e.key);
  if (!entry) return found({ problem: 'missing-head' }, () => identity(head) === 'missing');
  const sameHead = () => identity(head) === headBefore;
  if ('damaged' in entry) {
    // A missing file: the same head, and the files it names still not all there.
    const again = () => sameHead() && 'damaged' in (readHead(store.layout, e.ns, e.key) ?? { damaged: '' });
    return found({ problem: entry.id === undefined ? 'bad-record' : 'missing-file', detail: entry.damaged }, again);
  }
  if (entry.entry.dir !== store.layout.entryDir(rec.hash)) return found({ problem: 'bad-record', detail: 'head and record name different files' }, sameHead);
  const ids = entry.entry.files.map((f) => identity(f.path));
  const why = await verifyFiles(entry.entry);
  const sameFiles = () => sameHead() && entry.entry.files.every((f, i) => identity(f.path) === ids[i]);
  return why ? found({ path: entry.entry.dir, problem: 'checksum', detail: why }, sameFiles) : undefined;
}

export async function verifyDisk(store: DiskStore, options: { repair: boolean; onProgress?: (done: number, total: number) => void }): Promise<VerifyReport> {
  const idx = store.index();
  store.access.flush();
  const snap = takeSnapshot(idx);
  const candidates: Found[] = [];
  const sizes = new Map<string, { entries: number; bytes: number }>();
  const refs = new Map<string, number>();
  const lruProblems: VerifyProblem[] = [];
  let entries = 0;
  let bytes = 0;
  for (const e of snap.seen) {
    if (!e.rec) continue;
    entries++;
    bytes += e.rec.size;
    const s = sizes.get(e.ns) ?? { entries: 0, bytes: 0 };
    sizes.set(e.ns, { entries: s.entries + 1, bytes: s.bytes + e.rec.size });
    if (e.rec.type !== INLINE) refs.set(e.rec.hash, (refs.get(e.rec.hash) ?? 0) + 1);
    if (e.stamp === undefined || !snap.lru.delete(`${e.ns}\0${e.key}\0${e.stamp}`)) lruProblems.push({ namespace: e.ns, key: e.key, problem: 'lru-mismatch', detail: 'entry has no LRU key' });
  }
  for (const [i, e] of snap.seen.entries()) {
    options.onProgress?.(i + 1, snap.seen.length);
    const f = await checkEntry(store, e);
    if (f) candidates.push(f);
  }
  const derived: VerifyProblem[] = [...lruProblems];
  for (const stale of snap.lru) {
    const [ns, key] = stale.split('\0');
    derived.push({ namespace: ns, key, problem: 'lru-mismatch', detail: 'LRU key without entry' });
  }
  if (snap.totals.bytes !== bytes || snap.totals.entries !== entries) {
    derived.push({ problem: 'totals', detail: `index says ${snap.totals.entries} entries / ${snap.totals.bytes} bytes, found ${entries} / ${bytes}` });
  }
  for (const [ns, c] of snap.counters) {
    const s = sizes.get(ns) ?? { entries: 0, bytes: 0 };
    if (c.entries !== s.entries || c.bytes !== s.bytes) derived.push({ namespace: ns, problem: 'totals', detail: `namespace ${ns}: counters say ${c.entries} entries / ${c.bytes} bytes, found ${s.entries} / ${s.bytes}` });
  }
  for (const [id, n] of snap.refs) {
    if (refs.get(id) !== n) derived.push({ problem: 'refs', detail: `${id} has ${n} references, ${refs.get(id) ?? 0} records use it` });
    refs.delete(id);
  }
  for (const [id, n] of refs) derived.push({ problem: 'refs', detail: `${id} has no references, ${n} records use it` });

  const repair = options.repair && !store.readOnly;
  const confirmed = confirm(store, idx, candidates, repair);
  const problems: VerifyProblem[] = confirmed.map((f) => ({ namespace: f.e.ns, key: f.e.key, ...f.problem }));
  problems.push(...derived);
  const orphans = listOrphans(store, ORPHAN_GRACE_MS);
  for (const o of orphans) problems.push({ path: o.path, problem: 'orphan-file' });
  for (const name of safeReaddir(store.layout.tmp)) {
    if (isStaleWork(store.layout.tmp, name, STALE_WORK_MS)) problems.push({ path: join(store.layout.tmp, name), problem: 'stale-tmp' });
  }

  let repaired = 0;
  if (repair) {
    repaired += confirmed.length;
    if (derived.length > 0) {
      rebuildIndex(store, idx);
      repaired += derived.length;
    }
    repaired += removeOrphans(store, orphans) + cleanStaleWork(store.layout.tmp, STALE_WORK_MS).length;
  }
  return { entries, bytes, problems, repaired };
}

/**
 * The candidates that are still problems: each record unchanged (the same bytes) and its
 * `stillBad()` true, judged under the write lock, while no process places or removes a file (or,
 * read-only, in a fresh snapshot). With `repair`, each is dropped in that same transaction.
 */
function confirm(store: DiskStore, idx: DiskIndex, candidates: Found[], repair: boolean): Found[] {
  if (candidates.length === 0) return [];
  const unchanged = (f: Found) => {
    const now = idx.recordView(f.e.ns, f.e.key);
    // lmdb-js hands out a reused buffer whose `length` is the value's: compare that many bytes.
    return now !== undefined && now.length === f.e.raw.length && f.e.raw.equals(now.subarray(0, now.length)) && f.stillBad();
  };
  if (store.readOnly) {
    idx.refresh();
    return candidates.filter(unchanged);
  }
  const freed: Freed[] = [];
  const trash: string[] = [];
  const out = idx.txn(() => {
    const bad = candidates.filter(unchanged);
    if (repair) {
      for (const f of bad) {
        store.queue.removeInTxn(idx, f.e.ns, f.e.key, f.e.rec, freed);
        // Damaged content goes at once: the next put of the same content must not reuse it.
        if (f.e.rec && f.e.rec.type !== INLINE) store.queue.removeContentInTxn({ id: f.e.rec.hash, type: f.e.rec.type }, trash);
      }
    }
    return bad;
  });
  store.queue.removeTrees(trash);
  store.queue.releaseFreed(freed);
  return out;
}

/** Rebuilds the derived keys from the records, in one commit (never a clear of the database). */
function rebuildIndex(store: DiskStore, idx: DiskIndex): void {
  const freed: Freed[] = [];
  idx.txn(() => rebuild(idx, freed));
  store.queue.releaseFreed(freed);
}

/** Inside a commit: LRU keys, totals, namespace sizes and references recomputed from the records. */
function rebuild(idx: DiskIndex, freed: Freed[]): void {
  const records: [string, string, DiskRecord][] = [];
  for (const [ns, key, raw] of idx.entries()) {
    const rec = safeDecode(raw);
    if (rec) records.push([ns, key, rec]);
  }
  const staleLru: [number, string, string][] = [];
  for (const [stamp, ns, key] of idx.lru()) if (idx.stamp(ns, key) !== stamp || !idx.hasEntry(ns, key)) staleLru.push([stamp, ns, key]);
  for (const [stamp, ns, key] of staleLru) idx.removeLruKey(stamp, ns, key);
  const sizes = new Map<string, { entries: number; bytes: number }>();
  const refs = new Map<string, number>();
  let bytes = 0;
  for (const [ns, key, rec] of records) {
    const stamp = idx.stamp(ns, key);
    if (stamp === undefined) idx.setStamp(ns, key, nextStamp());
    else idx.setStamp(ns, key, stamp, stamp);
    bytes += rec.size;
    const s = sizes.get(ns) ?? { entries: 0, bytes: 0 };
    sizes.set(ns, { entries: s.entries + 1, bytes: s.bytes + rec.size });
    if (rec.type !== INLINE) refs.set(rec.hash, (refs.get(rec.hash) ?? 0) + 1);
  }
  idx.setTotals(bytes, records.length);
  for (const [ns] of [...idx.allCounters()]) if (!sizes.has(ns)) idx.setSize(ns, 0, 0);
  for (const [ns, s] of sizes) idx.setSize(ns, s.entries, s.bytes);
  for (const [id, n] of [...idx.allRefs()]) {
    const want = refs.get(id) ?? 0;
    refs.delete(id);
    if (want !== n) idx.addRef(id, want - n);
    if (want === 0) freed.push({ id });
  }
  for (const [id, n] of refs) idx.addRef(id, n);
}

interface Orphan {
  path: string;
  kind: 'blob' | 'folder' | 'head';
  id?: string;
  ns?: string;
  key?: string;
}

/** Files and folders older than `graceMs` that nothing references (a young one may be a put in flight). */
function listOrphans(store: DiskStore, graceMs: number): Orphan[] {
  const idx = store.index();
  idx.refresh();
  const { layout } = store;
  const out: Orphan[] = [];
  const old = (p: string) => isOlderThan(p, graceMs);
  for (const a of safeReaddir(layout.blobs)) {
    for (const b of safeReaddir(join(layout.blobs, a))) {
      for (const f of safeReaddir(join(layout.blobs, a, b))) {
        const path = join(layout.blobs, a, b, f);
        if (old(path) && (!HEX32.test(f) || idx.refs(f) === 0 || layout.blobPath(f) !== path)) out.push({ path, kind: 'blob', id: f });
      }
    }
  }
  for (const a of safeReaddir(layout.files)) {
    for (const id of safeReaddir(join(layout.files, a))) {
      const path = join(layout.files, a, id);
      if (old(path) && (!HEX32.test(id) || idx.refs(id) === 0 || layout.entryDir(id) !== path)) out.push({ path, kind: 'folder', id });
    }
  }
  for (const ns of safeReaddir(layout.heads)) {
    for (const a of safeReaddir(join(layout.heads, ns))) {
      for (const key of safeReaddir(join(layout.heads, ns, a))) {
        const path = join(layout.heads, ns, a, key);
        if (old(path) && idx.recordSafe(ns, key)?.type !== FILES) out.push({ path, kind: 'head', ns, key });
      }
    }
  }
  return out;
}

/** Removes orphans, each re-checked in the commit that removes it (a put may have referenced it since). */
function removeOrphans(store: DiskStore, orphans: Orphan[]): number {
  if (orphans.length === 0) return 0;
  const idx = store.index();
  const trash: string[] = [];
  const removed = idx.txn(() => {
    let n = 0;
    for (const o of orphans) {
      if (o.kind === 'head' ? idx.recordSafe(o.ns!, o.key!)?.type === FILES : HEX32.test(o.id!) && idx.refs(o.id!) > 0) continue;
      if (o.kind === 'folder') moveToTrash(store.layout, o.path, trash);
      else unlinkQuietly([o.path]);
      n++;
    }
    return n;
  });
  store.queue.removeTrees(trash);
  return removed;
}

/** Removes files nothing references, older than `graceMs`; how many. */
export function collectOrphans(store: DiskStore, graceMs: number): number {
  const removed = removeOrphans(store, listOrphans(store, graceMs));
  if (removed > 0) logDebug(`disk: removed ${removed} orphan file(s) in ${store.layout.dir}`);
  return removed;
}

function isOlderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
