import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes as cryptoRandom } from 'node:crypto';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cache, DiskTier, setLogger } from '../../src/index.js';
import { InferenceSession, sessionCacheInfo, supportsCaching, type SessionCacheOptions } from '../../src/ort/index.js';
import { TEST_CPU_ENV } from '../../src/ort/fingerprint.js';
import { listTensors } from '../../src/ort/onnx.js';
import { TEST_ORT_VERSION_ENV } from '../../src/ort/runtime.js';
import { models } from '../models.js';
import { clsFeeds, copyModel, dirs, outputs, realModels, tinyTransformer } from './helpers.js';

const newDir = dirs('modelcache-ort-');
const quiet = { logSeverityLevel: 3 as const };

/** The cls outputs of `session` equal, bit for bit, those of a plain onnxruntime session. */
async function expectSameClsOutputsAsPlain(session: ort.InferenceSession): Promise<void> {
  const plain = await ort.InferenceSession.create(models.ocrCls, quiet);
  try {
    const want = await outputs(plain, clsFeeds());
    const got = await outputs(session, clsFeeds());
    for (const n of Object.keys(want)) expect(got[n].equals(want[n]), n).toBe(true);
  } finally {
    await plain.release();
  }
}

const warnings: { code: string; message: string }[] = [];
// A test that forgot `dir` must not write to the user's cache.
process.env.MODELCACHE_DIR = newDir();
beforeAll(() => {
  setLogger({ warn: (message, code) => warnings.push({ code, message }), debug: () => {} });
  return () => setLogger(undefined);
});
afterEach(() => {
  delete process.env[TEST_CPU_ENV];
  delete process.env[TEST_ORT_VERSION_ENV];
});

async function create(model: string | Uint8Array, cache: SessionCacheOptions | false, options: Record<string, unknown> = {}) {
  const session = await InferenceSession.create(model as string, { ...quiet, ...options, cache });
  return { session, info: sessionCacheInfo(session)! };
}

/** The one file-backed session entry of a cache dir. */
function entryFile(dir: string): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else files.push(join(d, e.name));
    }
  };
  walk(join(dir, 'blobs'));
  expect(files).toHaveLength(1);
  return files[0];
}

/** Flips one byte inside a weight: the model stays valid and the same size. */
function changeOneWeightByte(model: string): void {
  const bytes = readFileSync(model);
  const w = listTensors(bytes).find((t) => t.raw && t.raw.length > 1000)!;
  bytes[w.raw!.offset + 7] ^= 0x01;
  writeFileSync(model, bytes);
}

function listSessions(dir: string) {
  const disk = new DiskTier({ dir, readOnly: true });
  try {
    return [...disk.list()].filter((e) => e.kind === 'session');
  } finally {
    void disk.close();
  }
}

