// A per-key lock across processes (and hosts sharing a cache directory), so that when several
// processes start the same model on an empty cache only one of them optimizes it: an O_EXCL lock
// file holding host, pid, time and a token. Waiters poll with backoff and stop waiting as soon as
// the entry they wait for exists. A lock whose holder died (same host: its pid is gone; other
// host: older than `staleMs`) is taken over. Correctness never depends on the lock: publishing an
// entry is atomic on its own, the lock only saves duplicate work.
import { randomBytes } from 'node:crypto';
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { logDebug } from '../log.js';
import { HOST, isPidAlive } from '../proc.js';


/** The content of a lock file. */
interface Holder {
  host: string;
  pid: number;
  time: number;
  token: string;
}

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
  readonly path: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

export interface LockResult {
  lock?: HeldLock;
  /** `ready()` became true while waiting (the lock was not taken). */
  ready: boolean;
  /** Time spent waiting for another holder, ms. */
  waitedMs: number;
  /** A stale lock was taken over. */
  recovered: boolean;
}

function readHolder(path: string): Holder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Holder;
    return typeof h?.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

function tryCreate(path: string): HeldLock | undefined {
  const token = randomBytes(12).toString('hex');
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
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // Only our own lock: after a (mistaken) takeover the file may be someone else's.
      if (readHolder(path)?.token !== token) return;
      try {
        unlinkSync(path);
      } catch {
        /* gone already */
      }
    },
  };
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
  const tomb = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
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
 * it when `ready()` turned true (the awaited work is done) or `maxWaitMs` passed.
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<LockResult> {
  const o = {
    maxWaitMs: options.maxWaitMs ?? 600_000,
    staleMs: options.staleMs ?? 600_000,
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
        logDebug(`ort: took over stale lock ${path} (holder ${s.holder ? `${s.holder.host}:${s.holder.pid}` : 'unreadable'})`);
      }
      continue;
    }
    if (performance.now() - start > o.maxWaitMs) return { ready: false, waitedMs: performance.now() - start, recovered };
    await sleep(delay);
    delay = Math.min(250, delay * 1.5);
  }
}
