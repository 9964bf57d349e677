// The state one process keeps per cache directory, shared by every DiskTier handle on it: the
// index (opened on first need), the write queue and the access log, the open marker, and what
// runs at exit: the queue is committed synchronously then, `process.exit()` included.
import { chmodSync, closeSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { STALE_WORK_MS } from '../../defaults.js';
import { CacheError } from '../../errors.js';
import { logDebug, warn } from '../../log.js';
import { atExit } from '../exit.js';
import { cleanStaleWork, HOST, workName, workOwner } from '../work.js';
import { emptyStats, type TierStats } from '../tier.js';
import { DiskIndex } from './index.js';
import { Layout, unlinkQuietly } from './layout.js';
import { openEnv, releaseEnv } from './lmdb.js';
import { AccessLog } from './access.js';
import { WriteQueue } from './queue.js';

const stores = new Map<string, DiskStore>();

export class DiskStore {
  readonly layout: Layout;
  readonly stats: TierStats = emptyStats(0);
  /** The size limit given by a handle (undefined: the one stored in the index). */
  explicitMax: number | undefined;
  durable = false;
  accessFlushMs = 1000;
  #handles = 0;
  /** Handles that may write: without one, the index is opened read-only and nothing is written. */
  #writers = 0;
  #index: DiskIndex | undefined;
  #indexReadOnly = false;
  #writable = false;
  #cleaned = false;
  #released = false;
  readonly queue: WriteQueue;
  readonly access: AccessLog;
  #marker: string | undefined;
  #unregisterExit: (() => void) | undefined;
  #background: Promise<void> | undefined;

  private constructor(dir: string) {
    this.layout = new Layout(dir);
    this.queue = new WriteQueue(this);
    this.access = new AccessLog(this);
  }

  /** The store of `dir` (absolute), shared by every handle of this process. */
  static acquire(dir: string, readOnly = false): DiskStore {
    let s = stores.get(dir);
    if (!s) stores.set(dir, (s = new DiskStore(dir)));
    s.#handles++;
    if (!readOnly) s.#writers++;
    s.#unregisterExit ??= atExit('commit', () => {
      s!.#atExit();
      s!.#removeOwnWork();
    });
    return s;
  }

  /** Releases a handle: the last one commits, closes the index and removes the marker. */
  async release(readOnly = false): Promise<void> {
    if (this.#handles > 1) {
      // Committed while this handle still counts (the last writer's commit needs a writable index).
      this.queue.flushSync();
      this.access.flush();
      this.#handles--;
      if (!readOnly) this.#writers--;
      return;
    }
    stores.delete(this.layout.dir);
    await this.#background;
    this.#atExit();
    this.#handles = this.#writers = 0;
    this.#released = true; // a flush scheduled before must not reopen the index
    this.#unregisterExit?.();
    this.access.stop();
    if (this.#index) {
      this.#index = undefined;
      await releaseEnv(this.layout.index);
    }
  }

  /** No handle may write: the index is opened read-only, access times are not recorded. */
  get readOnly(): boolean {
    return this.#writers === 0;
  }

  /** True once the last handle closed. */
  get released(): boolean {
    return this.#released;
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
    let stored: Buffer | undefined;
    try {
      stored = this.index().meta('maxBytes');
    } catch {
      /* no index (a full disk): the default; the commit fails softly */
    }
    return stored ? Number(stored.toString()) : Number.POSITIVE_INFINITY;
  }

  /** Marks the store as written to by this process (creates folders and the open marker). */
  writable(): void {
    if (this.#writable) return;
    this.#writable = true;
    try {
      this.layout.ensure();
    } catch {
      return; // a full disk: the commit fails softly later
    }
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

  /** The index, opened on first need (read-only while no handle may write). */
  index(): DiskIndex {
    if (this.#index && !(this.#indexReadOnly && !this.readOnly)) return this.#index;
    if (this.#released) throw new CacheError('ERR_CLOSED', `disk tier at ${this.layout.dir} is closed`);
    if (this.#index) {
      // Opened read-only, and now a handle writes: reopened writable (nothing pending on it).
      this.#index = undefined;
      void releaseEnv(this.layout.index);
    }
    const readOnly = this.readOnly;
    const idx = new DiskIndex(openEnv(this.layout.index, { readOnly }));
    try {
      idx.checkLayout(this.layout.dir, !readOnly);
      if (!readOnly) this.#configure(idx);
    } catch (err) {
      void releaseEnv(this.layout.index);
      throw err;
    }
    this.#index = idx;
    this.#indexReadOnly = readOnly;
    return idx;
  }

  /** Owner-only modes on the index files, and the size limit a handle gave. */
  #configure(idx: DiskIndex): void {
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
  }

  /**
   * Once per process, for a handle that may write: removes work files of dead writers; after a
   * crash (a dead writer's open marker), collects orphans in the background.
   */
  cleanAtOpen(collect: () => void): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    try {
      this.layout.ensure();
    } catch (err) {
      this.fail('open', err); // a full disk: nothing to clean, the cache works uncached
      return;
    }
    const removed = cleanStaleWork(this.layout.tmp, STALE_WORK_MS);
    if (!removed.some((n) => n.endsWith('.open'))) return;
    this.#background = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      if (this.#handles > 0) collect();
    }).catch((err) => this.fail('orphan collection', err));
  }

  fail(op: string, err: unknown): void {
    this.stats.errors++;
    warn((err as CacheError)?.code === 'ERR_NO_SPACE' ? 'ERR_NO_SPACE' : 'ERR_TIER', `disk tier ${op} failed in ${this.layout.dir} (${(err as Error)?.message ?? err}); continuing without it`);
  }

  /**
   * At process exit, after the commit: work files this process still has in tmp/ belong to
   * writes that will never finish (process.exit() while they awaited): removed, so that a clean
   * exit leaves nothing for the next opener to collect.
   */
  #removeOwnWork(): void {
    let names: string[];
    try {
      names = readdirSync(this.layout.tmp);
    } catch {
      return;
    }
    for (const name of names) {
      const owner = workOwner(name);
      if (owner?.host === HOST && owner.pid === process.pid) rmSync(join(this.layout.tmp, name), { recursive: true, force: true });
    }
  }

  /** At exit, and when the last handle closes: commit, record accesses, remove the marker. */
  #atExit(): void {
    try {
      // Twice at most: files freed by the last commit's eviction go in one more.
      for (let k = 0; k < 3 && this.queue.pending; k++) this.queue.flushSync();
    } catch (err) {
      logDebug(`disk: commit at exit failed: ${(err as Error).message}`);
    }
    try {
      this.access.flush();
    } catch {
      /* advisory */
    }
    if (this.#marker) unlinkQuietly([this.#marker]);
    this.#marker = undefined;
    this.#writable = false;
  }
}