describe('InferenceSession.create with a cache', () => {
  it('misses, then hits, returning real onnxruntime sessions', async () => {
    const dir = newDir();
    const a = await create(models.ocrCls, { dir });
    expect(a.info.status).toBe('miss');
    expect(a.info.key).toMatch(/^[0-9a-f]{32}$/);
    expect(a.session).toBeInstanceOf(ort.InferenceSession);
    expect(a.session).toBeInstanceOf(InferenceSession);
    const b = await create(models.ocrCls, { dir });
    expect(b.info).toMatchObject({ status: 'hit', key: a.info.key, mode: 'speed' });
    expect(b.info.entryBytes).toBeGreaterThan(0);
    expect(b.session.inputNames).toEqual(a.session.inputNames);
    expect(b.session.outputNames).toEqual(a.session.outputNames);
    await a.session.release();
    await b.session.release();
  });

  for (const m of realModels) {
    it(`gives outputs identical to an uncached session's on a miss and on a hit, in both modes (${m.name})`, async () => {
      const dir = newDir();
      const plain = await ort.InferenceSession.create(m.path, quiet);
      const want = await outputs(plain, m.feeds());
      for (const [mode, expected] of [['speed', 'miss'], ['speed', 'hit'], ['size', 'miss'], ['size', 'hit']] as const) {
        const { session, info } = await create(m.path, { dir, mode });
        expect(info.status).toBe(expected);
        const got = await outputs(session, m.feeds());
        expect(Object.keys(got)).toEqual(Object.keys(want));
        for (const name of Object.keys(want)) expect(got[name].equals(want[name]), `${name} (${mode} ${expected})`).toBe(true);
        await session.release();
      }
      await plain.release();
    });
  }

  it('optimizes once when the same session is created concurrently in one process', async () => {
    const dir = newDir();
    const all = await Promise.all([0, 1, 2].map(() => create(models.ocrDet, { dir })));
    expect(all.map((r) => r.info.status).sort()).toEqual(['hit', 'hit', 'miss']);
    expect(listSessions(dir)).toHaveLength(1);
    await Promise.all(all.map((r) => r.session.release()));
  });

  it('accepts every overload: path, Uint8Array, ArrayBuffer, ArrayBuffer with offset and length', async () => {
    const dir = newDir();
    const bytes = readFileSync(models.ocrCls);
    const padded = new ArrayBuffer(bytes.byteLength + 24);
    new Uint8Array(padded, 16, bytes.byteLength).set(bytes);
    const exact = new Uint8Array(bytes).buffer;
    const sessions = [
      await InferenceSession.create(models.ocrCls, { ...quiet, cache: { dir } }),
      await InferenceSession.create(bytes, { ...quiet, cache: { dir } }),
      await InferenceSession.create(exact, { ...quiet, cache: { dir } }),
      await InferenceSession.create(padded, 16, bytes.byteLength, { ...quiet, cache: { dir } }),
      await InferenceSession.create(exact, 0, undefined, { ...quiet, cache: { dir } }),
    ];
    // Content addressed: a path and the same bytes share one entry.
    expect(sessions.map((s) => sessionCacheInfo(s)!.status)).toEqual(['miss', 'hit', 'hit', 'hit', 'hit']);
    expect(new Set(sessions.map((s) => sessionCacheInfo(s)!.key)).size).toBe(1);
    const want = await outputs(sessions[0], clsFeeds());
    for (const s of sessions) expect((await outputs(s, clsFeeds()))['softmax_0.tmp_0'].equals(want['softmax_0.tmp_0'])).toBe(true);
    await Promise.all(sessions.map((s) => s.release()));
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
      [{ maxBytes: -1 }, /options\.cache\.maxBytes/],
      [{ dir: '' }, /options\.cache\.dir/],
      [{ encryption: { algorithm: 'aes-256-gcm', key: Buffer.alloc(3) } }, /options\.cache\.encryption\.key/],
      [{ cache: {} }, /options\.cache\.cache/],
      ['yes', /options\.cache/],
    ];
    for (const [cache, re] of bad) {
      await expect(InferenceSession.create(models.ocrCls, { cache } as never), JSON.stringify(cache)).rejects.toThrow(re);
    }
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

  it('uses the disk tier of an existing Cache', async () => {
    const dir = newDir();
    const cache = new Cache({ dir, maxMemoryBytes: 0 });
    const a = await create(models.ocrCls, { cache });
    const b = await create(models.ocrCls, { cache });
    expect([a.info.status, b.info.status]).toEqual(['miss', 'hit']);
    expect([...cache.disk!.list()].filter((e) => e.kind === 'session')).toHaveLength(1);
    await a.session.release();
    await b.session.release();
    await cache.close();
  });

  it('skips caching with a memory-only Cache', async () => {
    const cache = new Cache({ dir: false });
    const { session, info } = await create(models.ocrCls, { cache });
    expect(info).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/no disk tier/) });
    await session.release();
    await cache.close();
  });

  it('records the source, size, onnxruntime version and mode in the entry', async () => {
    const dir = newDir();
    const { session } = await create(models.ocrCls, { dir });
    await session.release();
    const [e] = listSessions(dir);
    expect(e.meta).toMatchObject({
      source: models.ocrCls,
      sourceBytes: statSync(models.ocrCls).size,
      ortVersion: ort.env.versions.node,
      mode: 'speed',
      modelFormat: 'ort',
      encrypted: false,
      executionProviders: ['cpu'],
    });
  });

  it('releases the mapped entry with the session', async () => {
    const dir = newDir();
    await (await create(models.ocrCls, { dir })).session.release();
    const { session, info } = await create(models.ocrCls, { dir });
    expect(info.status).toBe('hit');
    await session.release();
    // The mapped memory is gone with the session: onnxruntime refuses to run it (no crash).
    await expect(session.run(clsFeeds())).rejects.toThrow();
  });
});

