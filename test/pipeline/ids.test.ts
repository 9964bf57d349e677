import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalConfig, modelId, outputId, Pipeline, type AcceleratorSpec, type PassContext, type PassInput } from '../../src/pipeline/index.js';
import { tempDir } from '../helpers.js';
import { appendPass } from './helpers.js';

const ACC = canonicalConfig({ device: 'cpu' });
const base = { type: 'T', version: '1', config: canonicalConfig({ a: 1 }), inputId: 'a'.repeat(32), accelerator: ACC };

describe('canonical config', () => {
  it('does not depend on key order, and drops undefined members', () => {
    const a = canonicalConfig({ b: 2, a: { y: [1, 2], x: 'v' }, gone: undefined });
    const b = canonicalConfig({ a: { x: 'v', y: [1, 2] }, b: 2 });
    expect(outputId({ ...base, config: a })).toBe(outputId({ ...base, config: b }));
    expect(a.json).toEqual({ a: { x: 'v', y: [1, 2] }, b: 2 });
    expect(a.shareable).toBe(true);
  });

  it('keeps values JSON would merge apart (NaN, -0, Infinity, bigint)', () => {
    const ids = [NaN, -0, 0, Infinity, 1n, '1'].map((v) => outputId({ ...base, config: canonicalConfig({ v }) }));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses a function, naming its path: its captured state cannot be keyed', () => {
    expect(() => canonicalConfig({ opts: { steps: [{ callback: () => 1 }] } })).toThrow(TypeError);
    expect(() => canonicalConfig({ opts: { steps: [{ callback: () => 1 }] } })).toThrow(/captured state cannot be hashed.* for config\.opts\.steps\[0\]\.callback/);
    expect(() => canonicalConfig({ tag: Symbol('x') })).toThrow(/config\.tag/);
  });

  it('marks a class instance as not portable, still keying it by its class and fields', () => {
    class Tokenizer {
      constructor(readonly vocab: number) {}
    }
    const a = canonicalConfig({ tok: new Tokenizer(10) });
    expect(a.problem).toBe('config.tok (an instance of Tokenizer)');
    const b = canonicalConfig({ tok: new Tokenizer(20) });
    expect(outputId({ ...base, config: a })).not.toBe(outputId({ ...base, config: b }));
    expect(outputId({ ...base, config: a })).toBe(outputId({ ...base, config: canonicalConfig({ tok: new Tokenizer(10) }) }));
  });

  it('gives a full 128-bit output id that changes with each of its parts', () => {
    const id = outputId(base);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const variants = [
      { ...base, type: 'U' },
      { ...base, version: '2' },
      { ...base, config: canonicalConfig({ a: 2 }) },
      { ...base, inputId: 'b'.repeat(32) },
      { ...base, accelerator: canonicalConfig({ device: 'gpu' }) },
    ].map(outputId);
    expect(new Set([id, ...variants]).size).toBe(6);
  });
});

describe('model id', () => {
  const dir = tempDir();

  it('is the content of a file, whatever its name or place', async () => {
    writeFileSync(join(dir, 'a.onnx'), 'weights');
    writeFileSync(join(dir, 'b.onnx'), 'weights');
    writeFileSync(join(dir, 'c.onnx'), 'weights!');
    expect(await modelId(join(dir, 'a.onnx'))).toBe(await modelId(join(dir, 'b.onnx')));
    expect(await modelId(join(dir, 'a.onnx'))).not.toBe(await modelId(join(dir, 'c.onnx')));
  });

  it('covers the names and bytes of every file of a directory, not their order on disk', async () => {
    const mk = (name: string, files: Record<string, string>) => {
      const d = join(dir, name);
      for (const [f, text] of Object.entries(files)) {
        mkdirSync(join(d, f, '..'), { recursive: true });
        writeFileSync(join(d, f), text);
      }
      return d;
    };
    const a = mk('m1', { 'model.onnx': 'g', 'data/w.bin': 'w' });
    const b = mk('m2', { 'data/w.bin': 'w', 'model.onnx': 'g' });
    const renamed = mk('m3', { 'model.onnx': 'g', 'data/w2.bin': 'w' });
    const changed = mk('m4', { 'model.onnx': 'g', 'data/w.bin': 'W' });
    expect(await modelId(a)).toBe(await modelId(b));
    expect(await modelId(a)).not.toBe(await modelId(renamed));
    expect(await modelId(a)).not.toBe(await modelId(changed));
  });

  it('names a missing model in its error', async () => {
    await expect(modelId(join(dir, 'nope.onnx'))).rejects.toThrow(/nope\.onnx/);
  });
});

/** Runs of real pipelines: a scratch root, and input files in it. */
const root = tempDir();
let n = 0;
const file = (text: string) => {
  const p = join(root, `in-${n++}.txt`);
  writeFileSync(p, text);
  return p;
};

