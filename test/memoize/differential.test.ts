// Differential suite: random programs of calls against tensorCache and against the same function
// uncached must give identical results. Seeded and bounded for CI; MODELCACHE_PROPERTY_RUNS (and
// MODELCACHE_PROPERTY_SEED) run it longer or elsewhere.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Cache, tensorCache } from '../../src/index.js';
import { DTYPES, runProgram, wrappers } from '../fixtures/differential.mjs';
import { tempDir } from '../helpers.js';
import { propertyRuns } from '../property.js';

const run = promisify(execFile);

const row = fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 3, maxLength: 3 });
const call = fc.record({
  who: fc.nat(1),
  // Batch sizes 0..64 over a pool of a few distinct samples: duplicates and partial hits.
  rows: fc.array(fc.nat(7), { maxLength: 64 }),
  dtype: fc.nat(1),
  mode: fc.constantFrom('x', 'y'),
  mutate: fc.boolean(),
  feedsOrder: fc.boolean(),
});
const program = (forms: string[], tiers: string[]) =>
  fc.record({
    layout: fc.constantFrom('positional', 'feeds', 'texts'),
    form: fc.constantFrom(...forms),
    tier: fc.constantFrom(...tiers),
    // Calls switch between two dtypes of equal bytes (zeros, small integers): a key without the dtype collides.
    dtypesA: fc.array(fc.constantFrom(...DTYPES), { minLength: 1, maxLength: 2 }),
    dtypeB: fc.constantFrom(...DTYPES),
    // b of a's dtype and width, rows reversed: a feeds key that pairs digests with the wrong names collides.
    mirror: fc.boolean(),
    widthA: fc.integer({ min: 0, max: 3 }),
    widthB: fc.integer({ min: 1, max: 3 }),
    poolA: fc.array(row, { minLength: 1, maxLength: 6 }),
    poolB: fc.array(row, { minLength: 1, maxLength: 6 }),
    words: fc.array(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 6 }),
    // Each group runs concurrently (overlapping rows), groups one after another.
    ops: fc.array(fc.array(call, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
  });

describe('tensorCache against the uncached function (differential)', () => {
  const root = tempDir();
  let n = 0;

  it('random programs give exactly the uncached results, in memory and on disk, for every form', async () => {
    await fc.assert(
      fc.asyncProperty(program(['function', 'closures', 'class', 'subclass', 'method'], ['memory', 'disk', 'disk-only']), async (p) => {
        const cache = new Cache(
          p.tier === 'memory' ? { dir: false } : { dir: join(root, `d${n++}`), ...(p.tier === 'disk-only' ? { maxMemoryBytes: 0 } : {}) },
        );
        try {
          expect(await runProgram(wrappers(tensorCache, p, { cache }), p)).toBeNull();
        } finally {
          await cache.close();
        }
      }),
      propertyRuns(150),
    );
  });

  it('a second process reads what the first wrote and gets the uncached results without computing', async () => {
    const child = new URL('../fixtures/differential-process.mjs', import.meta.url).pathname;
    await fc.assert(
      fc.asyncProperty(program(['function', 'closures'], ['disk']), async (p) => {
        const dir = join(root, `p${n++}`);
        mkdirSync(dir, { recursive: true });
        const file = join(dir, 'program.json');
        writeFileSync(file, JSON.stringify(p));
        const first = JSON.parse((await run(process.execPath, [child, file, join(dir, 'cache'), 'write'])).stdout);
        expect(first.mismatch).toBeNull();
        const second = JSON.parse((await run(process.execPath, [child, file, join(dir, 'cache'), 'read'])).stdout);
        expect(second.mismatch).toBeNull();
        expect(second.computed).toBe(0);
      }),
      propertyRuns(6),
    );
  });
});
