// Sessions on the one storage stack: entries evicted by the same LRU as tensor results in one
// directory, a session entry round-tripping through an AzureBlobTier (another machine loads it; a
// different CPU is a different key), and a cache that verifies clean after sessions were used.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Cache, DiskTier, tensorCache } from '../../src/index.js';
import { closeSessionCaches, InferenceSession, sessionCacheInfo } from '../../src/ort/index.js';
import { TEST_CPU_ENV } from '../../src/ort/fingerprint.js';
import { AzureBlobTier } from '../../src/store/azure/tier.js';
import { useAzurite } from '../setup/use-azurite.js';
import { randomBytes } from '../helpers.js';
import { models } from '../models.js';
import { clsFeeds, dirs, outputs, sameOutputs } from './helpers.js';

const azurite = useAzurite();
const newDir = dirs('modelcache-ort-storage-');
const quiet = { logSeverityLevel: 3 as const };
afterAll(() => closeSessionCaches());
afterEach(() => {
  delete process.env[TEST_CPU_ENV];
});

/** A tensor function whose every row result is 256 KiB of incompressible floats. */
const bigRows = async (x: { type: string; dims: number[]; data: Float32Array }) => {
  const n = x.dims[0];
  const w = 64 * 1024;
  const data = new Float32Array(n * w);
  for (let i = 0; i < n; i++) data.set(new Float32Array(randomBytes(w * 4, 1 + x.data[i]).buffer), i * w);
  return { type: 'float32', dims: [n, w], data };
};
const rows = (...ids: number[]) => ({ type: 'float32', dims: [ids.length, 1], data: Float32Array.from(ids) });

describe('one directory, one LRU', () => {
  it('evicts a session entry for tensor results once it is the least recently used, and keeps it while it is used', async () => {
    const dir = newDir();
    const cache = new Cache({ dir, maxMemoryBytes: 0, maxDiskBytes: 3_000_000, compression: false });
    const embed = tensorCache({ cache })(bigRows);
    const session = await InferenceSession.create(models.ocrCls, { ...quiet, cache: { cache, wait: true } }); // ~0.77 MB
    await session.release();
    await embed(rows(1, 2, 3, 4)); // ~1 MB of tensor results, newer than the session
    await cache.flush();
    const hit = await InferenceSession.create(models.ocrCls, { ...quiet, cache }); // used again: now the newest
    expect(sessionCacheInfo(hit)!.status).toBe('hit');
    await hit.release();
    await cache.flush();
    await embed(rows(5, 6, 7, 8, 9, 10)); // past the limit: the oldest tensor rows go first
    await cache.flush();
    expect((await cache.count('session')).disk).toBe(1);
    await embed(rows(11, 12, 13, 14, 15, 16, 17, 18)); // and now the session too
    await cache.flush();
    expect((await cache.count('session')).disk).toBe(0);
    const again = await InferenceSession.create(models.ocrCls, { ...quiet, cache });
    expect(sessionCacheInfo(again)!.status).toBe('miss');
    await again.release();
    await closeSessionCaches();
    await cache.close();
  });
});

describe('a shared tier', () => {
  let n = 0;
  const fast = { maxTries: 2, tryTimeoutMs: 5000, retryDelayMs: 50 };
  const shared = (container: string) => new AzureBlobTier({ connectionString: azurite().connectionString, containerName: container, ...fast });

  it('carries a session entry to another machine, which loads it with identical outputs; another CPU misses', async () => {
    const container = `s${process.pid}-${n++}`;
    const a = new Cache({ dir: newDir(), maxMemoryBytes: 0, shared: shared(container) });
    const first = await InferenceSession.create(models.ocrCls, { ...quiet, cache: { cache: a, wait: true } });
    expect(sessionCacheInfo(first)!.save?.status).toBe('saved');
    await a.flush(); // the upload
    await a.close();
    const want = await outputs(first, clsFeeds());
    await first.release();

    // Another machine, configured through the options (its shared tier included).
    const b = await InferenceSession.create(models.ocrCls, { ...quiet, cache: { dir: newDir(), shared: shared(container) } });
    expect(sessionCacheInfo(b)).toMatchObject({ status: 'hit', format: 'ort' });
    expect(sameOutputs(await outputs(b, clsFeeds()), want)).toBe(true);
    await b.release();

    process.env[TEST_CPU_ENV] = 'another-cpu';
    const c = await InferenceSession.create(models.ocrCls, { ...quiet, cache: { dir: newDir(), shared: shared(container), wait: true } });
    expect(sessionCacheInfo(c)!.status).toBe('miss');
    await c.release();
    await closeSessionCaches();
  });
});

describe('after sessions were used', () => {
  it('the cache verifies clean', async () => {
    const dir = newDir();
    for (const cache of [{ dir, wait: true }, { dir, wait: true, mode: 'size' as const }, { dir }]) {
      const s = await InferenceSession.create(models.ocrDet, { ...quiet, cache });
      await s.run({ x: new ort.Tensor('float32', new Float32Array(3 * 64 * 64), [1, 3, 64, 64]) });
      await s.release();
    }
    await closeSessionCaches();
    const disk = new DiskTier({ dir: join(dir), readOnly: true });
    try {
      const report = await disk.verify();
      expect(report.problems).toEqual([]);
      expect(report.entries).toBeGreaterThanOrEqual(2);
    } finally {
      await disk.close();
    }
  });
});
