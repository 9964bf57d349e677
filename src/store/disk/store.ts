// The state one process keeps per cache directory, shared by every DiskTier handle on it: the
// index (opened on first need), the write queue, batched access times and counters, the open
// marker. A put is acknowledged once it is queued; the queue is committed on the next turn of
// the event loop, by `flush()`, and at exit (`process.exit()` included) synchronously.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EVICT_TARGET, STALE_WORK_MS } from '../../defaults.js';
import { logDebug, warn } from '../../log.js';
import { atExit } from '../exit.js';
import { cleanStaleWork, workName } from '../work.js';
import { emptyStats, type TierStats } from '../tier.js';
import { DiskIndex } from './index.js';
import { Layout, unlinkQuietly } from './layout.js';
import { openEnv, releaseEnv } from './lmdb.js';
import { BLOB, decodeRecord, FILES, INLINE, type DiskRecord, type RecordType } from './record.js';

/** A queued write. */
export interface PutOp {
  ns: string;
  key: string;
  type: RecordType;
  /** The encoded record (with the value itself when inline). */
  record: Buffer;
  size: number;
  /** The value's tree hash, or the file entry's files id. */
  hash: string;
  /** BLOB: a work file holding the bytes, moved in at commit. */
  blobFile?: string;
  /** FILES: the work folder holding the files, moved in at commit. */
  work?: string;
  /** FILES: a work file holding the head, moved in by the commit. */
  head?: string;
  /** When it was queued: its first access (so that reads before the commit keep their order). */
  stamp?: number;
}

const BATCH_OPS = 256;
const BATCH_BYTES = 64 << 20;

let lastStamp = 0;
/** Unique, increasing access stamps (µs since epoch) within this process. */
export function nextStamp(): number {
  lastStamp = Math.max(Date.now() * 1000, lastStamp + 1);
  return lastStamp;
}

const stores = new Map<string, DiskStore>();

export class DiskStore {
  readonly layout: Layout;
  readonly stats: TierStats = emptyStats(0);
  /** The size limit given by a handle (undefined: the one stored in the index). */
  explicitMax: number | undefined;
  durable = false;
  accessFlushMs = 1000;
  #handles = 0;
  #index: DiskIndex | undefined;
  #writable = false;
  #cleaned = false;
  readonly #queue = new Map<string, Map<string, PutOp>>();
  #queued = 0;
  #scheduled = false;
  readonly #access = new Map<string, Map<string, number>>();
  readonly #counts = new Map<string, { hits: number; misses: number }>();
  #accessTimer: NodeJS.Timeout | undefined;
  #marker: string | undefined;
  #unregisterExit: (() => void) | undefined;
  #background: Promise<void> | undefined;
  /** Ids whose last reference a commit dropped: their files go in the next commit. */
  readonly #freed: string[] = [];

  private constructor(dir: string) {
    this.layout = new Layout(dir);
  }

  /** The store of `dir` (absolute), shared by every handle of this process. */
  static acquire(dir: string): DiskStore {
    let s = stores.get(dir);
    if (!s) stores.set(dir, (s = new DiskStore(dir)));
    s.#handles++;
    s.#unregisterExit ??= atExit('commit', () => s!.#atExit());
    return s;
  }

