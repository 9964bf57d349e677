// A miss's entry, saved off the caller's critical path. The caller already has its session (a
// plain create); here the key's lock is taken without waiting (a live holder is another process
// saving the same entry), a builder child process builds the entry into a work folder of the cache,
// and the files are published through the Cache (moved in, encrypted by its cipher, uploaded to a
// shared tier) and committed before the lock is released. If this process exits first, the
// builder is stopped, the work folder removed and the lock released: nothing is left behind.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logDebug } from '../log.js';
import { NAMESPACES } from '../store/namespace.js';
import type { BuildJob, BuildResult } from './build.js';
import type { FileMemo } from './filememo.js';
import type { EntryFormat, SessionEntryMeta } from './format.js';
import type { SessionStore } from './store.js';

/** How the save of a missed entry went (or goes: `pending`). */
export interface SaveStatus {
  /**
   * 'pending': being built; 'saved': published; 'elsewhere': another process (or call) saves or
   * saved it; 'failed': no entry (see `reason`); 'skipped': the cache cannot keep it.
   */
  status: 'pending' | 'saved' | 'elsewhere' | 'failed' | 'skipped';
  /** Why the save failed or was skipped (or who saves it elsewhere), in words for logs. */
  reason?: string;
  /** The entry's form, once saved. */
  format?: EntryFormat;
  /** Bytes of the entry, once saved. */
  entryBytes?: number;
  /** Time from the start of the save to its end, ms. */
  ms?: number;
}

/** What a save needs: where, under which key, the builder's job and the entry's metadata. */
export interface SaveRequest {
  store: SessionStore;
  memo: FileMemo;
  key: string;
  job: Omit<BuildJob, 'dir' | 'forceOrt'>;
  meta: Omit<SessionEntryMeta, 'entryFormat' | 'formatReason' | 'referencedBytes'>;
}

/** What this process must undo if it exits while a save runs. */
interface Live {
  child?: ChildProcess;
  work?: string;
  release?: () => void;
}

const SESSION_KIND = 'session';
const running = new Map<string, { status: SaveStatus; done: Promise<void> }>();
const live = new Set<Live>();
let exitHooked = false;

function onExit(): void {
  for (const l of live) {
    l.child?.kill('SIGKILL');
    if (l.work) rmSync(l.work, { recursive: true, force: true, maxRetries: 3, retryDelay: 5 });
    l.release?.();
  }
  live.clear();
}

/** The builder script: the compiled sibling of this module (under a TypeScript runner, the build's). */
function builderScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const sibling = join(here, 'builder.js');
  return existsSync(sibling) ? sibling : join(here, '..', '..', 'dist', 'ort', 'builder.js');
}

type Outcome = { result: BuildResult & { ok: true } } | { failed: string; stage: string };

/** Runs one builder child process to its end. */
function runBuilder(job: BuildJob, holder: Live): Promise<Outcome> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = fork(builderScript(), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced', execArgv: [] });
    } catch (err) {
      resolve({ failed: `the builder process could not start (${(err as Error).message})`, stage: 'starting' });
      return;
    }
    holder.child = child;
    let stage = 'starting';
    let reply: { ok: boolean; reason?: string } | undefined;
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr = (stderr + String(d)).slice(-1000)));
    child.on('message', (m: { type: string; stage?: string; ok?: boolean; reason?: string }) => {
      if (m?.type === 'stage' && typeof m.stage === 'string') stage = m.stage;
      else if (m?.type === 'result') reply = m as { ok: boolean; reason?: string };
    });
    child.on('error', (err) => logDebug(`ort: builder process: ${err.message}`));
    child.on('exit', (code, signal) => {
      holder.child = undefined;
      if (reply?.ok) resolve({ result: reply as BuildResult & { ok: true } });
      else if (reply) resolve({ failed: reply.reason ?? 'the entry could not be built', stage });
      else {
        const tail = stderr.trim().split('\n').pop();
        resolve({ failed: `the builder process ended (${signal ?? `exit code ${code}`}) while ${stage}${tail ? `: ${tail}` : ''}`, stage });
      }
    });
    child.send(job, (err) => {
      if (!err) return;
      reply = { ok: false, reason: `the session options could not be handed to the builder process (${err.message})` };
      child.kill('SIGKILL');
    });
  });
}