describe('session keys', () => {
  async function keyFor(model: string, options: Record<string, unknown> = {}, dir = newDir()) {
    const { session, info } = await create(model, { dir }, options);
    await session.release();
    return info;
  }

  it('change with options that change the optimized graph, not with run-time options', async () => {
    const dir = newDir();
    const base = await keyFor(models.ocrCls, {}, dir);
    expect((await keyFor(models.ocrCls, { intraOpNumThreads: 1, enableCpuMemArena: false }, dir)).status).toBe('hit');
    const basic = await keyFor(models.ocrCls, { graphOptimizationLevel: 'basic' }, dir);
    expect(basic.status).toBe('miss');
    expect(basic.key).not.toBe(base.key);
  });

  it('change with the provider list and provider options', async () => {
    const dir = newDir();
    const a = await keyFor(models.ocrCls, { executionProviders: ['cpu'] }, dir);
    const b = await keyFor(models.ocrCls, { executionProviders: [{ name: 'cpu', useArena: false }] }, dir);
    expect(b.status).toBe('miss');
    expect(b.key).not.toBe(a.key);
  });

  it('change with the onnxruntime version (stubbed)', async () => {
    const dir = newDir();
    const a = await keyFor(models.ocrCls, {}, dir);
    process.env[TEST_ORT_VERSION_ENV] = '99.0.0-test';
    const b = await keyFor(models.ocrCls, {}, dir);
    expect(b.status).toBe('miss');
    expect(b.key).not.toBe(a.key);
    expect(listSessions(dir).map((e) => e.meta?.ortVersion).sort()).toEqual(['1.30.0', '99.0.0-test'].sort());
  });

  it('change with the CPU fingerprint (stubbed)', async () => {
    const dir = newDir();
    const a = await keyFor(models.ocrCls, {}, dir);
    process.env[TEST_CPU_ENV] = 'a-different-cpu';
    const b = await keyFor(models.ocrCls, {}, dir);
    expect(b.status).toBe('miss');
    expect(b.key).not.toBe(a.key);
  });

  it('change when one byte of the model changes, even at the same size with its mtime put back', async () => {
    const dir = newDir();
    const model = copyModel(models.ocrCls, newDir());
    const old = new Date(Date.now() - 60_000);
    utimesSync(model, old, old);
    await new Promise((r) => setTimeout(r, 150));
    const a = await keyFor(model, {}, dir);
    expect((await keyFor(model, {}, dir)).timings.key).toBeLessThan(50);
    changeOneWeightByte(model);
    utimesSync(model, old, old);
    await new Promise((r) => setTimeout(r, 150));
    const b = await keyFor(model, {}, dir);
    expect(b.status).toBe('miss');
    expect(b.key).not.toBe(a.key);
  });
});

describe('damaged entries', () => {
  it('a truncated entry is deleted, rebuilt and warned about', async () => {
    const dir = newDir();
    await (await create(models.ocrCls, { dir })).session.release();
    const file = entryFile(dir);
    truncateSync(file, Math.floor(statSync(file).size / 2));
    warnings.length = 0;
    const { session, info } = await create(models.ocrCls, { dir });
    expect(info.status).toBe('rebuilt');
    expect(info.reason).toMatch(/unusable/);
    expect(warnings.some((w) => w.code === 'ERR_CORRUPT')).toBe(true);
    await expectSameClsOutputsAsPlain(session);
    await session.release();
    expect((await create(models.ocrCls, { dir })).info.status).toBe('hit');
    expect(listSessions(dir)).toHaveLength(1);
  });

  it('an entry of a foreign format version is rebuilt', async () => {
    const dir = newDir();
    const { session, info } = await create(models.ocrCls, { dir });
    await session.release();
    const disk = new DiskTier({ dir });
    const file = join(dir, 'foreign.bin');
    writeFileSync(file, readFileSync(entryFile(dir)));
    await disk.putFile(info.key!, file, { kind: 'session', meta: { format: 999, mode: 'speed', encrypted: false, ortVersion: '1.30.0' } });
    await disk.close();
    const again = await create(models.ocrCls, { dir });
    expect(again.info.status).toBe('rebuilt');
    expect(again.info.reason).toMatch(/format 999/);
    await again.session.release();
  });

  it('bytes that onnxruntime cannot load are rebuilt even when their checksum matches', async () => {
    const dir = newDir();
    const { session, info } = await create(models.ocrCls, { dir });
    await session.release();
    const [e] = listSessions(dir);
    const disk = new DiskTier({ dir });
    const file = join(dir, 'garbage.bin');
    writeFileSync(file, cryptoRandom(4096));
    await disk.putFile(info.key!, file, { kind: 'session', meta: e.meta });
    await disk.close();
    const again = await create(models.ocrCls, { dir });
    expect(again.info.status).toBe('rebuilt');
    expect(again.info.reason).toMatch(/onnxruntime could not load it/);
    await again.session.release();
  });
});

