// A damaged entry is never loaded: in every form, a truncated file, a changed byte, metadata of
// another format or bytes onnxruntime cannot load are deleted with a warning, the caller gets a
// plain session (status 'rebuilt' with the reason) and the entry is saved again.
import { closeSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache, setLogger } from '../../src/index.js';
import { closeSessionCaches, InferenceSession, sessionCacheInfo, type SessionCacheOptions } from '../../src/ort/index.js';
import { models } from '../models.js';
import { dirs, entryFile, listSessions, outputs, sameOutputs, tinyTransformer } from './helpers.js';

const newDir = dirs('modelcache-ort-damage-');
const quiet = { logSeverityLevel: 3 as const };
const warnings: { code: string; message: string }[] = [];
/** Collects warnings from now on (setting the logger also resets the once-a-minute limit per code). */
function captureWarnings(): void {
  warnings.length = 0;
  setLogger({ warn: (message, code) => warnings.push({ code, message }), debug: () => {} });
}
afterAll(() => setLogger(undefined));
afterAll(() => closeSessionCaches());

const encoder = tinyTransformer(newDir());

async function create(model: string, cache: SessionCacheOptions) {
  const session = await InferenceSession.create(model, { ...quiet, cache: { wait: true, ...cache } });
  return { session, info: sessionCacheInfo(session)! };
}

/** Flips one byte in place at `at` (a fraction of the file): same size, same inode. */
function flipByte(path: string, at: number): void {
  const fd = openSync(path, 'r+');
  try {
    const pos = Math.floor(statSync(path).size * at);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, pos);
    b[0] ^= 0x5a;
    writeSync(fd, b, 0, 1, pos);
  } finally {
    closeSync(fd);
  }
}

const cases: { form: string; model: string; cache: SessionCacheOptions; file: string; feeds?: () => Record<string, import('onnxruntime-node').Tensor> }[] = [
  { form: 'ort', model: models.ocrCls, cache: { format: 'ort' }, file: 'model.ort' },
  { form: 'onnx-prepacked', model: encoder.path, cache: { format: 'onnx' }, file: 'model.onnx.data', feeds: encoder.feeds },
  { form: 'onnx-weightless', model: models.ocrCls, cache: { mode: 'size' }, file: 'model.onnx' },
];

describe('damaged entries are deleted, warned about and rebuilt', () => {
  for (const c of cases) {
    for (const [what, damage] of [
      ['a truncated file', (p: string) => truncateSync(p, Math.floor(statSync(p).size / 2))],
      ['a changed byte', (p: string) => flipByte(p, 0.6)],
    ] as const) {
      it(`${c.form}: ${what}`, async () => {
        const dir = newDir();
        const first = await create(c.model, { dir, ...c.cache });
        expect(first.info.save?.format).toBe(c.form);
        const want = c.feeds ? await outputs(first.session, c.feeds()) : undefined;
        await first.session.release();
        damage(entryFile(dir, c.file));
        captureWarnings();
        const { session, info } = await create(c.model, { dir, ...c.cache });
        expect(info.status).toBe('rebuilt');
        expect(info.reason).toMatch(/unusable/);
        expect(info.save?.status).toBe('saved');
        expect(warnings.map((w) => w.code), JSON.stringify(warnings)).toContain("ERR_CORRUPT");
        if (want) expect(sameOutputs(await outputs(session, c.feeds!()), want)).toBe(true);
        await session.release();
        const again = await create(c.model, { dir, ...c.cache });
        expect(again.info).toMatchObject({ status: 'hit', format: c.form });
        await again.session.release();
        expect(await listSessions(dir)).toHaveLength(1);
      });
    }
  }
});

describe('entries that are intact but unusable are rebuilt', () => {
  /** Replaces the entry of the key of `model` with `files` and `meta` (a Cache writes it, as any writer could). */
  async function replace(dir: string, key: string, files: { name: string; data: Uint8Array }[], meta: Record<string, unknown>) {
    const cache = new Cache({ dir, maxMemoryBytes: 0 });
    await cache.putFiles(key, files, { namespace: 'session', kind: 'session', meta });
    await cache.close();
  }

  it('an entry of another entry format version', async () => {
    const dir = newDir();
    const { session, info } = await create(models.ocrCls, { dir });
    await session.release();
    const [e] = await listSessions(dir);
    await replace(dir, info.key!, [{ name: 'model.ort', data: Buffer.from('x') }], { ...e.meta, format: 999 });
    const again = await create(models.ocrCls, { dir });
    expect(again.info.status).toBe('rebuilt');
    expect(again.info.reason).toMatch(/format 999/);
    await again.session.release();
  });

  it('bytes that onnxruntime cannot load, whose checksums match', async () => {
    const dir = newDir();
    const { session, info } = await create(models.ocrCls, { dir });
    await session.release();
    const [e] = await listSessions(dir);
    await replace(dir, info.key!, [{ name: 'model.ort', data: randomBytes(4096) }], e.meta!);
    const again = await create(models.ocrCls, { dir });
    expect(again.info.status).toBe('rebuilt');
    expect(again.info.reason).toMatch(/onnxruntime could not load it/);
    await again.session.release();
  });

  it('metadata that names a form whose file the entry does not have', async () => {
    const dir = newDir();
    const { session, info } = await create(models.ocrCls, { dir });
    await session.release();
    const [e] = await listSessions(dir);
    await replace(dir, info.key!, [{ name: 'model.ort', data: Buffer.from('x') }], { ...e.meta, entryFormat: 'onnx-prepacked' });
    const again = await create(models.ocrCls, { dir });
    expect(again.info.reason).toMatch(/does not match its files/);
    await again.session.release();
  });
});