function end(status: SaveStatus, state: SaveStatus['status'], t0: number, reason?: string): void {
  status.status = state;
  if (reason !== undefined) status.reason = reason;
  status.ms = performance.now() - t0;
  if (state === 'failed' || state === 'skipped') logDebug(`ort: the session entry was not saved: ${reason}`);
}

async function save(req: SaveRequest, status: SaveStatus, holder: Live, t0: number): Promise<void> {
  const ns = NAMESPACES.session;
  const cache = await req.store.cache();
  const disk = cache.disk;
  if (!disk) return end(status, 'skipped', t0, 'the cache has no disk tier to keep sessions in');
  const got = await disk.lock(req.key, ns, { maxWaitMs: 0 }).catch((err: Error) => {
    logDebug(`ort: lock of ${req.key} unavailable (${err.message}); saving without it`);
    return undefined;
  });
  if (got && !got.lock) return end(status, 'elsewhere', t0, 'another process holds the lock of this key: it is saving this entry');
  holder.release = () => got?.lock?.release();
  try {
    const there = req.store.peek(ns, req.key);
    if (there && 'entry' in there) return end(status, 'elsewhere', t0, 'the entry was saved meanwhile (by another process, or found on disk)');
    // Made here, not by the builder: at exit this process removes it, and a builder stopped then
    // can no longer create it again.
    const work = (holder.work = disk.workPath('.session'));
    mkdirSync(work, { mode: 0o700 });
    let outcome = await runBuilder({ ...req.job, dir: work }, holder);
    if ('failed' in outcome && outcome.stage === 'validating') {
      // The pre-packed entry took its builder down when run: never publish that form for this model.
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { mode: 0o700 });
      outcome = await runBuilder({ ...req.job, dir: work, forceOrt: `a pre-packed ONNX entry was not kept: ${outcome.failed}` }, holder);
    }
    if ('failed' in outcome) return end(status, 'failed', t0, outcome.failed);
    const r = outcome.result;
    const meta: SessionEntryMeta = { ...req.meta, entryFormat: r.format, formatReason: r.formatReason, ...(r.referencedBytes !== undefined ? { referencedBytes: r.referencedBytes } : {}) };
    const files = r.files.map((name) => ({ name, path: join(work, name), move: true }));
    if (!(await cache.putFiles(req.key, files, { namespace: ns, kind: SESSION_KIND, meta: meta as unknown as Record<string, unknown> }))) {
      return end(status, 'failed', t0, `the cache refused the entry (larger than the limit of its disk tier, ${disk.maxBytes} bytes, or a write error)`);
    }
    await disk.flush(); // committed before the lock goes: a process that finds the lock free finds the entry
    const published = req.store.peek(ns, req.key);
    if (published && 'entry' in published) {
      status.entryBytes = published.entry.size;
      // These bytes were written and hashed a moment ago: the first hit need not hash them again.
      if (!published.entry.encrypted) for (const f of published.entry.files) req.memo.markVerified(f.path, f.hash);
      await req.store.settled();
    }
    status.format = r.format;
    end(status, 'saved', t0);
  } finally {
    if (holder.work) rmSync(holder.work, { recursive: true, force: true });
    holder.work = undefined;
    holder.release?.();
    holder.release = undefined;
  }
}

/**
 * Saves the entry of a miss in the background. Returns its status (updated in place as the save
 * goes) and a promise of its end. A save of the same entry already running in this process is
 * shared.
 */
export function saveEntry(req: SaveRequest): { status: SaveStatus; done: Promise<void> } {
  const id = `${req.store.dir}\0${req.key}`;
  const already = running.get(id);
  if (already) return already;
  const status: SaveStatus = { status: 'pending' };
  const holder: Live = {};
  live.add(holder);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', onExit);
  }
  const t0 = performance.now();
  const done = save(req, status, holder, t0)
    .catch((err: Error) => end(status, 'failed', t0, `the entry could not be saved (${err.message})`))
    .finally(() => {
      live.delete(holder);
      running.delete(id);
    });
  const handle = { status, done };
  running.set(id, handle);
  return handle;
}

/** Resolves when every save started by this process has ended. */
export async function savesSettled(): Promise<void> {
  while (running.size > 0) await Promise.allSettled([...running.values()].map((r) => r.done));
}