  /** Releases a handle: the last one commits, closes the index and removes the marker. */
  async release(): Promise<void> {
    if (--this.#handles > 0) {
      this.flushSync();
      this.flushAccess();
      return;
    }
    stores.delete(this.layout.dir);
    await this.#background;
    this.#atExit();
    this.#unregisterExit?.();
    clearTimeout(this.#accessTimer);
    if (this.#index) {
      this.#index = undefined;
      await releaseEnv(this.layout.index);
    }
  }

  /** Work started in the background at open (orphan collection after a crash). */
  get background(): Promise<void> | undefined {
    return this.#background;
  }

  get indexOpen(): boolean {
    return this.#index !== undefined;
  }

  get maxBytes(): number {
    if (this.explicitMax !== undefined) return this.explicitMax;
    const stored = this.index().meta('maxBytes');
    return stored ? Number(stored.toString()) : Number.POSITIVE_INFINITY;
  }

  /** Marks the store as written to by this process (creates folders and the open marker). */
  writable(): void {
    if (this.#writable) return;
    this.#writable = true;
    this.layout.ensure();
    // A marker per process: one of a dead process means it crashed, possibly between placing a
    // file and indexing it, and the next opener collects such orphans.
    const marker = join(this.layout.tmp, workName('.open'));
    try {
      closeSync(openSync(marker, 'wx', 0o600));
      this.#marker = marker;
    } catch {
      /* a full disk: the cache still works, only crash detection is off */
    }
  }

  /** The index, opened on first need. */
  index(): DiskIndex {
    if (this.#index) return this.#index;
    mkdirSync(this.layout.index, { recursive: true, mode: 0o700 });
    const idx = new DiskIndex(openEnv(this.layout.index));
    try {
      idx.checkLayout(this.layout.dir, this.#handles > 0);
      for (const f of ['data.mdb', 'lock.mdb']) {
        const p = join(this.layout.index, f);
        try {
          if ((statSync(p).mode & 0o077) !== 0) chmodSync(p, 0o600);
        } catch {
          /* created by another process with its own umask; not fatal */
        }
      }
      const stored = idx.meta('maxBytes')?.toString();
      if (this.explicitMax !== undefined && stored !== String(this.explicitMax)) {
        idx.txn(() => idx.setMeta('maxBytes', Buffer.from(String(this.explicitMax))));
      }
    } catch (err) {
      void releaseEnv(this.layout.index);
      throw err;
    }
    this.#index = idx;
    return idx;
  }

  /**
   * Once per process, for a handle that may write: removes work files of dead writers; after a
   * crash (a dead writer's open marker), collects orphans in the background.
   */
  cleanAtOpen(collect: () => void): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    this.layout.ensure();
    const removed = cleanStaleWork(this.layout.tmp, STALE_WORK_MS);
    if (!removed.some((n) => n.endsWith('.open'))) return;
    this.#background = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      if (this.#handles > 0) collect();
    }).catch((err) => this.fail('orphan collection', err));
  }

  fail(op: string, err: unknown): void {
    this.stats.errors++;
    warn('ERR_TIER', `disk tier ${op} failed in ${this.layout.dir} (${(err as Error)?.message ?? err}); continuing without it`);
  }

  // ------------------------------------------------------------------------------ the queue

  get queuedCount(): number {
    return this.#queued;
  }

  queued(ns: string, key: string): PutOp | undefined {
    return this.#queue.get(ns)?.get(key);
  }

  *queuedOps(ns?: string): Generator<PutOp> {
    for (const [n, m] of this.#queue) if (ns === undefined || n === ns) yield* m.values();
  }

  /** Queues a write (replacing a queued one of the same key); it is committed on the next turn. */
  enqueue(op: PutOp): void {
    this.writable();
    op.stamp = nextStamp();
    let m = this.#queue.get(op.ns);
    if (!m) this.#queue.set(op.ns, (m = new Map()));
    const prev = m.get(op.key);
    if (prev) discard(prev);
    else this.#queued++;
    m.set(op.key, op);
    this.#schedule();
  }

  /** Removes a queued write of `key`; whether there was one. */
  dropQueued(ns: string, key: string): boolean {
    const m = this.#queue.get(ns);
    const op = m?.get(key);
    if (!op) return false;
    m!.delete(key);
    this.#queued--;
    discard(op);
    return true;
  }

  dropQueuedNamespace(ns?: string): void {
    for (const op of [...this.queuedOps(ns)]) this.dropQueued(op.ns, op.key);
  }

  /**
   * Commits every queued write now (synchronously), in few short transactions: each also writes
   * pending access times and removes files freed by an earlier commit; then evicts past the limit.
   */
  flushSync(): void {
    if (this.#queued === 0 && this.#freed.length === 0) return;
    const ops = [...this.queuedOps()];
    this.#queue.clear();
    this.#queued = 0;
    let idx: DiskIndex;
    try {
      idx = this.index();
    } catch (err) {
      for (const op of ops) this.#failed(op, err);
      return;
    }
    let last: PutOp | undefined;
    let i = 0;
    do {
      let bytes = 0;
      let j = i;
      while (j < ops.length && j - i < BATCH_OPS && bytes < BATCH_BYTES) bytes += ops[j++].record.length;
      const batch = ops.slice(i, j);
      i = j;
      const release = this.#freed.splice(0);
      const trash: string[] = [];
      let done: boolean[];
      try {
        done = idx.txn(() => {
          const applied = batch.map((op) => this.#apply(idx, op, this.#freed));
          // After the batch: content it references again is kept.
          this.#releaseInTxn(idx, release, trash);
          this.#accessInTxn(idx);
          return applied;
        });
      } catch (err) {
        this.#freed.push(...release);
        this.#afterFailedCommit(idx, batch, err);
        continue;
      }
      this.removeTrees(trash);
      batch.forEach((op, k) => {
        if (done[k]) {
          this.stats.puts++;
          last = op;
        } else this.#failed(op, new Error('its file was removed before the commit'));
        discard(op);
      });
    } while (i < ops.length);
    if (last && idx.totals().bytes > this.maxBytes) {
      try {
        this.evict(Math.floor(this.maxBytes * EVICT_TARGET), last);
      } catch (err) {
        this.fail('eviction', err); // the entries are stored: a failed eviction is not a failed put
      }
    }
    if (this.#freed.length > 0) this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.flushSync();
    });
  }

  /**
   * Inside the commit: moves the op's files in (a folder only unless that content is there
   * already: its own copy is then dropped after the commit) and indexes it.
   */
  #apply(idx: DiskIndex, op: PutOp, freed: string[]): boolean {
    if (op.type === BLOB) {
      // Ours replaces a file of the same content (renamed over it: a live map keeps the old one).
      if (op.blobFile) moveIn(op.blobFile, this.layout.blobPath(op.hash));
      else if (sizeOf(this.layout.blobPath(op.hash)) !== op.size) return false;
      op.blobFile = undefined;
    }
    if (op.type === FILES && !existsSync(this.layout.entryDir(op.hash))) {
      if (!op.work) return false;
      moveIn(op.work, this.layout.entryDir(op.hash));
      op.work = undefined;
    }
    if (op.type !== INLINE) idx.addRef(op.hash, 1);
    const prev = idx.recordView(op.ns, op.key);
    if (prev !== undefined) this.removeInTxn(idx, op.ns, op.key, safeDecode(prev), freed);
    idx.putRecord(op.ns, op.key, op.record);
    idx.setStamp(op.ns, op.key, op.stamp ?? nextStamp());
    idx.addTotals(op.size, 1);
    idx.addCounters(op.ns, { entries: 1, bytes: op.size, puts: 1 });
    if (op.type === FILES) {
      const head = this.layout.headPath(op.ns, op.key);
      mkdirSync(join(head, '..'), { recursive: true, mode: 0o700 });
      renameSync(op.head!, head);
      op.head = undefined;
    }
    return true;
  }

  /**
   * Inside a commit: removes an entry and its access keys. Files whose last reference this was are
   * listed in `freed`, for {@link releaseFreed} after the commit: a reader that read the record
   * before it may still open them until then, and a file missing under a record is damage.
   */
  removeInTxn(idx: DiskIndex, ns: string, key: string, rec: DiskRecord | undefined, freed: string[]): void {
    idx.removeRecord(ns, key);
    idx.removeStamp(ns, key);
    this.dropAccess(ns, key);
    if (!rec) return; // a damaged record: its files are collected as orphans
    idx.addTotals(-rec.size, -1);
    idx.addCounters(ns, { entries: -1, bytes: -rec.size });
    if (rec.type === FILES) unlinkQuietly([this.layout.headPath(ns, key)]);
    if (rec.type !== INLINE && idx.addRef(rec.hash, -1) === 0) freed.push(rec.hash);
  }

  /**
   * After a commit that dropped the last references to `ids`: their files go in a later commit,
   * each only if still unreferenced then (a put of the same content since keeps it). Readers that
   * read the old record can still open them until then: a file missing under a record is damage.
   */
  releaseFreed(ids: string[]): void {
    if (ids.length === 0) return;
    this.#freed.push(...ids);
    this.#schedule();
  }

  #releaseInTxn(idx: DiskIndex, ids: string[], trash: string[]): void {
    for (const id of ids) if (idx.refs(id) === 0) this.removeContentInTxn(id, trash);
  }

  /** Inside a commit: removes the blob file or entry folder of content `id`. */
  removeContentInTxn(id: string, trash: string[]): void {
    unlinkQuietly([this.layout.blobPath(id)]);
    moveToTrash(this.layout, this.layout.entryDir(id), trash);
  }

  #failed(op: PutOp, err: unknown): void {
    this.stats.rejected++;
    discard(op);
    this.fail(`write of ${op.ns}/${op.key}`, err);
  }

