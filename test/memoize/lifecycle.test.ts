// A tensorCache module's life in a shared Cache: clear() deletes exactly its own namespace in every
// tier (memory, disk, shared), and what an awaited call computed outlives process.exit().
import { spawnSync } from 'node:child_process';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache, contentOf, DiskTier, MemoryTier, tensorCache, type Tier } from '../../src/index.js';
import { f32, rowFn } from './helpers.js';

/** A stand-in shared tier (a MemoryTier marked shared) that records every delete it is asked for. */
function recordingShared() {
  const inner = new MemoryTier({ maxBytes: 1e8 });
  const deletes: string[] = [];
  const tier: Tier = {
    name: 'recording', encoded: false, shared: true,
    get: (k, ns) => inner.get(k, ns), getMany: (ks, ns) => inner.getMany(ks, ns),
    put: (k, v, m) => inner.put(k, v, m), has: (k, ns) => inner.has(k, ns),
    delete(k, ns) {
      deletes.push(`key ${ns}/${k}`);
      return inner.delete(k, ns);
    },
    deleteNamespace(ns) {
      deletes.push(`namespace ${ns}`);
      return inner.deleteNamespace!(ns);
    },
    clear() {
      deletes.push('everything');
      inner.clear!();
    },
    countEntries: (ns) => inner.countEntries!(ns),
    stats: () => inner.stats(), close: () => inner.close(),
  };
  return { tier, deletes };
}

describe('tensorCache clear() on a shared Cache', () => {
  it("deletes its own namespace in every tier and leaves other modules' entries everywhere", async () => {
    const { tier: shared, deletes } = recordingShared();
    const cache = new Cache({ dir: mkdtempSync(join(tmpdir(), 'modelcache-clear-')), shared });
    const seenA: number[][][] = [];
    const seenB: number[][][] = [];
    const a = tensorCache({ cache, dependsOn: ['a'] })(rowFn(seenA));
    const b = tensorCache({ cache, dependsOn: ['b'] })(rowFn(seenB));
    const x = f32([[1, 2], [3, 4]]);
    await a(x);
    await b(x);
    await cache.flush();
    const nsA = `tensor.${a.cache.moduleHash}`;
    const nsB = `tensor.${b.cache.moduleHash}`;
    expect(await cache.count(nsA)).toMatchObject({ memory: 2, disk: 2, recording: 2 });

    await a.cache.clear();

    expect(deletes).toEqual([`namespace ${nsA}`]);
    expect(await cache.count(nsA)).toMatchObject({ memory: 0, disk: 0, recording: 0 });
    expect(await cache.count(nsB)).toMatchObject({ memory: 2, disk: 2, recording: 2 });
    await b(x);
    expect(seenB).toHaveLength(1); // b is still served from the cache
    await a(x);
    expect(seenA).toHaveLength(2); // a computes again
    await cache.close();
  });
});

describe('durability', () => {
  it('a child that awaits a memoized call then calls process.exit(0) leaves results a second process reads without computing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelcache-exit-'));
    const dist = new URL('../../dist/index.js', import.meta.url).href;
    const program = (exitAtOnce: boolean) => `
      import { tensorCache } from ${JSON.stringify(dist)};
      let computed = 0;
      const f = tensorCache({ dir: ${JSON.stringify(dir)}, dependsOn: [] })(async (x) => {
        computed += x.dims[0];
        return { type: 'float32', dims: x.dims, data: x.data.map((v) => v * 2) };
      });
      const rows = 64;
      const out = await f({ type: 'float32', dims: [rows, 4], data: new Float32Array(rows * 4).map((_, i) => i) });
      if (out.data[5] !== 10) throw new Error('wrong result');
      console.log(JSON.stringify({ computed }));
      ${exitAtOnce ? 'process.exit(0);' : ''}`;
    const run = (exitAtOnce: boolean) => {
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', program(exitAtOnce)], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim()) as { computed: number };
    };
    expect(run(true).computed).toBe(64);
    expect(run(false).computed).toBe(0);
  });
});

describe('tensorCache flush()', () => {
  it('waits for the facts of files named by contentOf, recorded in the background, to be stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelcache-flush-'));
    const file = join(dir, 'weights.bin');
    writeFileSync(file, 'weights');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(file, hourAgo, hourAgo);
    await new Promise((r) => setTimeout(r, 150)); // a file changed within 100 ms is hashed but not remembered ("racy")
    const f = tensorCache({ dir: join(dir, 'cache'), dependsOn: [contentOf(file)] })(rowFn());
    await f(f32([[1], [2]]));
    await f.cache.flush();
    const tier = new DiskTier({ dir: join(dir, 'cache'), readOnly: true });
    try {
      expect(tier.countEntries('ort.memo')).toBe(1);
    } finally {
      await tier.close();
    }
  });
});
