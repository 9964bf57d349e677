// verify --repair beside a live writer: the writer puts, replaces, deletes and evicts (a small
// limit) in another process while verify runs again and again. What verify reports must be true
// of the cache as one snapshot, and what a repair drops must still be damaged in the transaction
// that drops it: on a healthy cache it finds nothing and drops nothing, however busy.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DiskTier, type VerifyReport } from '../../src/index.js';
import { tempDir } from '../helpers.js';
// @ts-expect-error fixture module without types
import { checkValue, keyAt } from '../fixtures/values.mjs';

const DIST = resolve(import.meta.dirname, '../../dist/index.js');
const VALUES = resolve(import.meta.dirname, '../fixtures/values.mjs');
const KEYS = 24;
const MAX_BYTES = 1024 * 1024;

// Writes until stdin closes, then closes its tier and exits.
const WRITER = `
import { DiskTier } from ${JSON.stringify(DIST)};
import { keyAt, makeValue, prng } from ${JSON.stringify(VALUES)};
const tier = new DiskTier({ dir: process.argv[1], maxBytes: ${MAX_BYTES}, accessFlushMs: 20 });
const rand = prng(5);
let stop = false;
process.stdin.on('close', () => (stop = true)).resume();
process.stdout.write('ready\\n');
let ops = 0;
while (!stop) {
  const key = keyAt(Math.floor(rand() * ${KEYS}));
  const r = rand();
  if (r < 0.7) tier.put(key, makeValue(key, Math.floor(rand() * 4)));
  else if (r < 0.85) tier.delete(key);
  else await tier.get(key);
  if (++ops % 8 === 0) await new Promise((res) => setImmediate(res));
}
await tier.close();
process.stdout.write('ops ' + ops + '\\n');
`;

describe('verify --repair beside a live writer', () => {
  const dir = join(tempDir('modelcache-verify-live-'), 'cache');
  const reports: VerifyReport[] = [];
  let readable = { correct: 0, wrong: [] as string[] };
  let writerOut = '';

  beforeAll(async () => {
    const writer = spawn(process.execPath, ['--input-type=module', '-e', WRITER, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((r) => writer.on('exit', r));
    await new Promise<void>((r) => writer.stdout.once('data', () => r()));
    writer.stdout.on('data', (d) => (writerOut += d));
    const tier = new DiskTier({ dir, maxBytes: MAX_BYTES });
    // Runs for a few seconds of the writer's work (how long is no assertion: only what verify says).
    const until = Date.now() + 4000;
    while (Date.now() < until) reports.push(await tier.verify({ repair: true }));
    writer.stdin.end();
    expect(await exited).toBe(0);
    for (let i = 0; i < KEYS; i++) {
      const v = await tier.get(keyAt(i));
      if (v === undefined) continue;
      const r = checkValue(keyAt(i), v);
      if (r.ok) readable.correct++;
      else readable.wrong.push(`${keyAt(i)}: ${r.reason}`);
    }
    reports.push(await tier.verify());
    await tier.close();
  });

  test('the writer kept writing throughout', () => {
    expect(Number(/ops (\d+)/.exec(writerOut)?.[1] ?? 0)).toBeGreaterThan(1000);
    expect(reports.reduce((n, r) => n + r.entries, 0)).toBeGreaterThan(0);
  });

  test('no run reports a problem: every report is true of one snapshot of a healthy cache', () => {
    expect(reports.flatMap((r) => r.problems)).toEqual([]);
  });

  test('no repair drops anything', () => {
    expect(reports.map((r) => r.repaired)).toEqual(reports.map(() => 0));
  });

  test('every value left is one the writer wrote for its key', () => {
    expect(readable.wrong).toEqual([]);
    expect(readable.correct).toBeGreaterThan(0);
  });
});