  /** After a failed commit (a full disk): files placed for it that nothing references go again. */
  #afterFailedCommit(idx: DiskIndex, batch: PutOp[], err: unknown): void {
    for (const op of batch) this.#failed(op, err);
    const trash: string[] = [];
    try {
      idx.txn(() => {
        for (const op of batch) {
          if (op.type === INLINE || idx.refs(op.hash) > 0) continue;
          if (op.type === BLOB) unlinkQuietly([this.layout.blobPath(op.hash)]);
          else moveToTrash(this.layout, this.layout.entryDir(op.hash), trash);
        }
      });
    } catch {
      /* still failing: verify --repair and orphan collection clean up later */
    }
    this.removeTrees(trash);
  }

  /**
   * Evicts least recently used entries until at most `target` bytes remain. `keep` (what a put
   * just stored) is never evicted: a value that fits the tier is never thrown away by its own put.
   */
  evict(target: number, keep?: { ns: string; key: string }): { evicted: number; bytes: number } {
    const idx = this.index();
    this.flushAccess();
    idx.refresh();
    const freed: string[] = [];
    const result = idx.txn(() => {
      const totals = idx.totals();
      let bytes = 0;
      const victims: [string, string, DiskRecord][] = [];
      const stale: [number, string, string][] = [];
      // Collect first, then delete: no writes while the cursor walks the LRU keys.
      for (const [stamp, ns, key] of idx.lru()) {
        if (totals.bytes - bytes <= target) break;
        if (keep && ns === keep.ns && key === keep.key) continue;
        const rec = idx.stamp(ns, key) === stamp ? idx.recordSafe(ns, key) : undefined;
        if (!rec) stale.push([stamp, ns, key]);
        else {
          victims.push([ns, key, rec]);
          bytes += rec.size;
        }
      }
      for (const [stamp, ns, key] of stale) idx.removeLruKey(stamp, ns, key);
      for (const [ns, key, rec] of victims) {
        this.removeInTxn(idx, ns, key, rec, freed);
        idx.addCounters(ns, { evictions: 1 });
      }
      return { evicted: victims.length, bytes };
    });
    this.releaseFreed(freed);
    this.stats.evictions += result.evicted;
    return result;
  }

  /** Deletes every entry of `ns` (of every namespace when undefined), in short commits; how many. */
  deleteRange(ns: string | undefined): number {
    this.dropQueuedNamespace(ns);
    const idx = this.index();
    let total = 0;
    for (;;) {
      const freed: string[] = [];
      const n = idx.txn(() => {
        const batch: [string, string, DiskRecord | undefined][] = [];
        for (const [n, key, raw] of idx.entries(ns)) {
          batch.push([n, key, safeDecode(raw)]);
          if (batch.length >= BATCH_OPS) break;
        }
        for (const [n, key, rec] of batch) this.removeInTxn(idx, n, key, rec, freed);
        return batch.length;
      });
      this.releaseFreed(freed);
      total += n;
      if (n < BATCH_OPS) return total;
    }
  }

  /** Removes folders moved aside by a commit (after it, outside the write lock). */
  removeTrees(paths: string[]): void {
    for (const p of paths) rmSync(p, { recursive: true, force: true });
  }

  /** Removes a work folder that will not be queued. */
  discardWork(work: string): void {
    rmSync(work, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------- access and counters

  /** Records an access to write in the background (the index is not opened for it now). */
  touch(ns: string, key: string): void {
    let m = this.#access.get(ns);
    if (!m) this.#access.set(ns, (m = new Map()));
    m.set(key, nextStamp());
    this.#scheduleAccess(m.size >= 4096 ? 0 : this.accessFlushMs);
  }

  /** Adds hits and misses of a namespace (written with the access times). */
  countAccess(ns: string, hits: number, misses: number): void {
    let c = this.#counts.get(ns);
    if (!c) this.#counts.set(ns, (c = { hits: 0, misses: 0 }));
    c.hits += hits;
    c.misses += misses;
    this.#scheduleAccess(this.accessFlushMs);
  }

  /** The access stamp of `key` not yet written, if any. */
  pendingStamp(ns: string, key: string): number | undefined {
    return this.#access.get(ns)?.get(key);
  }

  dropAccess(ns: string, key: string): void {
    this.#access.get(ns)?.delete(key);
  }

  #scheduleAccess(ms: number): void {
    if (this.#accessTimer && ms > 0) return;
    clearTimeout(this.#accessTimer);
    this.#accessTimer = setTimeout(() => {
      this.#accessTimer = undefined;
      try {
        this.flushAccess(true);
      } catch (err) {
        this.fail('access-time update', err);
      }
    }, ms);
    this.#accessTimer.unref();
  }

  /** Writes batched access times and counters (opening the index only when `open`). */
  flushAccess(open = false): void {
    if (this.#access.size === 0 && this.#counts.size === 0) return;
    if (!this.#index && !open) return;
    const idx = this.index();
    try {
      idx.txn(() => this.#accessInTxn(idx));
    } catch (err) {
      this.fail('access-time update', err); // advisory: LRU order and hit counts, never values
    }
  }

  #accessInTxn(idx: DiskIndex): void {
    for (const [ns, m] of this.#access) {
      for (const [key, stamp] of m) {
        const old = idx.stamp(ns, key);
        if (old !== undefined && old < stamp) idx.setStamp(ns, key, stamp, old);
      }
    }
    for (const [ns, c] of this.#counts) idx.addCounters(ns, c);
    this.#access.clear();
    this.#counts.clear();
  }

  /** At exit, and when the last handle closes: commit, record accesses, remove the marker. */
  #atExit(): void {
    try {
      // Twice at most: files freed by the last commit's eviction go in one more.
      for (let k = 0; k < 3 && (this.#queued > 0 || this.#freed.length > 0); k++) this.flushSync();
    } catch (err) {
      logDebug(`disk: commit at exit failed: ${(err as Error).message}`);
    }
    try {
      this.flushAccess();
    } catch {
      /* advisory */
    }
    if (this.#marker) unlinkQuietly([this.#marker]);
    this.#marker = undefined;
    this.#writable = false;
  }
}

export function safeDecode(raw: Buffer): DiskRecord | undefined {
  try {
    return decodeRecord(raw);
  } catch {
    return undefined;
  }
}

function sizeOf(path: string): number {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : -1;
  } catch {
    return -1;
  }
}

/** Inside a commit: renames a work file or folder to its content-addressed place. */
function moveIn(from: string, to: string): void {
  mkdirSync(join(to, '..'), { recursive: true, mode: 0o700 });
  renameSync(from, to);
}

/** Renames a folder to a work name in tmp/ (one syscall, inside a commit); removed after it. */
export function moveToTrash(layout: Layout, dir: string, trash: string[]): void {
  const t = layout.workPath('.trash');
  try {
    renameSync(dir, t);
    trash.push(t);
  } catch {
    /* gone already */
  }
}

/** Frees what a queued write held (work files) once it is committed, dropped or failed. */
function discard(op: PutOp): void {
  if (op.blobFile) unlinkQuietly([op.blobFile]);
  if (op.head) unlinkQuietly([op.head]);
  if (op.work) rmSync(op.work, { recursive: true, force: true });
  op.blobFile = op.head = op.work = undefined;
}