describe('encryption', () => {
  const key = cryptoRandom(32);

  it('keeps the optimized model unreadable on disk and loads it with the key', async () => {
    const dir = newDir();
    const a = await create(models.ocrCls, { dir, encryption: { algorithm: 'aes-256-gcm', key } });
    expect(a.info.status).toBe('miss');
    await a.session.release();
    const stored = readFileSync(entryFile(dir));
    // Plain entries are ORT flatbuffers ("ORTM") holding the graph's names in clear text.
    const plainDir = newDir();
    await (await create(models.ocrCls, { dir: plainDir })).session.release();
    const plainEntry = readFileSync(entryFile(plainDir));
    expect(plainEntry.includes(Buffer.from('ORTM'))).toBe(true);
    const needles = ['ORTM', 'softmax', 'Conv', 'batch_norm'].filter((n) => plainEntry.includes(Buffer.from(n)));
    expect(needles.length).toBeGreaterThanOrEqual(3);
    for (const needle of needles) expect(stored.includes(Buffer.from(needle)), needle).toBe(false);
    const b = await create(models.ocrCls, { dir, encryption: { algorithm: 'aes-256-gcm', key } });
    expect(b.info.status).toBe('hit');
    await expectSameClsOutputsAsPlain(b.session);
    await b.session.release();
  });

  it('rebuilds an entry that does not decrypt with the given key', async () => {
    const dir = newDir();
    await (await create(models.ocrCls, { dir, encryption: { algorithm: 'aes-256-gcm', key } })).session.release();
    const wrong = await create(models.ocrCls, { dir, encryption: { algorithm: 'aes-256-gcm', key: cryptoRandom(32) } });
    expect(wrong.info.status).toBe('rebuilt');
    expect(wrong.info.reason).toMatch(/cannot be read/);
    await wrong.session.release();
  });

  it('rebuilds an encrypted entry opened without encryption, and a plain one opened with it', async () => {
    const dir = newDir();
    await (await create(models.ocrCls, { dir, encryption: { algorithm: 'aes-256-gcm', key } })).session.release();
    const noKey = await create(models.ocrCls, { dir });
    expect(noKey.info).toMatchObject({ status: 'rebuilt', reason: expect.stringMatching(/encrypted/) });
    await noKey.session.release();
    const withKey = await create(models.ocrCls, { dir, encryption: { algorithm: 'aes-256-gcm', key } });
    expect(withKey.info.status).toBe('rebuilt');
    await withKey.session.release();
  });

  it('works with encrypt/decrypt callbacks', async () => {
    const dir = newDir();
    const xor = (b: Uint8Array) => Buffer.from(b).map((x) => x ^ 0x5a);
    const encryption = { encrypt: xor, decrypt: xor };
    await (await create(models.ocrCls, { dir, encryption })).session.release();
    expect(readFileSync(entryFile(dir)).includes(Buffer.from('ORTM'))).toBe(false);
    const b = await create(models.ocrCls, { dir, encryption });
    expect(b.info.status).toBe('hit');
    await b.session.release();
  });
});

