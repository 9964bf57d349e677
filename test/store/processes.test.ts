// What one process does to a cache directory must never cost another one, and what a process
// acknowledged must outlive it: puts acknowledged before process.exit() are read by the next
// process; exit is prompt after session-style hits; a process whose event loop is blocked makes
// no other process wait; compute-once across processes; a clean exit leaves a cache that verifies.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache, DiskTier } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const CHILD = resolve('test/fixtures/store-child.mjs');
const CLI = resolve('dist/cli/main.js');
const root = tempDir('modelcache-processes-');
let n = 0;
const newDir = () => join(root, `d${n++}`);

/** Runs a scenario of the child fixture to its end (a generous bound only against hangs). */
function child(scenario: string, dir: string, extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [CHILD, JSON.stringify({ scenario, dir, ...extra })], { encoding: 'utf8', timeout: 60_000, env });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, signal: r.signal, stderr: r.stderr, out: line.startsWith('{') ? JSON.parse(line) : undefined };
}

/** Starts a scenario; resolves with its JSON line. */
function childAsync(scenario: string, dir: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [CHILD, JSON.stringify({ scenario, dir, ...extra })], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => (code === 0 ? resolvePromise(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`${scenario} exited ${code}: ${err}`))));
  });
}

const markers = (dir: string) => readdirSync(join(dir, 'tmp')).filter((f) => f.endsWith('.open'));

describe('acknowledged writes outlive the process', () => {
  it('puts awaited (and one not awaited) before process.exit(0) are read by the next process', () => {
    const dir = newDir();
    const w = child('put-exit', dir);
    expect(w.status, w.stderr).toBe(0);
    const r = child('read-back', dir);
    expect(r.out).toEqual({ small: true, file: true, big: true, unawaited: true, files: true });
  });

  it('a clean exit (process.exit included) leaves no open marker, and verify exits 0', () => {
    const dir = newDir();
    expect(child('put-exit', dir).status).toBe(0);
    expect(child('hits-exit', dir).status).toBe(0);
    expect(markers(dir)).toEqual([]);
    const v = spawnSync(process.execPath, [CLI, 'verify', '--dir', dir], { encoding: 'utf8' });
    expect(v.stdout).toContain('no problems found');
    expect(v.status).toBe(0);
  });

  it('a live process\'s open marker is not a problem for verify', async () => {
    const dir = newDir();
    const t = new DiskTier({ dir });
    t.put('0'.repeat(32), Buffer.from('x'));
    await t.flush();
    expect(markers(dir)).toHaveLength(1);
    const v = spawnSync(process.execPath, [CLI, 'verify', '--dir', dir], { encoding: 'utf8' });
    expect(v.status, v.stdout).toBe(0);
    await t.close();
    expect(markers(dir)).toEqual([]);
  });
});

describe('exit is prompt', () => {
  it('process.exit() right after two session-style hits ends the process, keeping what was queued', () => {
    const dir = newDir();
    expect(child('hits-exit', dir).status).toBe(0); // a miss, then two hits
    const again = child('hits-exit', dir); // two hits on a warm cache
    expect(again.signal).toBe(null);
    expect(again.status, again.stderr).toBe(0);
    expect(again.out).toEqual({ exiting: true });
    const t = new DiskTier({ dir, readOnly: true });
    expect(t.has('after'.padEnd(32, '0'))).toBe(true);
    return t.close();
  });
});

describe('a busy process never makes another one wait', () => {
  it('a child opens, reads, writes and commits while its parent\'s event loop is blocked', () => {
    const dir = newDir();
    const r = child('block', dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toEqual({ doneWhileBlocked: true });
    expect(JSON.parse(readFileSync(`${dir}.done`, 'utf8'))).toEqual({ hits: true });
  });
});

describe('compute once across processes', () => {
  it('three processes asking for one key on an empty cache compute it once, and all get it', async () => {
    const dir = newDir();
    const results = await Promise.all([0, 1, 2].map(() => childAsync('compute', dir, { computeMs: 800 })));
    expect(results.filter((r) => r.computed)).toHaveLength(1);
    expect(results.every((r) => r.correct)).toBe(true);
  });

  it('a waiter gives up after lockWaitMs and computes itself when the holder never publishes', async () => {
    const dir = newDir();
    const holder = new DiskTier({ dir });
    const held = await holder.lock('shared'.padEnd(32, '0'), 'compute');
    expect(held.lock).toBeDefined();
    const r = child('compute', dir, { lockWaitMs: 300, computeMs: 10 });
    expect(r.out).toEqual({ computed: true, correct: true });
    held.lock!.release();
    await holder.close();
  });
});

describe('one index per directory per process', () => {
  it('two hundred handles on one directory share it: none fails, and another process still opens it', async () => {
    const dir = newDir();
    const handles: DiskTier[] = [];
    const caches: Cache[] = [];
    for (let i = 0; i < 200; i++) {
      const t = new DiskTier({ dir });
      t.put(`${i}`.padEnd(32, 'a'), Buffer.from(`v${i}`));
      handles.push(t);
    }
    for (const [i, t] of handles.entries()) expect((await t.get(`${i}`.padEnd(32, 'a')))!.toString()).toBe(`v${i}`);
    for (let i = 0; i < 150; i++) caches.push(new Cache({ dir, maxMemoryBytes: 0 }));
    for (const [i, c] of caches.entries()) await c.put(`${i}`.padEnd(32, 'c'), Buffer.from(`c${i}`));
    for (const [i, c] of caches.entries()) expect((await c.get(`${i}`.padEnd(32, 'c')))!.toString()).toBe(`c${i}`);
    const other = child('quick', dir, { marker: `${dir}.other` });
    expect(other.status, other.stderr).toBe(0);
    for (const t of handles) await t.close();
    for (const c of caches) await c.close();
    expect(existsSync(`${dir}.other`)).toBe(true);
  });
});

describe('counters', () => {
  it('hits, misses and puts per namespace are summed across processes and survive restarts', async () => {
    const dir = newDir();
    expect(child('counts', dir).status).toBe(0);
    expect(child('counts', dir).status).toBe(0);
    const c = new Cache({ dir });
    const [s] = c.namespaceStats('counted');
    expect(s).toMatchObject({ namespace: 'counted', entries: 1, hits: 4, misses: 2, puts: 2 });
    await c.close();
  });

  it('NODE_DEBUG=modelcache logs hits and misses', () => {
    const r = child('counts', newDir(), {}, { ...process.env, NODE_DEBUG: 'modelcache' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/cache counted: 1 hit, 0 miss/);
    expect(r.stderr).toMatch(/cache counted: 0 hit, 1 miss/);
  });
});
