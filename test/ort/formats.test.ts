// The forms of a session entry: the rule that picks one per model, and outputs identical to an
// uncached session's for every model in every form (ORT format, ONNX with pre-packed weights,
// weightless). A pre-packed entry that onnxruntime cannot run identically is never published.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSessionCaches, InferenceSession, sessionCacheInfo, type SessionCacheOptions } from '../../src/ort/index.js';
import { chooseFormat, graphFacts, PREPACK_MIN_BYTES } from '../../src/ort/rule.js';
import { models } from '../models.js';
import { dirs, listSessions, outputs, realModels, sameOutputs, tinyTransformer } from './helpers.js';

const newDir = dirs('modelcache-ort-formats-');
const quiet = { logSeverityLevel: 3 as const };
afterAll(() => closeSessionCaches());

const encoder = tinyTransformer(newDir());
const all = [...realModels, { name: 'generated encoder', path: encoder.path, feeds: encoder.feeds }];

describe('the rule for format "auto"', () => {
  const auto = (path: string) => chooseFormat('auto', 'speed', false, () => graphFacts(readFileSync(path)));

  it('picks ORT format for convolutional models (PaddleOCR det, cls) and where MatMul weights are a minority (rec)', () => {
    expect(auto(models.ocrDet)).toMatchObject({ format: 'ort', why: expect.stringMatching(/MatMul\/Gemm weights are 0%/) });
    expect(auto(models.ocrCls).format).toBe('ort');
    const rec = graphFacts(readFileSync(models.ocrRec));
    expect(rec.matmulWeightBytes / rec.tensorBytes).toBeGreaterThan(0.3);
    expect(rec.matmulWeightBytes / rec.tensorBytes).toBeLessThan(0.5);
    expect(auto(models.ocrRec).format).toBe('ort');
  });

  it('picks ORT format for a graph with subgraphs (Silero VAD)', () => {
    expect(auto(models.sileroVad)).toEqual({ format: 'ort', why: 'the graph has subgraphs' });
  });

  it('picks ONNX with pre-packed weights where MatMul weights dominate (a transformer encoder)', () => {
    const f = graphFacts(readFileSync(encoder.path));
    expect(f.matmulWeightBytes).toBeGreaterThan(PREPACK_MIN_BYTES);
    expect(f.matmulWeightBytes / f.tensorBytes).toBeGreaterThan(0.9);
    expect(auto(encoder.path).format).toBe('onnx-prepacked');
  });

  it('gives way to mode "size", encryption and an explicit format, in that order', () => {
    const never = () => {
      throw new Error('the graph must not be read');
    };
    expect(chooseFormat('ort', 'size', true, never).format).toBe('onnx-weightless');
    expect(chooseFormat('onnx', 'speed', true, never).format).toBe('ort');
    expect(chooseFormat('onnx', 'speed', false, never).format).toBe('onnx-prepacked');
    expect(chooseFormat('ort', 'speed', false, never).format).toBe('ort');
  });
});

const forms: [string, SessionCacheOptions][] = [['ort', { format: 'ort' }], ['onnx', { format: 'onnx' }], ['weightless', { mode: 'size' }], ['auto', {}]];

describe('outputs identical to an uncached session, on a miss and on a hit, in every form', () => {
  for (const m of all) {
    it(m.name, async () => {
      const plain = await ort.InferenceSession.create(m.path, quiet);
      const want = await outputs(plain, m.feeds());
      await plain.release();
      const dir = newDir();
      for (const [label, cache] of forms) {
        for (const expected of ['miss', 'hit']) {
          const session = await InferenceSession.create(m.path, { ...quiet, cache: { dir, wait: true, ...cache } });
          const info = sessionCacheInfo(session)!;
          expect(info.status, `${label} ${expected}`).toBe(expected);
          if (expected === 'miss') expect(info.save?.status, `${label}: ${info.save?.reason}`).toBe('saved');
          expect(sameOutputs(await outputs(session, m.feeds()), want), `${label} ${expected}`).toBe(true);
          await session.release();
        }
      }
      expect((await listSessions(dir)).length).toBe(forms.length);
    });
  }
});

describe('a pre-packed entry that does not check out', () => {
  it('is saved in ORT format instead, with the reason (Silero VAD: onnxruntime writes invalid ONNX for its subgraphs)', async () => {
    const dir = newDir();
    const s = await InferenceSession.create(models.sileroVad, { ...quiet, cache: { dir, wait: true, format: 'onnx' } });
    expect(sessionCacheInfo(s)!.save).toMatchObject({ status: 'saved', format: 'ort' });
    const [e] = await listSessions(dir);
    expect(e.meta).toMatchObject({ entryFormat: 'ort', formatReason: expect.stringMatching(/pre-packed ONNX entry was not kept/) });
    await s.release();
  });

  it('is saved in ORT format instead when running it takes the builder down (PaddleOCR rec)', async () => {
    const dir = newDir();
    const s = await InferenceSession.create(models.ocrRec, { ...quiet, cache: { dir, wait: true, format: 'onnx' } });
    expect(sessionCacheInfo(s)!.save).toMatchObject({ status: 'saved', format: 'ort' });
    const [e] = await listSessions(dir);
    expect(e.meta).toMatchObject({ entryFormat: 'ort', formatReason: expect.stringMatching(/not kept/) });
    const hit = await InferenceSession.create(models.ocrRec, { ...quiet, cache: { dir, format: 'onnx' } });
    expect(sessionCacheInfo(hit)).toMatchObject({ status: 'hit', format: 'ort' });
    await Promise.all([s.release(), hit.release()]);
  });
});
