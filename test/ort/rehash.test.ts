// A hit on an unchanged model must not read the model again: the file memo answers its hash.
import { utimesSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import * as hashModule from '../../src/hash.js';
import { InferenceSession, sessionCacheInfo } from '../../src/ort/index.js';
import { models } from '../models.js';
import { copyModel, dirs, tinyTransformer } from './helpers.js';

vi.mock(import('../../src/hash.js'), async (importOriginal) => {
  const orig = await importOriginal();
  return { ...orig, hashFile: vi.fn(orig.hashFile), treeHashAsync: vi.fn(orig.treeHashAsync) };
});

const hashFile = vi.mocked(hashModule.hashFile);
const newDir = dirs('modelcache-ort-rehash-');

function ageFile(path: string): void {
  const old = new Date(Date.now() - 60_000);
  utimesSync(path, old, old);
}

describe('re-hash avoidance', () => {
  it('hashes an unchanged model (and its external data) once, not on every hit', async () => {
    const dir = newDir();
    const m = tinyTransformer(newDir());
    ageFile(m.path);
    ageFile(m.dataPath);
    await new Promise((r) => setTimeout(r, 150));
    const create = () => InferenceSession.create(m.path, { logSeverityLevel: 3, cache: { dir, wait: true } });
    hashFile.mockClear();
    const a = await create();
    const hashedOnMiss = hashFile.mock.calls.map((c) => c[0]);
    expect(hashedOnMiss).toEqual(expect.arrayContaining([m.path, m.dataPath]));
    hashFile.mockClear();
    const b = await create();
    expect(sessionCacheInfo(b)!.status).toBe('hit');
    expect(hashFile).not.toHaveBeenCalled();
    await Promise.all([a.release(), b.release()]);
  });

  it('does re-hash the model once its file changes', async () => {
    const dir = newDir();
    const model = copyModel(models.ocrCls, newDir());
    ageFile(model);
    await new Promise((r) => setTimeout(r, 150));
    const create = () => InferenceSession.create(model, { logSeverityLevel: 3, cache: { dir, wait: true } });
    await (await create()).release();
    utimesSync(model, new Date(), new Date(Date.now() - 30_000)); // a touch: content unchanged
    hashFile.mockClear();
    const s = await create();
    expect(hashFile).toHaveBeenCalledWith(model);
    expect(sessionCacheInfo(s)!.status).toBe('hit'); // same content, same key
    await s.release();
  });
});
