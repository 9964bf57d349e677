// A single .onnx file whose weights live in an external data file beside it: the model's id covers
// every file it names, passes receive it with its data, and an output returned as such a file
// keeps its data (stored, exported, loadable).
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelId, onnxMetadata, Pipeline, type PassContext, type PassInput } from '../../src/pipeline/index.js';
import { tempDir } from '../helpers.js';
import { FLOAT, graph, model, node, onnx, runModel, vi } from '../onnx/build.js';

const root = tempDir('modelcache-external-');
let n = 0;

/** y = x + w, with w = `weights` stored in `data` (relative to the model) when given, else inline. */
function addModel(weights: number[], data?: string): string {
  const dir = join(root, `m${n++}`);
  mkdirSync(dir);
  const raw = Buffer.from(Float32Array.from(weights).buffer);
  const w = data === undefined
    ? { name: 'w', dims: [weights.length], dataType: FLOAT, rawData: raw }
    : {
        name: 'w', dims: [weights.length], dataType: FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [{ key: 'location', value: data }, { key: 'offset', value: '0' }, { key: 'length', value: String(raw.length) }],
      };
  if (data !== undefined) {
    mkdirSync(join(dir, data, '..'), { recursive: true });
    writeFileSync(join(dir, data), raw);
  }
  const file = join(dir, 'model.onnx');
  writeFileSync(file, model(graph([node('Add', ['x', 'w'], ['y'])], [vi('x', FLOAT, [2])], [vi('y', FLOAT, [2])], [w])));
  return file;
}

const run = (path: string) => runModel(path, { x: { dims: [2], data: [10, 20] } });

describe('a single-file model with external data', () => {
  it('has an id that covers the external data it names, and nothing else beside it', async () => {
    const a = addModel([1, 2], 'w.bin');
    const b = addModel([1, 3], 'w.bin'); // same graph bytes, other weights
    expect(await modelId(a)).not.toBe(await modelId(b));
    const before = await modelId(a);
    writeFileSync(join(a, '..', 'notes.txt'), 'unrelated');
    expect(await modelId(a)).toBe(before);
  });

  it('is refused, naming the location, when its data is missing or outside its folder', async () => {
    const missing = addModel([1, 2], 'w.bin');
    writeFileSync(missing, model(graph([node('Add', ['x', 'w'], ['y'])], [vi('x', FLOAT, [2])], [vi('y', FLOAT, [2])], [{
      name: 'w', dims: [2], dataType: FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: 'nowhere.bin' }],
    }])));
    await expect(modelId(missing)).rejects.toThrow(/names external data "nowhere\.bin", which is not a file beside it/);
    await expect(modelId(addModel([1, 2], '../outside.bin'))).rejects.toThrow(/external data location "\.\.\/outside\.bin" is not a file inside the model's folder/);
  });

  it('reaches a pass as its file with the data beside it, and the built-in passes read it', async () => {
    const src = addModel([1, 2], 'data/w.bin');
    const p = new Pipeline({ cache: join(root, `c${n++}`) });
    let seen: PassInput | undefined;
    p.add({ type: 'Look', run: (input: PassInput, _c: unknown, ctx: PassContext) => (seen = input, copyFileSync(input.path, ctx.outputPath()), mkdirSync(join(ctx.outputDir, 'data')), copyFileSync(join(input.path, '..', 'data', 'w.bin'), join(ctx.outputDir, 'data', 'w.bin')), ctx.outputPath()) });
    p.add(onnxMetadata({ doc_string: 'with data' }));
    const r = await p.run(src);
    expect(seen?.kind).toBe('file');
    const folder = await r.path(); // OnnxMetadata keeps the data beside the model: a folder model
    expect((await r.files()).map((f) => relative(folder, f)).sort()).toEqual([join('data', 'w.bin'), 'model.onnx']);
    expect((await run(join(folder, 'model.onnx'))).y).toEqual([11, 22]);
    await p.close();
  });

  it('keeps the data of a file output: stored with it, exported with it, loadable', async () => {
    const src = addModel([1, 2], 'w.bin');
    const dir = join(root, `c${n++}`);
    const copy = { type: 'Copy', run: (input: PassInput, _c: unknown, ctx: PassContext) => {
      copyFileSync(input.path, ctx.outputPath());
      copyFileSync(join(input.path, '..', 'w.bin'), join(ctx.outputDir, 'w.bin'));
      writeFileSync(join(ctx.outputDir, 'scratch.log'), 'not part of the model');
      return ctx.outputPath(); // the .onnx file: its data comes with it
    } };
    const p = new Pipeline({ cache: dir }).add(copy);
    const r = await p.run(src);
    const [rec] = await p.runs();
    expect(rec.kind).toBe('file');
    expect(rec.files!.map((f) => f.path)).toEqual(['model.onnx', 'w.bin']);
    expect((await run(await r.path())).y).toEqual([11, 22]);
    const out = join(root, `out${n++}`);
    const saved = await r.save(out);
    expect(readdirSync(out).sort()).toEqual(['model.onnx', 'modelcache.json', 'w.bin']);
    expect((await run(saved.path)).y).toEqual([11, 22]);
    await p.close();
    // Another run finds it whole: its id did not change, its data is there.
    const q = new Pipeline({ cache: dir }).add(copy);
    const again = await q.run(src);
    expect(again.passes[0].status).toBe('local');
    expect((await run(await again.path())).y).toEqual([11, 22]);
    await q.close();
  });
});
