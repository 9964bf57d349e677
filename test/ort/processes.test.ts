import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DiskTier } from '../../src/index.js';
import { models } from '../models.js';
import { dirs } from './helpers.js';
import { HOST } from '../../src/store/work.js';

const run = promisify(execFile);
const FIXTURE = new URL('../fixtures/ort-create.mjs', import.meta.url).pathname;
const newDir = dirs('modelcache-ort-proc-');

async function race(n: number, dir: string, mode: 'speed' | 'size') {
  const startAt = Date.now() + 2500; // after every child has loaded onnxruntime
  const children = Array.from({ length: n }, () => run(process.execPath, [FIXTURE, JSON.stringify({ model: models.ocrDet, dir, mode, startAt })]));
  return (await Promise.all(children)).map((r) => JSON.parse(r.stdout.trim()) as { status: string; key: string; waitMs: number });
}

describe('several processes creating the same session on an empty cache', () => {
  for (const mode of ['speed', 'size'] as const) {
    it(`all succeed, only one optimizes, the others wait and hit; one entry results (${mode})`, async () => {
      const dir = newDir();
      const results = await race(4, dir, mode);
      expect(results.map((r) => r.status).sort()).toEqual(['hit', 'hit', 'hit', 'miss']);
      expect(results.filter((r) => r.status === 'hit' && r.waitMs > 0).length).toBeGreaterThan(0);
      expect(new Set(results.map((r) => r.key)).size).toBe(1);
      const disk = new DiskTier({ dir, readOnly: true });
      try {
        expect([...disk.list()].filter((e) => e.kind === 'session')).toHaveLength(1);
      } finally {
        await disk.close();
      }
      // No lock file is left behind.
      expect(readdirSync(join(dir, 'tmp')).filter((f) => f.startsWith('lock-'))).toEqual([]);
      expect(existsSync(join(dir, 'tmp'))).toBe(true);
    });
  }
});

describe('a lock left by a process that died', () => {
  it('is taken over: the next creation optimizes at once instead of waiting', async () => {
    const probe = newDir();
    const args = (dir: string) => [FIXTURE, JSON.stringify({ model: models.ocrCls, dir })];
    const { key } = JSON.parse((await run(process.execPath, args(probe))).stdout.trim());
    const dir = newDir();
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(join(dir, 'tmp', `lock-${key}`), JSON.stringify({ host: HOST, pid: dead, time: Date.now(), token: 'x' }));
    const r = JSON.parse((await run(process.execPath, args(dir))).stdout.trim());
    expect(r).toMatchObject({ status: 'miss', key });
    expect(r.waitMs).toBeLessThan(5000);
    expect(readdirSync(join(dir, 'tmp')).filter((f) => f.startsWith('lock-'))).toEqual([]);
  });
});
