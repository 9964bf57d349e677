// The built-in passes on the PaddleOCR models (det, rec, cls) and a small transformer with
// external data: each output loads in onnxruntime and matches the input model's outputs, exactly
// for OnnxMetadata and OrtGraphOptimization (CPU), within a stated tolerance for float16.
//
// float16 tolerance: weights and activations lose 13 mantissa bits (relative rounding 2^-11 =
// 4.9e-4 per value) and the error adds up over ~100 layers; on these models' outputs (softmax
// and sigmoid probabilities in [0, 1]) the largest absolute difference measured is 0.007 (rec),
// 0.006 (cls) and 1e-6 (det, with BatchNormalization kept in float32: its running variances reach
// 1e8, far past the default max_finite_val of 1e4 that onnxconverter-common clamps weights to).
// The tests allow 0.02 on probabilities, and 1% of the output range on the transformer's logits.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OP_BLOCK_LIST, onnxFloatToFloat16, onnxMetadata, ortGraphOptimization, ortLatency, Pipeline, type Pass } from '../../src/pipeline/index.js';
import { readMetadataProps } from '../../src/onnx/metadata.js';
import { maxDiff } from '../onnx/build.js';
import { dirs, outputs, realModels, tinyTransformer } from '../ort/helpers.js';

const newDir = dirs('modelcache-builtin-');
const ocr = realModels.filter((m) => m.name.startsWith('PaddleOCR'));

async function runPasses(model: string, ...passes: Pass<never>[]) {
  const p = new Pipeline({ cache: newDir() });
  for (const pass of passes) p.add(pass as Pass);
  const r = await p.run(model);
  const files = await r.files();
  await p.close();
  return { result: r, files, model: files.find((f) => f.endsWith('.onnx'))! };
}

async function outputsOf(path: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, Buffer>> {
  const s = await ort.InferenceSession.create(path);
  try {
    return await outputs(s, feeds);
  } finally {
    await s.release();
  }
}

const asFloats = (b: Buffer) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);

describe.each(ocr)('$name', ({ path, feeds }) => {
  it('OnnxMetadata: sets the metadata and the outputs stay bit-identical', async () => {
    const { model } = await runPasses(path, onnxMetadata({ producer_name: 'modelcache-test', doc_string: 'ocr', metadata_props: { stage: 'final' } }) as Pass<never>);
    expect(readMetadataProps(readFileSync(model))).toEqual([['stage', 'final']]);
    expect(await outputsOf(model, feeds())).toEqual(await outputsOf(path, feeds()));
  });

  it('OrtGraphOptimization: the optimized model gives bit-identical outputs on CPU, inline or with external data', async () => {
    const want = await outputsOf(path, feeds());
    for (const level of ['extended', 'all'] as const) {
      const inline = await runPasses(path, ortGraphOptimization({ level }) as Pass<never>);
      expect(inline.files).toHaveLength(1);
      expect(await outputsOf(inline.model, feeds())).toEqual(want);
    }
    const external = await runPasses(path, ortGraphOptimization({ external_data: 'always' }) as Pass<never>);
    expect(external.files.map((f) => f.split('/').pop())).toEqual(['model.onnx', 'model.onnx.data']);
    expect(statSync(external.files[0]).size).toBeLessThan(statSync(external.files[1]).size);
    expect(await outputsOf(external.model, feeds())).toEqual(want);
  });

  it('OnnxFloatToFloat16: half the size, float32 inputs and outputs, probabilities within 0.02', async () => {
    // The det model's BatchNormalization variances do not fit the default max_finite_val (see the top).
    const config = path.includes('det') ? { op_block_list: [...DEFAULT_OP_BLOCK_LIST, 'BatchNormalization'] } : {};
    const { model, result } = await runPasses(path, onnxFloatToFloat16(config) as Pass<never>);
    expect(statSync(model).size).toBeLessThan(statSync(path).size * 0.55);
    expect(result.attributes).toMatchObject({ float16: { tensors: expect.any(Number) } });
    const [want, got] = [await outputsOf(path, feeds()), await outputsOf(model, feeds())];
    expect(Object.keys(got)).toEqual(Object.keys(want));
    for (const k of Object.keys(want)) expect(maxDiff(asFloats(got[k]), asFloats(want[k]))).toBeLessThan(path.includes('det') ? 1e-3 : 0.02);
  });
});

