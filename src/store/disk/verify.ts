// Checking and repairing a disk tier: every record against its value, file or folder; LRU keys,
// totals, namespace sizes and reference counts against the records; files nothing references.
// A repair re-checks each problem in the transaction that fixes it (a live writer may have fixed
// or replaced the entry since it was read), and rebuilds the derived keys from the records as that
// transaction sees them.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ORPHAN_GRACE_MS, STALE_WORK_MS } from '../../defaults.js';
import { hashFile, treeHash } from '../../hash.js';
import { logDebug } from '../../log.js';
import { cleanStaleWork, isStaleWork } from '../work.js';
import { readHead, verifyFiles } from './files.js';
import type { DiskIndex } from './index.js';
import { unlinkQuietly } from './layout.js';
import { BLOB, FILES, INLINE, valueOffset, type DiskRecord } from './record.js';
import { moveToTrash, safeDecode } from './queue.js';
import { nextStamp } from './access.js';
import type { DiskStore } from './store.js';

/** One problem found by `DiskTier.verify`. */
export interface VerifyProblem {
  namespace?: string;
  key?: string;
  path?: string;
  problem: 'missing-file' | 'checksum' | 'missing-value' | 'bad-record' | 'missing-head' | 'lru-mismatch' | 'totals' | 'refs' | 'orphan-file' | 'stale-tmp';
  detail?: string;
}

export interface VerifyReport {
  entries: number;
  bytes: number;
  problems: VerifyProblem[];
  repaired: number;
}

const HEX32 = /^[0-9a-f]{32}$/;

interface Seen {
  ns: string;
  key: string;
  rec: DiskRecord | undefined;
  value?: Buffer;
  error?: string;
}

/** Checks one entry's bytes; a problem, if any. */
async function checkEntry(store: DiskStore, e: Seen): Promise<Omit<VerifyProblem, 'namespace' | 'key'> | undefined> {
  const { rec } = e;
  if (!rec) return { problem: 'bad-record', detail: e.error };
  if (rec.type === INLINE) {
    if (e.value === undefined) return { problem: 'missing-value' };
    return e.value.length !== rec.size || treeHash(e.value) !== rec.hash ? { problem: 'checksum' } : undefined;
  }
  if (rec.type === BLOB) {
    const path = store.layout.blobPath(rec.hash);
    try {
      return statSync(path).size !== rec.size || (await hashFile(path)) !== rec.hash ? { path, problem: 'checksum' } : undefined;
    } catch {
      return { path, problem: 'missing-file' };
    }
  }
  const found = readHead(store.layout, e.ns, e.key);
  if (!found) return { problem: 'missing-head' };
  if ('damaged' in found) return { problem: found.id === undefined ? 'bad-record' : 'missing-file', detail: found.damaged };
  if (found.entry.dir !== store.layout.entryDir(rec.hash)) return { problem: 'bad-record', detail: 'head and record name different files' };
  const why = await verifyFiles(found.entry);
  return why ? { path: found.entry.dir, problem: 'checksum', detail: why } : undefined;
}

