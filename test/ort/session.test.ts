// InferenceSession.create with a cache: a miss returns onnxruntime's own session and saves the
// entry in the background, a hit loads it; every overload and option passes through; what is not
// cacheable is created uncached with the reason.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache } from '../../src/index.js';
import { closeSessionCaches, InferenceSession, sessionCacheInfo, supportsCaching, type SessionCacheOptions } from '../../src/ort/index.js';
import { models } from '../models.js';
import { clsFeeds, dirs, listSessions, outputs } from './helpers.js';

const newDir = dirs('modelcache-ort-');
const quiet = { logSeverityLevel: 3 as const };
// A test that forgot `dir` must not write to the user's cache.
process.env.MODELCACHE_DIR = newDir();
afterAll(() => closeSessionCaches());

async function create(model: string | Uint8Array, cache: SessionCacheOptions | Cache | boolean, options: Record<string, unknown> = {}) {
  const c = cache === true || cache === false || cache instanceof Cache ? cache : { wait: true, ...cache };
  const session = await InferenceSession.create(model as string, { ...quiet, ...options, cache: c });
  return { session, info: sessionCacheInfo(session)! };
}

describe('InferenceSession.create with a cache', () => {
  it('misses with onnxruntime\'s own session and the entry saved, then hits; both are real onnxruntime sessions', async () => {
    const dir = newDir();
    const a = await create(models.ocrCls, { dir });
    expect(a.info).toMatchObject({ status: 'miss', save: { status: 'saved', format: 'ort' } });
    expect(a.info.key).toMatch(/^[0-9a-f]{32}$/);
    expect(a.info.timings.create).toBeGreaterThan(0);
    expect(a.session).toBeInstanceOf(ort.InferenceSession);
    const b = await create(models.ocrCls, { dir });
    expect(b.info).toMatchObject({ status: 'hit', key: a.info.key, mode: 'speed', format: 'ort' });
    expect(b.info.entryBytes).toBeGreaterThan(0);
    expect(b.session).toBeInstanceOf(InferenceSession);
    expect(b.session.inputNames).toEqual(a.session.inputNames);
    expect(b.session.outputNames).toEqual(a.session.outputNames);
    await a.session.release();
    await b.session.release();
  });

  it('reports a miss at once with its save pending, and the save\'s end in later reads of the info', async () => {
    const dir = newDir();
    const session = await InferenceSession.create(models.ocrCls, { ...quiet, cache: { dir } });
    expect(sessionCacheInfo(session)!.save?.status).toBe('pending');
    await closeSessionCaches();
    expect(sessionCacheInfo(session)!.save).toMatchObject({ status: 'saved', format: 'ort' });
    expect(sessionCacheInfo(session)!.entryBytes).toBeGreaterThan(0);
    await session.release();
  });

  it('saves once when the same session is created concurrently in one process', async () => {
    const dir = newDir();
    const all = await Promise.all([0, 1, 2].map(() => create(models.ocrDet, { dir })));
    expect(all.map((r) => r.info.status)).toEqual(['miss', 'miss', 'miss']);
    expect(all.map((r) => r.info.save?.status)).toEqual(['saved', 'saved', 'saved']);
    expect(await listSessions(dir)).toHaveLength(1);
    await Promise.all(all.map((r) => r.session.release()));
  });

  it('accepts every overload: path, Uint8Array, ArrayBuffer, ArrayBuffer with offset and length', async () => {
    const dir = newDir();
    const bytes = readFileSync(models.ocrCls);
    const padded = new ArrayBuffer(bytes.byteLength + 24);
    new Uint8Array(padded, 16, bytes.byteLength).set(bytes);
    const exact = new Uint8Array(bytes).buffer;
    const cache = { dir, wait: true };
    const sessions = [
      await InferenceSession.create(models.ocrCls, { ...quiet, cache }),
      await InferenceSession.create(bytes, { ...quiet, cache }),
      await InferenceSession.create(exact, { ...quiet, cache }),
      await InferenceSession.create(padded, 16, bytes.byteLength, { ...quiet, cache }),
      await InferenceSession.create(exact, 0, undefined, { ...quiet, cache }),
    ];
    // Content addressed: a path and the same bytes share one entry.
    expect(sessions.map((s) => sessionCacheInfo(s)!.status)).toEqual(['miss', 'hit', 'hit', 'hit', 'hit']);
    expect(new Set(sessions.map((s) => sessionCacheInfo(s)!.key)).size).toBe(1);
    const want = await outputs(sessions[0], clsFeeds());
    for (const s of sessions) expect((await outputs(s, clsFeeds()))['softmax_0.tmp_0'].equals(want['softmax_0.tmp_0'])).toBe(true);
    await Promise.all(sessions.map((s) => s.release()));
  });

  it('saves the entry of a model given as bytes (the builder gets the bytes)', async () => {
    const dir = newDir();
    const a = await create(readFileSync(models.ocrCls), { dir });
    expect(a.info.save?.status).toBe('saved');
    expect((await create(models.ocrCls, { dir })).info.status).toBe('hit');
    await a.session.release();
  });

  it('rejects bad arguments with messages that name them', async () => {
    const bytes = new Uint8Array(readFileSync(models.ocrCls)).buffer;
    await expect(InferenceSession.create(42 as unknown as string)).rejects.toThrow(/the first argument/);
    await expect(InferenceSession.create(bytes, -1)).rejects.toThrow(/byteOffset/);
    await expect(InferenceSession.create(bytes, 0, bytes.byteLength + 1)).rejects.toThrow(/byteLength/);
    await expect(InferenceSession.create(models.ocrCls, 'x' as never)).rejects.toThrow(/options/);
  });

  it('validates the cache option and names a misspelled field', async () => {
    const bad: [unknown, RegExp][] = [
      [{ dri: '/tmp/x' }, /Unknown option "dri" in options\.cache/],
      [{ mode: 'fast' }, /options\.cache\.mode/],
      [{ format: 'flatbuffers' }, /options\.cache\.format/],
      [{ mode: 'size', format: 'ort' }, /options\.cache\.format/],
      [{ maxBytes: -1 }, /options\.cache\.maxBytes/],
      [{ dir: '' }, /options\.cache\.dir/],
      [{ wait: 'yes' }, /options\.cache\.wait/],
      [{ shared: {} }, /options\.cache\.shared/],
      [{ encryption: { algorithm: 'aes-256-gcm', key: Buffer.alloc(3) } }, /options\.cache\.encryption\.key/],
      [{ cache: {} }, /options\.cache\.cache/],
      [{ cache: new Cache({ dir: false }), dir: '/tmp/x' }, /options\.cache\.dir/],
      [new Date(), /options\.cache/],
      ['yes', /options\.cache/],
    ];
    for (const [cache, re] of bad) {
      await expect(InferenceSession.create(models.ocrCls, { cache } as never), JSON.stringify(cache)).rejects.toThrow(re);
    }
  });

  it('takes `cache: true` as the defaults (the default directory)', async () => {
    const { session, info } = await create(models.ocrCls, true);
    expect(info.status).toBe('miss');
    expect(info.key).toMatch(/^[0-9a-f]{32}$/);
    await closeSessionCaches();
    expect(await listSessions(process.env.MODELCACHE_DIR!)).toHaveLength(1);
    await session.release();
  });

  it('passes other session options through to onnxruntime unchanged', async () => {
    const dir = newDir();
    await expect(create(models.ocrCls, { dir }, { graphOptimizationLevel: 'sideways' })).rejects.toThrow(/graphOptimizationLevel/);
    const { session, info } = await create(models.ocrCls, { dir }, { intraOpNumThreads: 1, executionMode: 'sequential' });
    expect(info.status).toBe('miss');
    await session.release();
  });

  it('rejects an invalid option on a hit without touching the entry', async () => {
    const dir = newDir();
    await (await create(models.ocrCls, { dir })).session.release();
    await expect(create(models.ocrCls, { dir }, { intraOpNumThreads: -1 })).rejects.toThrow(RangeError);
    const again = await create(models.ocrCls, { dir });
    expect(again.info.status).toBe('hit');
    await again.session.release();
  });

  it("rejects a model that does not exist with onnxruntime's own error", async () => {
    await expect(create(join(newDir(), 'absent.onnx'), { dir: newDir() })).rejects.toThrow(/absent\.onnx/);
  });

  it("does not load onnxruntime-node for `import 'modelcache'` (it is a peer of modelcache/ort only)", () => {
    const script = `import ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).pathname)};
      import { createRequire } from 'node:module';
      console.log(Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('onnxruntime')));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('false');
  });

  it('with cache: false, is a plain onnxruntime session (skipped, "disabled")', async () => {
    const { session, info } = await create(models.ocrCls, false);
    expect(info).toMatchObject({ status: 'skipped', reason: 'disabled' });
    expect(info.key).toBeUndefined();
    expect(session).toBeInstanceOf(ort.InferenceSession);
    await session.release();
  });

  it('skips providers that cannot save an optimized model, with the reason, and still returns a session', async () => {
    expect(supportsCaching(['dml'])).toBe(false);
    const warn = console.warn;
    console.warn = () => {}; // onnxruntime-common warns that 'dml' is not available here
    try {
      const { session, info } = await create(models.ocrCls, { dir: newDir() }, { executionProviders: ['dml', 'cpu'] });
      expect(info.status).toBe('skipped');
      expect(info.reason).toMatch(/'dml' is not cacheable/);
      await session.release();
    } finally {
      console.warn = warn;
    }
  });

  it('skips caching when the caller sets optimizedModelFilePath, writing it where asked', async () => {
    const dir = newDir();
    const out = join(dir, 'mine.onnx');
    const { session, info } = await create(models.ocrCls, { dir }, { optimizedModelFilePath: out });
    expect(info).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/optimizedModelFilePath/) });
    expect(statSync(out).size).toBeGreaterThan(0);
    await session.release();
  });

  it('keeps entries in an existing Cache, given as `cache` or as `cache.cache`, in its `session` namespace', async () => {
    const dir = newDir();
    const cache = new Cache({ dir, maxMemoryBytes: 0 });
    const a = await create(models.ocrCls, { cache });
    const b = await InferenceSession.create(models.ocrCls, { ...quiet, cache });
    expect([a.info.status, sessionCacheInfo(b)!.status]).toEqual(['miss', 'hit']);
    expect(await cache.count('session')).toEqual({ disk: 1 });
    await a.session.release();
    await b.release();
    await cache.close();
  });

  it('skips caching with a memory-only Cache', async () => {
    const cache = new Cache({ dir: false });
    const { session, info } = await create(models.ocrCls, cache);
    expect(info).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/no disk tier/) });
    await session.release();
    await cache.close();
  });

  it('records the source, size, onnxruntime version, mode and entry form in the entry', async () => {
    const dir = newDir();
    const { session } = await create(models.ocrCls, { dir });
    await session.release();
    const [e] = await listSessions(dir);
    expect(e.meta).toMatchObject({
      source: models.ocrCls,
      sourceBytes: statSync(models.ocrCls).size,
      ortVersion: ort.env.versions.node,
      mode: 'speed',
      entryFormat: 'ort',
      formatReason: expect.stringMatching(/MatMul\/Gemm weights are 0%/),
      encrypted: false,
      executionProviders: ['cpu'],
    });
  });
});
