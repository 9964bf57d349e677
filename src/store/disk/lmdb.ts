// lmdb-js, loaded on first use (its import alone costs tens of milliseconds, which a cache hit
// that needs no index must not pay), and one environment per directory per process, shared by
// every handle and closed with the last one: LMDB allows one environment per file per process,
// and every open one holds a reader slot until it is closed.
import { createRequire } from 'node:module';
import type { Key as LmdbKey, RootDatabase } from 'lmdb';
import { keepExitFirst } from '../exit.js';

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
}

const envs = new Map<string, Shared>();

/**
 * Opens (or shares) the LMDB environment at `path`. Writes go only through `transactionSync`
 * with short synchronous callbacks: no write ever waits on this process's event loop while it
 * holds LMDB's write lock, so a busy or exiting process never makes another one wait.
 */
export function openEnv(path: string): RootDatabase<Buffer, LmdbKey> {
  const found = envs.get(path);
  if (found) {
    found.refs++;
    return found.root;
  }
  // eventTurnBatching off: with it, lmdb-js opens batches of its own that a failed commit would
  // reject with nobody listening. Nothing here writes asynchronously anyway.
  const root = loadLmdb().open({ path, encoding: 'binary', noMemInit: false, eventTurnBatching: false }) as RootDatabase<Buffer, LmdbKey>;
  // lmdb-js closes every environment in an 'exit' listener of its own: ours commits first.
  keepExitFirst();
  envs.set(path, { root, refs: 1 });
  return root;
}

/** Releases a handle of {@link openEnv}; the last one closes the environment. */
export async function releaseEnv(path: string): Promise<void> {
  const found = envs.get(path);
  if (!found) return;
  if (--found.refs > 0) return;
  envs.delete(path);
  await found.root.close();
}
