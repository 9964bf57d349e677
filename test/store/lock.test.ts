import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/store/work.js';
import { tempDir } from '../helpers.js';

const root = tempDir('modelcache-lock-');
let n = 0;
const newDir = () => {
  const d = join(root, `d${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

describe('acquireLock', () => {
  it('gives the lock to one holder at a time', async () => {
    const path = join(newDir(), 'lock-a');
    const first = await acquireLock(path);
    expect(first.lock).toBeDefined();
    const holder = JSON.parse(readFileSync(path, 'utf8'));
    expect(holder).toMatchObject({ host: hostname(), pid: process.pid });
    const second = acquireLock(path);
    let settled = false;
    void second.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 60));
    expect(settled).toBe(false);
    first.lock!.release();
    const got = await second;
    expect(got.lock).toBeDefined();
    expect(got.waitedMs).toBeGreaterThan(40);
    got.lock!.release();
    expect(existsSync(path)).toBe(false);
  });

  it('stops waiting as soon as the awaited work is ready', async () => {
    const path = join(newDir(), 'lock-b');
    const held = await acquireLock(path);
    let ready = false;
    setTimeout(() => (ready = true), 50);
    const r = await acquireLock(path, { ready: () => ready });
    expect(r.ready).toBe(true);
    expect(r.lock).toBeUndefined();
    held.lock!.release();
  });

  it('takes over a lock whose holder on this host has died', async () => {
    const path = join(newDir(), 'lock-c');
    writeFileSync(path, JSON.stringify({ host: hostname(), pid: deadPid(), time: Date.now(), token: 'dead' }));
    const r = await acquireLock(path, { maxWaitMs: 2000 });
    expect(r.lock).toBeDefined();
    expect(r.recovered).toBe(true);
    r.lock!.release();
  });

  it('takes over a lock from another host once it is older than staleMs, not before', async () => {
    const path = join(newDir(), 'lock-d');
    writeFileSync(path, JSON.stringify({ host: 'elsewhere', pid: 1, time: Date.now(), token: 'far' }));
    const waiting = await acquireLock(path, { maxWaitMs: 100, staleMs: 60_000 });
    expect(waiting.lock).toBeUndefined();
    writeFileSync(path, JSON.stringify({ host: 'elsewhere', pid: 1, time: Date.now() - 120_000, token: 'far' }));
    const r = await acquireLock(path, { maxWaitMs: 1000, staleMs: 60_000 });
    expect(r.lock).toBeDefined();
    r.lock!.release();
  });

  it('takes over an unreadable lock file only once it is old (its writer may be mid-write)', async () => {
    const path = join(newDir(), 'lock-e');
    writeFileSync(path, '');
    expect((await acquireLock(path, { maxWaitMs: 100 })).lock).toBeUndefined();
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const r = await acquireLock(path, { maxWaitMs: 1000 });
    expect(r.lock).toBeDefined();
    r.lock!.release();
  });

  it('never removes a lock it does not hold on release', async () => {
    const path = join(newDir(), 'lock-f');
    const r = await acquireLock(path);
    writeFileSync(path, JSON.stringify({ host: 'h', pid: 1, time: Date.now(), token: 'someone-else' }));
    r.lock!.release();
    expect(existsSync(path)).toBe(true);
  });
});
