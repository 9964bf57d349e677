// The write queue of a cache directory: puts are acknowledged once queued, and committed on the
// next turn of the event loop (or by flush(), or at exit) in few short synchronous transactions.
// Files are moved to their content-addressed places inside the commit that references them, and
// removed one commit after the commit that dropped their last reference.
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EVICT_TARGET } from '../../defaults.js';
import type { DiskIndex } from './index.js';
import { unlinkQuietly, type Layout } from './layout.js';
import { BLOB, decodeRecord, FILES, INLINE, type DiskRecord, type RecordType } from './record.js';
import { nextStamp } from './access.js';
import { evictLru } from './evict.js';
import type { DiskStore } from './store.js';

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

/** Content whose last reference a commit dropped: a blob (BLOB), an entry folder (FILES), or either. */
export interface Freed {
  id: string;
  type?: RecordType;
}

const BATCH_OPS = 256;
const BATCH_BYTES = 64 << 20;

export class WriteQueue {
  readonly #store: DiskStore;
  readonly #queue = new Map<string, Map<string, PutOp>>();
  #queued = 0;
  #scheduled = false;
  /** Ids whose last reference a commit dropped: their files go in the next commit. */
  readonly #freed: Freed[] = [];

  constructor(store: DiskStore) {
    this.#store = store;
  }