describe('a model with external data (small transformer)', () => {
  it('float16, then graph optimization, then metadata: every output stays a folder with model.onnx.data and runs', async () => {
    const t = tinyTransformer(newDir());
    const { files, model, result } = await runPasses(join(t.path, '..'), onnxFloatToFloat16() as Pass<never>, ortGraphOptimization() as Pass<never>, onnxMetadata({ doc_string: 'tiny' }) as Pass<never>);
    expect(result.passes.map((p) => p.status)).toEqual(['computed', 'computed', 'computed']);
    expect(files.map((f) => f.split('/').pop())).toEqual(['model.onnx', 'model.onnx.data']);
    expect(statSync(files[1]).size).toBeLessThan(statSync(t.dataPath).size * 0.55);
    const [want, got] = [await outputsOf(t.path, t.feeds()), await outputsOf(model, t.feeds())];
    for (const k of Object.keys(want)) {
      const w = asFloats(want[k]);
      const range = Math.max(...w) - Math.min(...w);
      expect(maxDiff(asFloats(got[k]), w)).toBeLessThan(range * 0.01);
    }
  });

  it('a single .onnx file with its external data beside it: read with its data, and the output keeps it', async () => {
    const t = tinyTransformer(newDir());
    const { files, model } = await runPasses(t.path, onnxMetadata({ doc_string: 'x' }) as Pass<never>);
    expect(files.map((f) => f.split('/').pop()).sort()).toEqual(['model.onnx', t.dataPath.split('/').pop()].sort());
    expect(await outputsOf(model, t.feeds())).toEqual(await outputsOf(t.path, t.feeds()));
  });
});

describe('OrtLatency', () => {
  it('times runs on inputs of the given shape and reports milliseconds', async () => {
    const p = new Pipeline({ cache: newDir() });
    const e = await p.evaluate(ocr.find((m) => m.name.includes('rec'))!.path, ortLatency({ runs: 3, warmup: 0, inputs: { x: [1, 3, 48, 64] } }));
    await p.close();
    expect(e.metrics).toEqual({ latency_avg_ms: expect.any(Number), latency_p50_ms: expect.any(Number), latency_p90_ms: expect.any(Number), latency_min_ms: expect.any(Number), runs: 3 });
    expect(e.metrics.latency_min_ms).toBeLessThanOrEqual(e.metrics.latency_p90_ms as number);
  });

  it('asks for the shape of an input with dynamic dimensions', async () => {
    const p = new Pipeline({ cache: newDir() });
    await expect(p.evaluate(ocr.find((m) => m.name.includes('rec'))!.path, ortLatency({ runs: 1 }))).rejects.toThrow(/input x has dynamic dimensions .*give its shape in config\.inputs\.x/);
    await p.close();
  });
});

describe('built-in pass configs', () => {
  it('are checked when the pass is made, naming the field', () => {
    expect(() => ortGraphOptimization({ level: 'fast' as never })).toThrow('config.level: expected one of "disabled", "basic", "extended", "layout", "all" but received "fast"');
    expect(() => onnxFloatToFloat16({ max_finite_val: -1 })).toThrow('config.max_finite_val: expected a number > 0 but received -1');
    expect(() => onnxMetadata({})).toThrow('config: expected an object with at least 1 field');
    expect(() => onnxMetadata({ metadata_props: { '': 'x' } })).toThrow(/config\[""\]|bad field name/);
  });

  it('take their defaults by the rule of every pass: with or without a default value, or undefined, the same output id', async () => {
    const stub = (pass: Pass) => ({ ...pass, run: (_i: unknown, _c: unknown, ctx: { outputPath(): string }) => void writeFileSync(ctx.outputPath(), 'x') }) as Pass;
    const given = [{}, { level: 'extended', external_data: 'auto' }, { level: undefined, external_data_min_size: 1024 }] as const;
    const ids = [];
    for (const config of given) {
      const p = new Pipeline({ cache: newDir() }).add(stub(ortGraphOptimization(config as never)));
      ids.push((await p.run(ocr[0].path)).id);
      await p.close();
    }
    expect(new Set(ids).size).toBe(1);
    expect(ortGraphOptimization({}).defaults).toEqual({ level: 'extended', external_data: 'auto', external_data_min_size: 1024 });
  });
});


describe('accelerators', () => {
  const rec = ocr.find((m) => m.name.includes('rec'))!;
  // Another accelerator that this machine can run: the CPU provider with another device string.
  const other = { device: 'cpu-other', executionProvider: 'CPUExecutionProvider' };

  it('OnnxMetadata and OnnxFloatToFloat16 are served from the cache under another accelerator; OrtGraphOptimization runs again', async () => {
    const dir = newDir();
    const passes = () => [onnxMetadata({ producer_name: 'm' }), onnxFloatToFloat16({}), ortGraphOptimization({})] as Pass[];
    const cpu = new Pipeline({ cache: dir });
    for (const p of passes()) cpu.add(p);
    await cpu.run(rec.path);
    await cpu.close();
    const second = new Pipeline({ cache: dir, accelerator: other });
    for (const p of passes()) second.add(p);
    const r = await second.run(rec.path);
    await second.close();
    // The last output is computed again; the two before it are not needed (the agnostic float16 output is found).
    expect(r.passes.map((p) => p.status)).toEqual(['not-needed', 'local', 'computed']);
  });
});