export async function verifyDisk(store: DiskStore, options: { repair: boolean; onProgress?: (done: number, total: number) => void }): Promise<VerifyReport> {
  const idx = store.index();
  store.access.flush();
  idx.refresh();
  // Read everything first: no awaits while an LMDB cursor is open.
  const seen: Seen[] = [];
  for (const [ns, key, raw] of idx.entries()) {
    try {
      const rec = safeDecodeStrict(raw);
      seen.push({ ns, key, rec, ...(rec.type === INLINE ? { value: Buffer.from(raw.subarray(valueOffset(raw), raw.length)) } : {}) });
    } catch (err) {
      seen.push({ ns, key, rec: undefined, error: (err as Error).message });
    }
  }
  const lru = new Set<string>();
  for (const [stamp, ns, key] of idx.lru()) lru.add(`${ns}\0${key}\0${stamp}`);
  const problems: VerifyProblem[] = [];
  const bad: Seen[] = [];
  const sizes = new Map<string, { entries: number; bytes: number }>();
  const refs = new Map<string, number>();
  let entries = 0;
  let bytes = 0;
  for (const [i, e] of seen.entries()) {
    options.onProgress?.(i + 1, seen.length);
    const p = await checkEntry(store, e);
    if (p) {
      problems.push({ namespace: e.ns, key: e.key, ...p });
      bad.push(e);
    }
    if (!e.rec) continue;
    entries++;
    bytes += e.rec.size;
    const s = sizes.get(e.ns) ?? { entries: 0, bytes: 0 };
    sizes.set(e.ns, { entries: s.entries + 1, bytes: s.bytes + e.rec.size });
    if (e.rec.type !== INLINE) refs.set(e.rec.hash, (refs.get(e.rec.hash) ?? 0) + 1);
    const stamp = idx.stamp(e.ns, e.key);
    if (stamp === undefined || !lru.delete(`${e.ns}\0${e.key}\0${stamp}`)) problems.push({ namespace: e.ns, key: e.key, problem: 'lru-mismatch', detail: 'entry has no LRU key' });
  }
  for (const stale of lru) {
    const [ns, key] = stale.split('\0');
    problems.push({ namespace: ns, key, problem: 'lru-mismatch', detail: 'LRU key without entry' });
  }
  const totals = idx.totals();
  if (totals.bytes !== bytes || totals.entries !== entries) {
    problems.push({ problem: 'totals', detail: `index says ${totals.entries} entries / ${totals.bytes} bytes, found ${entries} / ${bytes}` });
  }
  for (const [ns, c] of idx.allCounters()) {
    const s = sizes.get(ns) ?? { entries: 0, bytes: 0 };
    if (c.entries !== s.entries || c.bytes !== s.bytes) problems.push({ namespace: ns, problem: 'totals', detail: `namespace ${ns}: counters say ${c.entries} entries / ${c.bytes} bytes, found ${s.entries} / ${s.bytes}` });
  }
  for (const [id, n] of idx.allRefs()) {
    if (refs.get(id) !== n) problems.push({ problem: 'refs', detail: `${id} has ${n} references, ${refs.get(id) ?? 0} records use it` });
    refs.delete(id);
  }
  for (const [id, n] of refs) problems.push({ problem: 'refs', detail: `${id} has no references, ${n} records use it` });
  const orphans = listOrphans(store, ORPHAN_GRACE_MS);
  for (const o of orphans) problems.push({ path: o.path, problem: 'orphan-file' });
  for (const name of safeReaddir(store.layout.tmp)) {
    if (isStaleWork(store.layout.tmp, name, STALE_WORK_MS)) problems.push({ path: join(store.layout.tmp, name), problem: 'stale-tmp' });
  }

  let repaired = 0;
  if (options.repair && problems.length > 0) {
    repaired += repairIndex(store, idx, bad);
    const derived = problems.filter((p) => p.problem === 'lru-mismatch' || p.problem === 'totals' || p.problem === 'refs').length;
    repaired += derived + removeOrphans(store, orphans) + cleanStaleWork(store.layout.tmp, STALE_WORK_MS).length;
  }
  return { entries, bytes, problems, repaired };
}

function safeDecodeStrict(raw: Buffer): DiskRecord {
  const rec = safeDecode(raw);
  if (!rec) throw new Error('record cannot be decoded');
  return rec;
}

/** Drops bad entries (each only if unchanged since it was judged) and rebuilds derived keys. */
function repairIndex(store: DiskStore, idx: DiskIndex, bad: Seen[]): number {
  const freed: string[] = [];
  const trash: string[] = [];
  const dropped = idx.txn(() => {
    let n = 0;
    for (const e of bad) {
      const raw = idx.recordView(e.ns, e.key);
      if (raw === undefined) continue;
      const now = safeDecode(raw);
      if (e.rec ? now?.hash !== e.rec.hash : now !== undefined) continue; // replaced since: not ours to drop
      idx.removeRecord(e.ns, e.key);
      idx.removeStamp(e.ns, e.key);
      if (now?.type === FILES) unlinkQuietly([store.layout.headPath(e.ns, e.key)]);
      // Damaged content goes at once: the next put of the same content must not reuse it.
      if (now && now.type !== INLINE) store.queue.removeContentInTxn(now.hash, trash);
      n++;
    }
    rebuild(idx, freed);
    return n;
  });
  store.queue.removeTrees(trash);
  store.queue.releaseFreed(freed);
  return dropped;
}

/** Inside a commit: LRU keys, totals, namespace sizes and references recomputed from the records. */
function rebuild(idx: DiskIndex, freed: string[]): void {
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
    if (want === 0) freed.push(id);
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
