// Work files and locks: the one rule for naming what a process writes before it publishes it,
// for telling when such a file was left by a writer that is gone, and for the per-key lock that
// lets one process compute while others wait. Names carry their writer's host and pid
// (`<host>-<pid>-<hex>`), and only a reader on the same host can tell whether that pid still runs;
// anything older than a day is stale wherever it came from.
//
// A lock is an O_EXCL file holding host, pid, time and a token. Waiters poll with backoff, stop as
// soon as the awaited entry exists, and never wait longer than their bound. A lock whose holder
// died (same host: its pid is gone; other host: older than `staleMs`) is taken over. Correctness
// never depends on a lock: publishing is atomic on its own; the lock only saves duplicate work.
import { closeSync, linkSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_LOCK_STALE_MS, DEFAULT_LOCK_WAIT_MS } from '../defaults.js';
import { logDebug } from '../log.js';
import { atExit } from './exit.js';

/** This host's name, made safe for file names (no '-', '/', spaces). */
export const HOST = hostname().replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 64) || 'host';

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `n` random bytes as hex. Web Crypto's getter loads the crypto module on first use only: a reader
 * that never writes (a session cache hit) does not pay for loading it.
 */
function randomHex(n: number): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(n))).toString('hex');
}

/** A fresh work-file name of this process: `<host>-<pid>-<16 hex><suffix>`. */
export function workName(suffix = ''): string {
  return `${HOST}-${process.pid}-${randomHex(8)}${suffix}`;
}

/** The writer named by a work-file name, if it is one. */
export function workOwner(name: string): { host: string; pid: number } | undefined {
  const m = /^(.*)-(\d+)-[0-9a-f]+/.exec(name);
  return m ? { host: m[1], pid: Number(m[2]) } : undefined;
}

/**
 * Whether `dir/name`, a work file or folder, was left by a writer that is gone: one of this host
 * whose pid is dead, or anything older than `maxAgeMs` (a writer on another host sharing the
 * directory, a reused pid). A file already gone is not stale.
 */
export function isStaleWork(dir: string, name: string, maxAgeMs: number): boolean {
  try {
    if (Date.now() - statSync(join(dir, name)).mtimeMs > maxAgeMs) return true;
  } catch {
    return false;
  }
  const owner = workOwner(name);
  return owner !== undefined && owner.host === HOST && owner.pid !== process.pid && !isPidAlive(owner.pid);
}

/** Removes the stale work files and folders of `dir`; returns their names. */
export function cleanStaleWork(dir: string, maxAgeMs: number): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!isStaleWork(dir, name, maxAgeMs)) continue;
    try {
      rmSync(join(dir, name), { force: true, recursive: true });
      removed.push(name);
      logDebug(`removed stale work file ${join(dir, name)}`);
    } catch {
      /* raced with another cleaner */
    }
  }
  return removed;
}

// ---------------------------------------------------------------------------------------- locks

/** The content of a lock file. */
interface Holder {
  host: string;
  pid: number;
  time: number;
  token: string;
}

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** Stop waiting (resolve with `ready: true`) once this returns true. Checked on every poll. */
  ready?: () => boolean | Promise<boolean>;
  /** Give up waiting after this long and resolve without the lock. Default 10 minutes. */
  maxWaitMs?: number;
  /** A lock from another host older than this is stale. Default 10 minutes. */
  staleMs?: number;
  /** A lock file without readable content (its writer died between create and write) older than this is stale. Default 5 s. */
  unreadableStaleMs?: number;
}