  /** Whether anything waits for a commit (writes, or files to remove). */
  get pending(): boolean {
    return this.#queued > 0 || this.#freed.length > 0;
  }

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
    this.#store.writable();
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
    if ((this.#queued === 0 && this.#freed.length === 0) || this.#store.released) return;
    const ops = [...this.queuedOps()];
    this.#queue.clear();
    this.#queued = 0;
    let idx: DiskIndex;
    try {
      idx = this.#store.index();
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
          this.#store.access.writeInTxn(idx);
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
          this.#store.stats.puts++;
          last = op;
        } else this.#failed(op, new Error('its file was removed before the commit'));
        discard(op);
      });
    } while (i < ops.length);
    if (last && idx.totals().bytes > this.#store.maxBytes) {
      try {
        evictLru(this.#store, Math.floor(this.#store.maxBytes * EVICT_TARGET), last);
      } catch (err) {
        this.#store.fail('eviction', err); // the entries are stored: a failed eviction is not a failed put
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
  #apply(idx: DiskIndex, op: PutOp, freed: Freed[]): boolean {
    if (op.type === BLOB) {
      // Ours replaces a file of the same content (renamed over it: a live map keeps the old one).
      if (op.blobFile) moveIn(op.blobFile, this.#store.layout.blobPath(op.hash));
      else if (sizeOf(this.#store.layout.blobPath(op.hash)) !== op.size) return false;
      op.blobFile = undefined;
    }
    if (op.type === FILES && !existsSync(this.#store.layout.entryDir(op.hash))) {
      if (!op.work) return false;
      moveIn(op.work, this.#store.layout.entryDir(op.hash));
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
      moveIn(op.head!, this.#store.layout.headPath(op.ns, op.key));
      op.head = undefined;
    }
    return true;
  }

  /**
   * Inside a commit: removes an entry and its access keys. Files whose last reference this was are
   * listed in `freed`, for {@link releaseFreed} after the commit: a reader that read the record
   * before it may still open them until then, and a file missing under a record is damage.
   */
  removeInTxn(idx: DiskIndex, ns: string, key: string, rec: DiskRecord | undefined, freed: Freed[]): void {
    idx.removeRecord(ns, key);
    idx.removeStamp(ns, key);
    this.#store.access.drop(ns, key);
    if (!rec) return; // a damaged record: its files are collected as orphans
    idx.addTotals(-rec.size, -1);
    idx.addCounters(ns, { entries: -1, bytes: -rec.size });
    if (rec.type === FILES) unlinkQuietly([this.#store.layout.headPath(ns, key)]);
    if (rec.type !== INLINE && idx.addRef(rec.hash, -1) === 0) freed.push({ id: rec.hash, type: rec.type });
  }

  /**
   * After a commit that dropped the last references to `ids`: their files go in a later commit,
   * each only if still unreferenced then (a put of the same content since keeps it). Readers that
   * read the old record can still open them until then: a file missing under a record is damage.
   */
  releaseFreed(freed: Freed[]): void {
    if (freed.length === 0) return;
    this.#freed.push(...freed);
    this.#schedule();
  }

  #releaseInTxn(idx: DiskIndex, freed: Freed[], trash: string[]): void {
    for (const f of freed) if (idx.refs(f.id) === 0) this.removeContentInTxn(f, trash);
  }

  /**
   * Inside a commit: removes the blob file or the entry folder of content `id` (both when its type
   * is not known). Only what can be there: the write lock is held, every syscall here counts.
   */
  removeContentInTxn({ id, type }: Freed, trash: string[]): void {
    if (type !== FILES) unlinkQuietly([this.#store.layout.blobPath(id)]);
    if (type !== BLOB) moveToTrash(this.#store.layout, this.#store.layout.entryDir(id), trash);
  }

  #failed(op: PutOp, err: unknown): void {
    this.#store.stats.rejected++;
    discard(op);
    this.#store.fail(`write of ${op.ns}/${op.key}`, err);
  }

  /** After a failed commit (a full disk): files placed for it that nothing references go again. */
  #afterFailedCommit(idx: DiskIndex, batch: PutOp[], err: unknown): void {
    for (const op of batch) this.#failed(op, err);
    const trash: string[] = [];
    try {
      idx.txn(() => {
        for (const op of batch) {
          if (op.type === INLINE || idx.refs(op.hash) > 0) continue;
          if (op.type === BLOB) unlinkQuietly([this.#store.layout.blobPath(op.hash)]);
          else moveToTrash(this.#store.layout, this.#store.layout.entryDir(op.hash), trash);
        }
      });
    } catch {
      /* still failing: verify --repair and orphan collection clean up later */
    }
    this.removeTrees(trash);
  }

  /** Deletes `key` now (its queued write too); whether there was one. */
  deleteNow(ns: string, key: string): boolean {
    const queued = this.dropQueued(ns, key);
    const idx = this.#store.index();
    const freed: Freed[] = [];
    const found = idx.txn(() => {
      const raw = idx.recordView(ns, key);
      if (raw === undefined) return false;
      this.removeInTxn(idx, ns, key, safeDecode(raw), freed);
      return true;
    });
    this.releaseFreed(freed);
    return found || queued;
  }

  /**
   * Drops a damaged entry: only the version a reader saw (`seen`: its type and content id, when
   * known: the same bytes may be a file-backed record and later an inline one), and only if
   * `stillDamaged()` agrees, asked under the write lock, while no process places or removes a
   * file. Its files go at once, whoever else refers to that content: damaged bytes must not be
   * reused by the next put of the same content. 'changed': the entry is gone or another version.
   */
  dropDamaged(ns: string, key: string, seen: Seen | undefined, stillDamaged?: () => boolean): 'dropped' | 'changed' | 'intact' {
    const idx = this.#store.index();
    const freed: Freed[] = [];
    const trash: string[] = [];
    const verdict = idx.txn(() => {
      const raw = idx.recordView(ns, key);
      if (raw === undefined) return 'changed';
      const rec = safeDecode(raw); // a damaged record is removed whatever it says
      if (seen !== undefined && rec !== undefined && !sameVersion(rec, seen)) return 'changed';
      if (stillDamaged && !stillDamaged()) return 'intact';
      this.removeInTxn(idx, ns, key, rec, freed);
      if (rec && rec.type !== INLINE) this.removeContentInTxn({ id: rec.hash, type: rec.type }, trash);
      return 'dropped';
    });
    this.removeTrees(trash);
    this.releaseFreed(freed);
    return verdict;
  }

  /** Deletes every entry of `ns` (of every namespace when undefined), in short commits; how many. */
  deleteRange(ns: string | undefined): number {
    this.dropQueuedNamespace(ns);
    const idx = this.#store.index();
    let total = 0;
    for (;;) {
      const freed: Freed[] = [];
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
}

/** The version of an entry a reader saw: one content in one form. */
export type Seen = Pick<DiskRecord, 'type' | 'hash'>;

/** Whether `rec` is the version `seen` (a hash alone is not: inline and file-backed share it). */
export function sameVersion(rec: Seen, seen: Seen): boolean {
  return rec.type === seen.type && rec.hash === seen.hash;
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

/**
 * Inside a commit: renames a work file or folder to its place, creating the fan-out folder only
 * when the rename says it is missing (the write lock is held: one syscall in the common case).
 */
function moveIn(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(from)) throw err;
    mkdirSync(join(to, '..'), { recursive: true, mode: 0o700 });
    renameSync(from, to);
  }
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
