// A damaged entry is never loaded: in every form, a truncated file, a changed byte, metadata of
// another format or bytes onnxruntime cannot load are deleted with a warning, the caller gets a
// plain session (status 'rebuilt' with the reason) and the entry is saved again.
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
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

/** Changes one byte at `at` (a fraction of the file), rewriting the file in place: same size, same inode. */
function changeByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length * at)] ^= 0x5a;
  writeFileSync(path, bytes);
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
      ['a changed byte', (p: string) => changeByte(p, 0.6)],
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
  /**
   * Saves the cls entry, replaces it with `files` and the metadata `meta` makes of the real one (a
   * Cache writes them, as any writer could), and creates the session again: what that reports.
   */
  async function afterReplacing(files: { name: string; data: Uint8Array }[], meta: (real: Record<string, unknown>) => Record<string, unknown>) {
    const dir = newDir();
    const first = await create(models.ocrCls, { dir });
    await first.session.release();
    const [e] = await listSessions(dir);
    const cache = new Cache({ dir, maxMemoryBytes: 0 });
    await cache.putFiles(first.info.key!, files, { namespace: 'session', kind: 'session', meta: meta(e.meta!) });
    await cache.close();
    const again = await create(models.ocrCls, { dir });
    await again.session.release();
    return again.info;
  }

  it('an entry of another entry format version', async () => {
    const info = await afterReplacing([{ name: 'model.ort', data: Buffer.from('x') }], (m) => ({ ...m, format: 999 }));
    expect(info).toMatchObject({ status: 'rebuilt', reason: expect.stringMatching(/format 999/) });
  });

  it('bytes that onnxruntime cannot load, whose checksums match', async () => {
    const info = await afterReplacing([{ name: 'model.ort', data: randomBytes(4096) }], (m) => m);
    expect(info).toMatchObject({ status: 'rebuilt', reason: expect.stringMatching(/onnxruntime could not load it/) });
  });

  it('metadata that names a form whose file the entry does not have', async () => {
    const info = await afterReplacing([{ name: 'model.ort', data: Buffer.from('x') }], (m) => ({ ...m, entryFormat: 'onnx-prepacked' }));
    expect(info).toMatchObject({ status: 'rebuilt', reason: expect.stringMatching(/does not match its files/) });
  });
});