/** A held lock. */
export interface HeldLock {
  /** The lock file (inside the tier's folder); it holds the holder's host, pid and a token. Released at process exit at the latest. */
  readonly path: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

/**
 * How waiting for a cross-process key lock ({@link Tier.lock}) ended: with the lock, with the
 * awaited entry ready, or after the wait bound without either (the caller then goes on unlocked:
 * correctness never depends on the lock, which only saves duplicate work).
 */
export interface LockResult {
  /** The lock, when it was taken. */
  lock?: HeldLock;
  /** `ready()` became true while waiting (the lock was not taken). */
  ready: boolean;
  /** Time spent waiting for another holder, ms. */
  waitedMs: number;
  /** A stale lock was taken over. */
  recovered: boolean;
}

// Locks this process holds; released at exit.
const held = new Set<HeldLock>();
let unregisterExit: (() => void) | undefined;

function readHolder(path: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Holder;
    return typeof h?.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function tryCreate(path: string): HeldLock | undefined {
  const token = randomHex(12);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify({ host: HOST, pid: process.pid, time: Date.now(), token } satisfies Holder));
  } finally {
    closeSync(fd);
  }
  let released = false;
  const lock: HeldLock = {
    path,
    release() {
      if (released) return;
      released = true;
      held.delete(lock);
      // Only our own lock: after a (mistaken) takeover the file may be someone else's.
      if (readHolder(path)?.token !== token) return;
      try {
        unlinkSync(path);
      } catch {
        /* gone already */
      }
    },
  };
  // A process that exits holding a lock (process.exit() while its holder still awaits) releases it.
  held.add(lock);
  unregisterExit ??= atExit('commit', () => {
    for (const l of [...held]) l.release();
  });
  return lock;
}

/** Whether the lock at `path` is held by a holder that is gone (or is unreadable and old). */
function staleHolder(path: string, o: Required<Omit<LockOptions, 'ready'>>): { stale: boolean; holder?: Holder } {
  const holder = readHolder(path);
  if (!holder) {
    try {
      return { stale: Date.now() - statSync(path).mtimeMs > o.unreadableStaleMs };
    } catch {
      return { stale: false }; // released meanwhile: the next attempt will take it
    }
  }
  if (holder.host === HOST) return { stale: !isPidAlive(holder.pid), holder };
  return { stale: Date.now() - holder.time > o.staleMs, holder };
}

/**
 * Removes a stale lock file without ever removing a fresh one: it is renamed away (atomic, so only
 * one of several recovering waiters gets it), and put back if it turns out not to be the stale one.
 */
function removeStale(path: string, expected: Holder | undefined): boolean {
  const tomb = `${path}.stale-${process.pid}-${randomHex(4)}`;
  try {
    renameSync(path, tomb);
  } catch {
    return false; // someone else recovered it, or it was released
  }
  const got = readHolder(tomb);
  if (expected && got && got.token !== expected.token) {
    // We took a lock that was created after we judged the old one: give it back.
    try {
      linkSync(tomb, path);
    } catch {
      /* a third process holds the path now; two holders only cost duplicate work */
    }
    unlinkSync(tomb);
    return false;
  }
  unlinkSync(tomb);
  return true;
}

/**
 * Takes the lock at `path`, waiting while a live holder has it. Resolves with the lock; or without
 * it when `ready()` turned true (the awaited work is done) or `maxWaitMs` passed (the caller then
 * proceeds without it: a wait is always bounded).
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<LockResult> {
  const o = {
    maxWaitMs: options.maxWaitMs ?? DEFAULT_LOCK_WAIT_MS,
    staleMs: options.staleMs ?? DEFAULT_LOCK_STALE_MS,
    unreadableStaleMs: options.unreadableStaleMs ?? 5_000,
  };
  const start = performance.now();
  let delay = 5;
  let recovered = false;
  for (;;) {
    const lock = tryCreate(path);
    if (lock) return { lock, ready: false, waitedMs: performance.now() - start, recovered };
    if (options.ready && (await options.ready())) return { ready: true, waitedMs: performance.now() - start, recovered };
    const s = staleHolder(path, o);
    if (s.stale) {
      if (removeStale(path, s.holder)) {
        recovered = true;
        logDebug(`took over stale lock ${path} (holder ${s.holder ? `${s.holder.host}:${s.holder.pid}` : 'unreadable'})`);
      }
      continue;
    }
    const waited = performance.now() - start;
    if (waited >= o.maxWaitMs) return { ready: false, waitedMs: waited, recovered };
    await sleep(Math.min(delay, o.maxWaitMs - waited));
    delay = Math.min(250, delay * 1.5);
  }
}
