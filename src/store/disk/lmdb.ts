// lmdb-js, loaded on first use (its import alone costs tens of milliseconds, which a cache hit
// that needs no index must not pay), and one environment per directory per process, shared by
// every handle and closed with the last one: LMDB allows one environment per file per process,
// and every open one holds a reader slot until it is closed.
//
// A full disk must never kill the process: LMDB maps its lock file and writes into it (a page a
// full tmpfs cannot allocate is SIGBUS), and lmdb-js crashes when a fresh data file's first write
// fails. So before a writable open, the lock file is created by us with every page written, and a
// fresh data file needs room; otherwise the open is a CacheError ERR_NO_SPACE.
import { closeSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Key as LmdbKey, RootDatabase } from 'lmdb';
import { CacheError, cacheErrorCode } from '../../errors.js';
import { atExit, keepExitFirst } from '../exit.js';
import { workName } from '../work.js';

type Lmdb = typeof import('lmdb');

let lmdb: Lmdb | undefined;

/** lmdb-js (its CommonJS build, synchronous to load: the index is opened from synchronous calls). */
export function loadLmdb(): Lmdb {
  lmdb ??= createRequire(import.meta.url)('lmdb') as Lmdb;
  return lmdb;
}

interface Shared {
  root: RootDatabase<Buffer, LmdbKey>;
  refs: number;
  readOnly: boolean;
  /** An index that was never written, read as an empty one made elsewhere (removed at close). */
  stand?: { dir: string; remove: () => void };
}

const envs = new Map<string, Shared>();

// Bytes of the lock file we create: more than LMDB's 126 reader slots of 64 bytes and its header
// (LMDB takes the size of an existing lock file as given, with more reader slots).
const LOCK_BYTES = 64 * 1024;
// Room a fresh environment needs at open: two meta pages, and some to spare.
const FRESH_BYTES = 256 * 1024;

function noSpace(path: string, what: string): CacheError {
  return new CacheError('ERR_NO_SPACE', `no space left for the cache index at ${path}: ${what}; the cache works uncached until space is freed`);
}

function freeBytes(path: string): number {
  try {
    const s = statfsSync(path);
    return s.bavail * s.bsize;
  } catch {
    return Number.POSITIVE_INFINITY; // cannot tell: let LMDB try
  }
}

/** The lock file, written whole under a work name and linked into place (never over one in use). */
function reserveLockFile(path: string): void {
  const lock = join(path, 'lock.mdb');
  if (existsSync(lock)) {
    // Made by LMDB elsewhere (sparse): its pages are allocated as readers use them.
    const st = statSync(lock);
    if (st.blocks * 512 < st.size && freeBytes(path) < st.size) throw noSpace(path, 'its lock file cannot be backed');
    return;
  }
  const tmp = join(path, workName('.lock'));
  try {
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      const zeros = Buffer.alloc(LOCK_BYTES);
      for (let off = 0; off < LOCK_BYTES; ) off += writeSync(fd, zeros, off, LOCK_BYTES - off);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, lock);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return; // another process made it first
    if (cacheErrorCode(code) === 'ERR_NO_SPACE') throw noSpace(path, 'its lock file cannot be written');
    throw err;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* never made */
    }
  }
}

function prepareWritable(path: string): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    if (cacheErrorCode((err as NodeJS.ErrnoException).code) === 'ERR_NO_SPACE') throw noSpace(path, 'its folder cannot be created');
    throw err;
  }
  reserveLockFile(path);
  let fresh = true;
  try {
    fresh = statSync(join(path, 'data.mdb')).size === 0;
  } catch {
    /* absent: fresh */
  }
  if (fresh && freeBytes(path) < FRESH_BYTES) throw noSpace(path, 'a new index needs room for its first pages');
}

/** A fresh folder for an empty stand-in index, removed at its close or else at exit. */
function standIn(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'modelcache-empty-index-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const unregister = atExit('commit', remove);
  return {
    dir,
    remove: () => {
      unregister();
      remove();
    },
  };
}

/**
 * Opens (or shares) the LMDB environment at `path`. Writes go only through `transactionSync`
 * with short synchronous callbacks: no write ever waits on this process's event loop while it
 * holds LMDB's write lock, so a busy or exiting process never makes another one wait.
 * `readOnly`: no lock setup where the directory cannot be written, and no write at all.
 */
export function openEnv(path: string, options: { readOnly?: boolean } = {}): RootDatabase<Buffer, LmdbKey> {
  const readOnly = Boolean(options.readOnly);
  const found = envs.get(path);
  if (found && (readOnly || !found.readOnly)) {
    found.refs++;
    return found.root;
  }
  if (found) throw new CacheError('ERR_INTERNAL', `index at ${path} is open read-only in this process`);
  if (!readOnly) prepareWritable(path);
  // A directory whose first writer exited before its index was created holds no entries: a handle
  // that only looks reads an empty index made elsewhere rather than create one where it looks.
  const stand = readOnly && !existsSync(join(path, 'data.mdb')) ? standIn() : undefined;
  // eventTurnBatching off: with it, lmdb-js opens batches of its own that a failed commit would
  // reject with nobody listening. Nothing here writes asynchronously anyway.
  const root = loadLmdb().open({ path: stand?.dir ?? path, encoding: 'binary', noMemInit: false, eventTurnBatching: false, readOnly: readOnly && !stand }) as RootDatabase<Buffer, LmdbKey>;
  // lmdb-js closes every environment in an 'exit' listener of its own: ours commits first.
  keepExitFirst();
  envs.set(path, { root, refs: 1, readOnly, ...(stand ? { stand } : {}) });
  return root;
}

/** Releases a handle of {@link openEnv}; the last one closes the environment. */
export async function releaseEnv(path: string): Promise<void> {
  const found = envs.get(path);
  if (!found) return;
  if (--found.refs > 0) return;
  envs.delete(path);
  await found.root.close();
  found.stand?.remove();
}
