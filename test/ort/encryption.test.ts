// Encrypted session entries: unreadable without the key (no plaintext graph or weights anywhere in
// the cache directory, temporary files included), loaded with it with identical outputs, rebuilt
// when the key or the mode does not fit; with callbacks too. Mode 'size' is the weights-in-clear
// mode: only the graph and the changed weights are stored (encrypted), the rest stays in the source.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSessionCaches, InferenceSession, sessionCacheInfo, type SessionCacheOptions } from '../../src/ort/index.js';
import { models } from '../models.js';
import { clsFeeds, dirs, entryFile, outputs, sameOutputs, tinyTransformer } from './helpers.js';

const newDir = dirs('modelcache-ort-enc-');
const quiet = { logSeverityLevel: 3 as const };
const key = randomBytes(32);
const aes = { algorithm: 'aes-256-gcm' as const, key };
afterAll(() => closeSessionCaches());

async function create(model: string, cache: SessionCacheOptions) {
  const session = await InferenceSession.create(model, { ...quiet, cache: { wait: true, ...cache } });
  return { session, info: sessionCacheInfo(session)! };
}

/** Every file under `dir`, read whole. */
function allFiles(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }) as import('node:fs').Dirent[]) {
    if (e.isFile()) out.push(readFileSync(join((e as unknown as { parentPath: string }).parentPath, e.name)));
  }
  return out;
}


describe('encrypted session entries', () => {
  it('leave no plaintext graph or weights anywhere in the cache directory, and load with the key', async () => {
    const dir = newDir();
    const a = await create(models.ocrDet, { dir, encryption: aes });
    expect(a.info.save).toMatchObject({ status: 'saved', format: 'ort' });
    await a.session.release();
    await closeSessionCaches();
    // What a plain entry of the same session holds: the flatbuffer marker, node names, weights.
    const plainDir = newDir();
    await (await create(models.ocrDet, { dir: plainDir, format: 'ort' })).session.release();
    const plainEntry = readFileSync(entryFile(plainDir));
    const weights = plainEntry.subarray(plainEntry.length >> 1, (plainEntry.length >> 1) + 256);
    const needles = [Buffer.from('ORTM'), Buffer.from('Conv'), Buffer.from('Sigmoid'), weights].filter((n) => plainEntry.includes(n));
    expect(needles.length).toBe(4);
    for (const f of allFiles(dir)) for (const n of needles) expect(f.includes(n)).toBe(false);
    const b = await create(models.ocrDet, { dir, encryption: aes });
    expect(b.info).toMatchObject({ status: 'hit', format: 'ort' });
    expect(b.info.timings.read).toBeGreaterThan(0);
    const feeds = { x: new ort.Tensor('float32', new Float32Array(3 * 64 * 64).fill(0.25), [1, 3, 64, 64]) };
    const plain = await ort.InferenceSession.create(models.ocrDet, quiet);
    expect(sameOutputs(await outputs(b.session, feeds), await outputs(plain, feeds))).toBe(true);
    await Promise.all([b.session.release(), plain.release()]);
  });

  it('stores a large entry as a chunked envelope (decrypted in parallel chunks)', async () => {
    const dir = newDir();
    await (await create(models.ocrDet, { dir, encryption: aes })).session.release();
    const stored = readFileSync(entryFile(dir));
    expect(stored.subarray(0, 5)).toEqual(Buffer.from([0x4d, 0x43, 0x45, 3, 1])); // "MCE", version 3, aes-256-gcm
    expect(stored.readUInt32LE(28)).toBe(1 << 20);
  });

  it('is rebuilt when it does not decrypt with the given key', async () => {
    const dir = newDir();
    await (await create(models.ocrCls, { dir, encryption: aes })).session.release();
    const wrong = await create(models.ocrCls, { dir, encryption: { algorithm: 'aes-256-gcm', key: randomBytes(32) } });
    expect(wrong.info.status).toBe('rebuilt');
    expect(wrong.info.reason).toMatch(/cannot be read/);
    await wrong.session.release();
  });

  it('is rebuilt when opened without encryption, and a plain one when opened with it', async () => {
    const dir = newDir();
    await (await create(models.ocrCls, { dir, encryption: aes })).session.release();
    const noKey = await create(models.ocrCls, { dir });
    expect(noKey.info).toMatchObject({ status: 'rebuilt', reason: expect.stringMatching(/encrypted/) });
    await noKey.session.release();
    const withKey = await create(models.ocrCls, { dir, encryption: aes });
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
    const plain = await ort.InferenceSession.create(models.ocrCls, quiet);
    expect(sameOutputs(await outputs(b.session, clsFeeds()), await outputs(plain, clsFeeds()))).toBe(true);
    await Promise.all([b.session.release(), plain.release()]);
  });

  it("in mode 'size', encrypts the graph and the changed weights only; the others are read from the source", async () => {
    const dir = newDir();
    const m = tinyTransformer(newDir());
    await (await create(m.path, { dir, mode: 'size', encryption: aes })).session.release();
    const stored = readFileSync(entryFile(dir, 'model.onnx'));
    expect(stored.length).toBeLessThan(statSync(m.dataPath).size / 50);
    expect(stored.subarray(0, 4)).toEqual(Buffer.from('MCE\x02', 'latin1'));
    const b = await create(m.path, { dir, mode: 'size', encryption: aes });
    expect(b.info).toMatchObject({ status: 'hit', format: 'onnx-weightless' });
    const plain = await ort.InferenceSession.create(m.path, quiet);
    expect(sameOutputs(await outputs(b.session, m.feeds()), await outputs(plain, m.feeds()))).toBe(true);
    await Promise.all([b.session.release(), plain.release()]);
  });
});