describe("mode 'size' (weightless)", () => {
  it('stores less than a speed entry, round trips, and gives identical outputs', async () => {
    const sizeDir = newDir();
    const speedDir = newDir();
    await (await create(models.ocrCls, { dir: speedDir })).session.release();
    const a = await create(models.ocrCls, { dir: sizeDir, mode: 'size' });
    expect(a.info).toMatchObject({ status: 'miss', mode: 'size' });
    await a.session.release();
    expect(statSync(entryFile(sizeDir)).size).toBeLessThan(statSync(entryFile(speedDir)).size);
    const b = await create(models.ocrCls, { dir: sizeDir, mode: 'size' });
    expect(b.info.status).toBe('hit');
    await expectSameClsOutputsAsPlain(b.session);
    await b.session.release();
  });

  it('refers to the weights of a model with external data instead of storing them', async () => {
    const dir = newDir();
    const m = tinyTransformer(newDir());
    const a = await create(m.path, { dir, mode: 'size' });
    expect(a.info.status).toBe('miss');
    await a.session.release();
    expect(statSync(entryFile(dir)).size).toBeLessThan(statSync(m.dataPath).size / 50);
    const [e] = listSessions(dir);
    expect(e.meta?.referencedBytes).toBeGreaterThan(statSync(m.dataPath).size * 0.9);
    const b = await create(m.path, { dir, mode: 'size' });
    expect(b.info.status).toBe('hit');
    const plain = await ort.InferenceSession.create(m.path, quiet);
    const want = await outputs(plain, m.feeds());
    const got = await outputs(b.session, m.feeds());
    for (const n of Object.keys(want)) expect(got[n].equals(want[n])).toBe(true);
    await Promise.all([b.session.release(), plain.release()]);
  });

  it('rebuilds the model in memory when the source was given as bytes (no file to read weights from)', async () => {
    const dir = newDir();
    const bytes = readFileSync(models.ocrRec);
    await (await create(bytes, { dir, mode: 'size' })).session.release();
    const { session, info } = await create(bytes, { dir, mode: 'size' });
    expect(info.status).toBe('hit');
    const feeds = realModels[2].feeds();
    const plain = await ort.InferenceSession.create(models.ocrRec, quiet);
    const want = await outputs(plain, feeds);
    const got = await outputs(session, feeds);
    for (const n of Object.keys(want)) expect(got[n].equals(want[n])).toBe(true);
    await Promise.all([session.release(), plain.release()]);
  });

  it('is a miss when the source model changed', async () => {
    const dir = newDir();
    const model = copyModel(models.ocrCls, newDir());
    const a = await create(model, { dir, mode: 'size' });
    await a.session.release();
    changeOneWeightByte(model);
    const b = await create(model, { dir, mode: 'size' });
    expect(b.info.status).toBe('miss');
    expect(b.info.key).not.toBe(a.info.key);
    await b.session.release();
  });

  it('keeps speed and size entries apart', async () => {
    const dir = newDir();
    const a = await create(models.ocrCls, { dir, mode: 'size' });
    const b = await create(models.ocrCls, { dir });
    expect(b.info.status).toBe('miss');
    expect(b.info.key).not.toBe(a.info.key);
    await Promise.all([a.session.release(), b.session.release()]);
  });
});

describe('models with external data', () => {
  it('caches a self-contained entry: hits survive the source data file being replaced by a copy elsewhere', async () => {
    const dir = newDir();
    const m = tinyTransformer(newDir());
    const plain = await ort.InferenceSession.create(m.path, quiet);
    const want = await outputs(plain, m.feeds());
    const a = await create(m.path, { dir });
    expect(a.info.status).toBe('miss');
    const b = await create(m.path, { dir });
    expect(b.info.status).toBe('hit');
    // The entry holds every weight: it is at least as large as the data file.
    expect(b.info.entryBytes).toBeGreaterThan(statSync(m.dataPath).size * 0.9);
    for (const s of [a.session, b.session]) {
      const got = await outputs(s, m.feeds());
      for (const n of Object.keys(want)) expect(got[n].equals(want[n])).toBe(true);
    }
    await Promise.all([a.session.release(), b.session.release(), plain.release()]);
  });

  it('is a miss when only the external data file changes', async () => {
    const dir = newDir();
    const m = tinyTransformer(newDir());
    const a = await create(m.path, { dir });
    await a.session.release();
    const data = readFileSync(m.dataPath);
    data[data.length - 8] ^= 0x01;
    writeFileSync(m.dataPath, data);
    const b = await create(m.path, { dir });
    expect(b.info.status).toBe('miss');
    expect(b.info.key).not.toBe(a.info.key);
    await b.session.release();
  });
});

describe('size limit', () => {
  it('evicts the least recently used sessions past maxBytes', async () => {
    const dir = newDir();
    const one = statSync(models.ocrCls).size * 1.5;
    const maxBytes = Math.floor(one * 2);
    const first = await create(models.ocrCls, { dir, maxBytes });
    await first.session.release();
    const other = await create(models.ocrCls, { dir, maxBytes }, { graphOptimizationLevel: 'basic' });
    await other.session.release();
    const third = await create(models.ocrCls, { dir, maxBytes }, { graphOptimizationLevel: 'extended' });
    await third.session.release();
    const sessions = listSessions(dir);
    expect(sessions.length).toBeLessThan(3);
    expect(sessions.reduce((n, e) => n + e.size, 0)).toBeLessThanOrEqual(maxBytes);
    expect((await create(models.ocrCls, { dir, maxBytes }, { graphOptimizationLevel: 'extended' })).info.status).toBe('hit');
  });
});