describe('pipeline ids cover what a result depends on', () => {
  const GPU = { device: 'gpu', executionProvider: 'CUDAExecutionProvider' };

  it('input model attributes are part of the input id: a pass that reads them runs again when they change', async () => {
    const dir = join(root, `c${n++}`);
    const src = file('model');
    const opsetPass = {
      type: 'StampOpset',
      run(input: PassInput, _cfg: unknown, ctx: PassContext) {
        writeFileSync(ctx.outputPath('m.txt'), `opset ${String(input.attributes.opset)}`);
      },
    };
    const p = new Pipeline({ cache: dir }).add(opsetPass);
    const a = await p.run({ path: src, attributes: { opset: 13 } });
    const b = await p.run({ path: src, attributes: { opset: 17 } });
    const text = readFileSync(await b.path(), 'utf8');
    await p.close();
    expect(b.passes[0].status).toBe('computed');
    expect(text).toBe('opset 17');
    expect(a.id).not.toBe(b.id);
  });

  it('an evaluation is keyed by the accelerator: a GPU evaluation is not served the cached CPU metrics', async () => {
    const dir = join(root, `c${n++}`);
    const src = file('model');
    const evaluator = { type: 'Device', evaluate: (_m: PassInput, _c: unknown, ctx: { accelerator: AcceleratorSpec }) => ({ device: ctx.accelerator.device }) };
    const cpu = new Pipeline({ cache: dir });
    expect((await cpu.evaluate(src, evaluator)).metrics).toEqual({ device: 'cpu' });
    await cpu.close();
    const gpu = new Pipeline({ cache: dir, accelerator: GPU });
    const r = await gpu.evaluate(src, evaluator);
    await gpu.close();
    expect(r.cached).toBe(false);
    expect(r.metrics).toEqual({ device: 'gpu' });
  });

  it('an accelerator-agnostic pass is a cache hit under another accelerator', async () => {
    const dir = join(root, `c${n++}`);
    const src = file('model');
    const calls = { n: 0 };
    const meta = { ...appendPass('+meta', calls), type: 'Metadata', acceleratorAgnostic: true };
    const cpu = new Pipeline({ cache: dir }).add(meta);
    await cpu.run(src);
    await cpu.close();
    const gpu = new Pipeline({ cache: dir, accelerator: GPU }).add(meta);
    const r = await gpu.run(src);
    await gpu.close();
    expect(r.passes[0].status).toBe('local');
    expect(calls.n).toBe(1);
  });
});

describe('pass defaults and accelerator-agnostic passes', () => {
  const echo = (config: unknown, defaults?: Record<string, unknown>, seen: unknown[] = []) => ({
    type: 'Echo',
    config,
    ...(defaults ? { defaults } : {}),
    run(_input: PassInput, cfg: unknown, ctx: PassContext) {
      seen.push(cfg);
      writeFileSync(ctx.outputPath('m.txt'), JSON.stringify(cfg));
    },
  });

  it('a config written with a default value and without it get the same output id', async () => {
    const dir = join(root, `c${n++}`);
    const src = file('m');
    const defaults = { level: 'all', opset: 17 };
    const seen: unknown[] = [];
    const a = new Pipeline({ cache: dir }).add(echo({ level: 'all' }, defaults, seen));
    const ra = await a.run(src);
    await a.close();
    const b = new Pipeline({ cache: dir }).add(echo({ level: 'all', opset: 17 }, defaults, seen));
    const rb = await b.run(src);
    await b.close();
    expect(rb.id).toBe(ra.id);
    expect(rb.passes[0].status).toBe('local');
    expect(seen).toEqual([{ level: 'all', opset: 17 }]); // run receives the config with defaults applied
  });

  it('a config member that is not among the defaults is a TypeError naming it', () => {
    const p = new Pipeline({ cache: join(root, `c${n++}`) });
    expect(() => p.add(echo({ levle: 'all' }, { level: 'basic' }))).toThrow(/pass #1\.config\.levle/);
  });

  it('an accelerator-agnostic pass that reads ctx.accelerator fails, saying why', async () => {
    const p = new Pipeline({ cache: join(root, `c${n++}`) }).add({
      type: 'Sneaky',
      acceleratorAgnostic: true,
      run(_input: PassInput, _cfg: unknown, ctx: PassContext) {
        writeFileSync(ctx.outputPath('m.txt'), String(ctx.accelerator.device));
      },
    });
    await expect(p.run(file('m'))).rejects.toThrow(/acceleratorAgnostic/);
    await p.close();
  });

  it('leaves the accelerator out of an agnostic pass only: the pass after it is keyed by it', async () => {
    const dir = join(root, `c${n++}`);
    const src = file('m');
    const chain = (p: Pipeline) => p.add({ ...appendPass('+meta'), type: 'Meta', acceleratorAgnostic: true }).add(appendPass('+opt'));
    const cpu = chain(new Pipeline({ cache: dir }));
    await cpu.run(src);
    await cpu.close();
    const gpu = chain(new Pipeline({ cache: dir, accelerator: { device: 'gpu' } }));
    const r = await gpu.run(src);
    await gpu.close();
    expect(r.passes.map((p) => p.status)).toEqual(['local', 'computed']);
  });

  it('input attributes that cannot be keyed are a TypeError naming them', async () => {
    const p = new Pipeline({ cache: join(root, `c${n++}`) }).add(appendPass('+a'));
    await expect(p.run({ path: file('m'), attributes: { hook: () => 1 } })).rejects.toThrow(/model\.attributes\.hook/);
    await p.close();
  });
});
