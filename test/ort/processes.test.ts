// Sessions across processes: four processes starting one model on an empty cache build it once and
// all run correctly; a process that exits while its entry is being saved leaves a cache that
// verifies clean; process.exit() right after hits ends the process; a lock of a dead process is
// taken over; a clean exit leaves no open marker.
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DiskTier } from '../../src/store/disk/tier.js';
import { HOST } from '../../src/store/work.js';
import { models } from '../models.js';
import { dirs, listSessions } from './helpers.js';

const run = promisify(execFile);
const FIXTURE = new URL('../fixtures/ort-create.mjs', import.meta.url).pathname;
const CLI = resolve('dist/cli/main.js');
const newDir = dirs('modelcache-ort-proc-');
const input = [1, 3, 64, 64];

interface Result {
  status: string;
  key: string;
  save?: string;
  saveReason?: string;
  digest?: string;
}

/** Runs the fixture to its end; its results. */
function fixture(args: Record<string, unknown>) {
  const r = spawnSync(process.execPath, [FIXTURE, JSON.stringify(args)], { encoding: 'utf8', timeout: 120_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const out = line.startsWith('{') ? (JSON.parse(line) as { results: Result[]; lmdbLoaded: boolean }) : { results: [], lmdbLoaded: undefined };
  return { status: r.status, signal: r.signal, stderr: r.stderr, ...out };
}

function verify(dir: string) {
  return spawnSync(process.execPath, [CLI, 'verify', '--dir', dir], { encoding: 'utf8' });
}

const markers = (dir: string) => readdirSync(join(dir, 'tmp')).filter((f) => f.endsWith('.open'));

/** The digest the fixture computes, from a plain onnxruntime session. */
async function plainDigest(model: string): Promise<string> {
  const s = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
  const n = input.reduce((a, b) => a * b, 1);
  const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from({ length: n }, (_, j) => Math.sin(j) / 2), input) });
  const h = createHash('sha256');
  for (const name of Object.keys(out).sort()) {
    const d = out[name].data as Float32Array;
    h.update(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  await s.release();
  return h.digest('hex');
}

describe('several processes starting one model on an empty cache', () => {
  it('build its entry once, and all of them run correctly', async () => {
    const dir = newDir();
    const startAt = Date.now() + 2500; // after every child has loaded onnxruntime
    const args = JSON.stringify({ model: models.ocrDet, dir, startAt, wait: true, input });
    const children = Array.from({ length: 4 }, () => run(process.execPath, [FIXTURE, args]));
    const results = (await Promise.all(children)).map((r) => (JSON.parse(r.stdout.trim()).results as Result[])[0]);
    const want = await plainDigest(models.ocrDet);
    expect(results.map((r) => r.digest)).toEqual([want, want, want, want]);
    expect(new Set(results.map((r) => r.key)).size).toBe(1);
    // One process saved it; the others found it being saved (or, starting late, already there).
    expect(results.filter((r) => r.save === 'saved')).toHaveLength(1);
    for (const r of results.filter((x) => x.save !== 'saved')) expect(r.save === 'elsewhere' || r.status === 'hit', JSON.stringify(r)).toBe(true);
    expect(await listSessions(dir)).toHaveLength(1);
    expect(readdirSync(join(dir, 'locks', 'session'))).toEqual([]);
    expect(verify(dir).status).toBe(0);
  });
});

describe('a process that exits while its entry is being saved', () => {
  it('leaves a cache that verifies clean: no entry, no lock, no work files, no marker', () => {
    const dir = newDir();
    const r = fixture({ model: models.ocrRec, dir, end: 'exit' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.results[0]).toMatchObject({ status: 'miss', save: 'pending' });
    const v = verify(dir);
    expect(v.status, v.stdout).toBe(0);
    expect(v.stdout).toContain('no problems found');
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(readdirSync(join(dir, 'locks', 'session'))).toEqual([]);
    // The next process misses, saves, and the one after hits.
    expect(fixture({ model: models.ocrRec, dir, wait: true }).results[0]).toMatchObject({ status: 'miss', save: 'saved' });
    expect(fixture({ model: models.ocrRec, dir }).results[0].status).toBe('hit');
  });
});

describe('a hit in a fresh process', () => {
  it('opens no index: lmdb-js is not even loaded', () => {
    const dir = newDir();
    expect(fixture({ model: models.ocrCls, dir, wait: true }).lmdbLoaded).toBe(true); // a miss publishes through the index
    const r = fixture({ model: models.ocrCls, dir, creates: 2, input: [1, 3, 48, 192] });
    expect(r.results.map((x) => x.status)).toEqual(['hit', 'hit']);
    expect(r.lmdbLoaded).toBe(false);
  });

  it('that exits at once keeps its entry warm: eviction takes the touched head for an access', async () => {
    const dir = newDir();
    const { key } = fixture({ model: models.ocrCls, dir, wait: true }).results[0];
    const tier = new DiskTier({ dir });
    tier.put('v'.repeat(32), randomBytes(100_000)); // used after the session entry
    await tier.flush();
    await new Promise((r) => setTimeout(r, 5));
    expect(fixture({ model: models.ocrCls, dir, end: 'exit' }).results[0].status).toBe('hit');
    // Room for all but 100 kB: the least recently used entries go until that is freed.
    await tier.prune(tier.stats().bytes - 100_000);
    expect(tier.has('v'.repeat(32))).toBe(false);
    expect(await tier.getFiles(key, 'session')).toBeDefined();
    await tier.close();
  });
});

describe('a process that ends', () => {
  it('with process.exit() right after two hits, exits and leaves no open marker', () => {
    const dir = newDir();
    expect(fixture({ model: models.ocrCls, dir, wait: true }).results[0].save).toBe('saved');
    const r = fixture({ model: models.ocrCls, dir, creates: 2, end: 'exit' });
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.results.map((x) => x.status)).toEqual(['hit', 'hit']);
    expect(markers(dir)).toEqual([]);
    expect(verify(dir).status).toBe(0);
  });

  it('naturally after a miss, once its entry is saved, leaving no marker and a cache that verifies clean', () => {
    const dir = newDir();
    const r = fixture({ model: models.ocrCls, dir });
    expect(r.status, r.stderr).toBe(0);
    expect(r.results[0]).toMatchObject({ status: 'miss', save: 'pending' });
    expect(markers(dir)).toEqual([]);
    expect(verify(dir).status).toBe(0);
    expect(fixture({ model: models.ocrCls, dir }).results[0].status).toBe('hit');
  });
});

describe('a lock left by a process that died', () => {
  it('is taken over: the next miss saves the entry at once', () => {
    const probe = newDir();
    const { key } = fixture({ model: models.ocrCls, dir: probe }).results[0];
    const dir = newDir();
    mkdirSync(join(dir, 'locks', 'session'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(dir, 'locks', 'session', key), JSON.stringify({ host: HOST, pid: dead, time: Date.now(), token: 'x' }));
    const r = fixture({ model: models.ocrCls, dir, wait: true }).results[0];
    expect(r).toMatchObject({ status: 'miss', key, save: 'saved' });
    expect(readdirSync(join(dir, 'locks', 'session'))).toEqual([]);
  });
});
