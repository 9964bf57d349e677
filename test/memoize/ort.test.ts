import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { DiskTier, tensorCache } from '../../src/index.js';
import { InferenceSession as CachedSession } from '../../src/ort/index.js';
import { randomBytes, tempDir } from '../helpers.js';
import { models } from '../models.js';

const run = promisify(execFile);

/** Deterministic image-like batch for the PaddleOCR direction classifier: [n, 3, 48, 192]. */
function images(n: number, seed: number): ort.Tensor {
  const noise = randomBytes(n * 3 * 48 * 192, seed);
  const data = new Float32Array(noise.length);
  for (let i = 0; i < data.length; i++) data[i] = noise[i] / 127.5 - 1;
  return new ort.Tensor('float32', data, [n, 3, 48, 192]);
}

/** Row `i` of a batch as its own tensor. */
function row(t: ort.Tensor, i: number): ort.Tensor {
  const w = t.data.length / t.dims[0];
  return new ort.Tensor('float32', (t.data as Float32Array).slice(i * w, (i + 1) * w), [1, ...t.dims.slice(1)]);
}

describe('tensorCache with a real onnxruntime session (PaddleOCR cls)', () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(models.ocrCls);
  });
  const classify = (x: ort.Tensor) => session.run({ x });

  it('returns exactly the uncached outputs, as onnxruntime Tensors, on a miss and on a hit', async () => {
    const cached = tensorCache()(classify);
    const x = images(6, 1);
    const plain = await classify(x);
    const miss = (await cached(x)) as ort.InferenceSession.OnnxValueMapType;
    const hit = (await cached(x)) as ort.InferenceSession.OnnxValueMapType;
    const name = session.outputNames[0];
    for (const out of [miss, hit]) {
      expect(out[name]).toBeInstanceOf(ort.Tensor);
      expect(out[name].dims).toEqual(plain[name].dims);
      expect(Buffer.from((out[name].data as Float32Array).buffer).equals(Buffer.from((plain[name].data as Float32Array).buffer))).toBe(true);
    }
    expect(cached.cache.stats()).toMatchObject({ computed: 6, hits: 6 });
  });

  it('serves a batch mixing cached and new images with the per-image results of the model', async () => {
    const cached = tensorCache()(classify);
    const x = images(8, 2);
    await cached(new ort.Tensor('float32', (x.data as Float32Array).slice(0, 4 * 3 * 48 * 192), [4, 3, 48, 192]));
    const out = (await cached(x)) as ort.InferenceSession.OnnxValueMapType;
    const name = session.outputNames[0];
    for (let i = 0; i < 8; i++) {
      const alone = (await classify(row(x, i)))[name].data as Float32Array;
      const got = (out[name].data as Float32Array).subarray(2 * i, 2 * i + 2);
      // A CNN's per-image result does not depend on its batch neighbours (up to float rounding).
      expect(Math.abs(got[0] - alone[0])).toBeLessThan(1e-6);
      expect(Math.abs(got[1] - alone[1])).toBeLessThan(1e-6);
    }
  });

  it('with cacheDtype float16, hits are within float16 precision of the model output', async () => {
    const cached = tensorCache({ cacheDtype: 'float16' })(classify);
    const x = images(4, 3);
    const plain = (await classify(x))[session.outputNames[0]].data as Float32Array;
    await cached(x);
    const hit = ((await cached(x)) as ort.InferenceSession.OnnxValueMapType)[session.outputNames[0]].data as Float32Array;
    expect(hit).toBeInstanceOf(Float32Array);
    hit.forEach((v, i) => expect(Math.abs(v - plain[i])).toBeLessThanOrEqual(Math.abs(plain[i]) * 2 ** -11 + 1e-7));
  });

  it('rebuilds onnxruntime Tensors for hits read back from disk by a fresh wrapper', async () => {
    const dir = join(tempDir(), 'cls');
    const first = tensorCache({ dir })(classify);
    const x = images(3, 4);
    await first(x);
    await first.cache.flush();
    const second = tensorCache({ dir, maxMemoryBytes: 0 })(classify);
    const out = (await second(x)) as ort.InferenceSession.OnnxValueMapType;
    expect(out[session.outputNames[0]]).toBeInstanceOf(ort.Tensor);
    expect(second.cache.stats()).toMatchObject({ computed: 0, hits: 3 });
  });
});

describe('tensorCache across processes', () => {
  it('4 processes sharing one dir all get correct results and leave a consistent cache', async () => {
    const dir = join(tempDir(), 'shared');
    const worker = new URL('../fixtures/memo-worker.mjs', import.meta.url).pathname;
    const results = await Promise.all([1, 2, 3, 4].map((seed) => run(process.execPath, [worker, dir, String(seed), '40'])));
    const stats = results.map((r) => JSON.parse(r.stdout) as { computed: number; checked: number });
    expect(stats.every((s) => s.checked > 0)).toBe(true);
    const computed = stats.reduce((a, s) => a + s.computed, 0);
    expect(computed).toBeGreaterThanOrEqual(60 * 0.5); // most of the 60 ids were needed somewhere
    expect(computed).toBeLessThan(stats.reduce((a, s) => a + s.checked, 0)); // and shared hits saved work
    const tier = new DiskTier({ dir });
    expect((await tier.verify()).problems).toEqual([]);
    await tier.close();
  });
});

describe('tensorCache with a session as a declared dependency', () => {
  it('keys a session created by modelcache/ort by its cache key: another model is another module', async () => {
    const dir = join(tempDir(), 'sessions');
    const cls = await CachedSession.create(models.ocrCls, { cache: { dir } });
    const vad = await CachedSession.create(models.sileroVad, { cache: { dir } });
    const x = images(1, 5);
    const run = (x: ort.Tensor) => cls.run({ x });
    const a = tensorCache({ dependsOn: [cls] })(run);
    const b = tensorCache({ dependsOn: [vad] })(run);
    const a2 = tensorCache({ dependsOn: [cls] })(run);
    for (const f of [a, b, a2]) await f(x);
    expect(a.cache.moduleHash).not.toBe(b.cache.moduleHash);
    expect(a.cache.moduleHash).toBe(a2.cache.moduleHash);
  });

  it('refuses a plain onnxruntime session in dependsOn at the first call, saying how to declare the model instead', async () => {
    const plain = await ort.InferenceSession.create(models.ocrCls);
    const f = tensorCache({ dependsOn: [plain] })((x: ort.Tensor) => plain.run({ x }));
    await expect(f(images(1, 6))).rejects.toThrow(/contentOf.*options\.dependsOn\[0\]/);
  });
});
