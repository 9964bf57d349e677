// Workflow files: the shipped schema, validation (one error naming the field, nothing run), the
// module export convention, Olive's cache fields, and running a workflow from code.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertSupportedSchema } from '../../src/pipeline/schema.js';
import { loadWorkflow, Pipeline, workflowSchema, WorkflowError } from '../../src/pipeline/index.js';
import { tempDir } from '../helpers.js';
import { valid } from './json-schema.js';

const root = tempDir('modelcache-workflow-');
const shipped = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../schema/workflow.schema.json'), 'utf8'));
let n = 0;

writeFileSync(join(root, 'in.txt'), 'm0');
writeFileSync(
  join(root, 'passes.mjs'),
  `import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
const run = (input, cfg, ctx) => {
  appendFileSync(${JSON.stringify(join(root, 'ran.log'))}, cfg.text + '\\n');
  writeFileSync(ctx.outputPath('model.txt'), readFileSync(input.path, 'utf8') + cfg.text);
  return ctx.outputPath('model.txt');
};
export default { type: 'Append', run };
export const pinned = { type: 'Append', version: '3', run };
export function appendFactory(config) {
  if (typeof config.text !== 'string') throw new Error('text must be a string');
  return { type: 'Append', version: '2', config: { text: config.text.toUpperCase() }, run };
}
export const failing = { type: 'Fails', run() { throw new Error('no luck'); } };
export const notAPass = { type: 'Append' };
`,
);
writeFileSync(join(root, 'evaluate.mjs'), `import { readFileSync } from 'node:fs';\nexport default { type: 'Length', evaluate: (m) => ({ length: readFileSync(m.path, 'utf8').length }) };\n`);
writeFileSync(join(root, 'not-json.json'), '{ "input_model": ');
mkdirSync(join(root, 'taken'));
writeFileSync(join(root, 'taken', 'notes.txt'), 'mine');

const ran = () => (existsSync(join(root, 'ran.log')) ? readFileSync(join(root, 'ran.log'), 'utf8').trim().split('\n') : []);
const base = (extra: Record<string, unknown> = {}) => ({ input_model: { path: 'in.txt' }, passes: [{ type: 'Append', module: './passes.mjs', config: { text: '+a' } }], ...extra });
const url = 'https://acct.blob.core.windows.net/models';

function write(w: unknown): string {
  const file = join(root, `flow-${n++}.json`);
  writeFileSync(file, JSON.stringify(w));
  return file;
}

async function errorOf(w: unknown, options = {}): Promise<WorkflowError> {
  try {
    const flow = await loadWorkflow(write(w), { cacheDir: join(root, 'cache-never-made'), ...options });
    await flow.close();
  } catch (err) {
    if (err instanceof WorkflowError) return err;
    throw err;
  }
  throw new Error('the workflow loaded');
}

const onnx = (extra: Record<string, unknown>) => ({ input_model: { path: 'in.txt' }, passes: [{ type: 'OrtGraphOptimization' }, { type: 'OnnxFloatToFloat16' }, { type: 'OnnxMetadata', config: { producer_name: 'x' } }], ...extra });

/** Workflows the schema itself rejects: [what, workflow, field]. */
const schemaBad: [string, unknown, string][] = [
  ['no input model', { passes: [] }, 'input_model'],
  ['input path of the wrong type', { input_model: { path: 3 }, passes: [] }, 'input_model.path'],
  ['passes of the wrong type', { input_model: { path: 'in.txt' }, passes: 'OnnxMetadata' }, 'passes'],
  ['a pass without a type', { input_model: { path: 'in.txt' }, passes: [{ config: {} }] }, 'passes[0].type'],
  ['an unknown pass', onnx({ passes: [{ type: 'OrtGraphOptimization' }, { type: 'Quantize' }] }), 'passes[1].type'],
  ['a config value outside its choices', onnx({ passes: [{ type: 'OrtGraphOptimization', config: { level: 'fast' } }] }), 'passes[0].config.level'],
  ['a config field of the wrong type', onnx({ passes: [{ type: 'OrtGraphOptimization' }, { type: 'OnnxFloatToFloat16', config: { keep_io_types: 'yes' } }] }), 'passes[1].config.keep_io_types'],
  ['an unknown config field', onnx({ passes: [{ type: 'OnnxMetadata', config: { colour: 'red' } }] }), 'passes[0].config.colour'],
  ['an unknown top-level field', onnx({ cache: '.cache' }), 'cache'],
  ['export without module', onnx({ passes: [{ type: 'OnnxMetadata', export: 'x', config: { doc_string: 'd' } }] }), 'passes[0].export'],
  ['a bad account name', onnx({ cache_config: { account_name: 'Bad_Name', container_name: 'models' } }), 'cache_config.account_name'],
  ['an execution provider of the wrong type', onnx({ accelerator: { execution_provider: 1 } }), 'accelerator.execution_provider'],
  ['an unknown evaluator', onnx({ evaluator: { type: 'Accuracy' } }), 'evaluator.type'],
  ['an empty cache_dir list', onnx({ cache_dir: [] }), 'cache_dir'],
];

/** Workflows the schema accepts but that cannot run: [what, workflow, field]. */
const semanticBad: [string, unknown, string][] = [
  ['a module whose default export is not a pass', base({ passes: [{ type: 'Append', module: './evaluate.mjs' }] }), 'passes[0].module'],
  ['an export that is not a pass', base({ passes: [{ type: 'Append', module: './passes.mjs', export: 'notAPass' }] }), 'passes[0].export'],
  ['an export that does not exist', base({ passes: [{ type: 'Append', module: './passes.mjs', export: 'nope' }] }), 'passes[0].export'],
  ['a module that does not exist', base({ passes: [{ type: 'Append', module: './missing.mjs' }] }), 'passes[0].module'],
  ['a factory that refuses its config', base({ passes: [{ type: 'Append', module: './passes.mjs', export: 'appendFactory', config: { text: 1 } }] }), 'passes[0].config'],
  ['a type other than the module pass declares', base({ passes: [{ type: 'Prepend', module: './passes.mjs' }] }), 'passes[0].type'],
  ['a version pin the module does not match', base({ passes: [{ type: 'Append', module: './passes.mjs', export: 'pinned', version: '2' }] }), 'passes[0].version'],
  ['a version pin a built-in does not match', onnx({ passes: [{ type: 'OrtGraphOptimization', version: 2 }] }), 'passes[0].version'],
  ['two passes with one name', base({ passes: [{ type: 'Append', module: './passes.mjs', name: 'a', config: { text: '1' } }, { type: 'Append', module: './passes.mjs', name: 'a', config: { text: '2' } }] }), 'passes[1].name'],
  ['a URL that is not a blob container URL', base({ cache_dir: ['local', 'https://example.com/models'] }), 'cache_dir[1]'],
  ['a blob URL without a container', base({ cache_dir: 'https://acct.blob.core.windows.net/' }), 'cache_dir'],
  ['two shared cache URLs', base({ cache_dir: [url, 'https://other.blob.core.windows.net/x-y'] }), 'cache_dir[1]'],
  ['an account without a container', base({ cache_config: { account_name: 'acct' } }), 'cache_config.container_name'],
  ['a URL and an account', base({ cache_dir: url, cache_config: { account_name: 'acct', container_name: 'models' } }), 'cache_config.account_name'],
  ['cache_dir given twice', base({ cache_dir: 'a', cache_config: { cache_dir: 'b' } }), 'cache_config.cache_dir'],
  ['a shared cache enabled but not given', base({ cache_config: { enable_shared_cache: true } }), 'cache_config.enable_shared_cache'],
  ['an input model that does not exist', base({ input_model: { path: 'nope.onnx' } }), 'input_model.path'],
  ['an output folder holding other files', base({ output_dir: 'taken' }), 'output_dir'],
  ['an evaluator module without an evaluator', base({ evaluator: { type: 'Length', module: './passes.mjs', export: 'failing' } }), 'evaluator.export'],
];

const good: [string, unknown][] = [
  ['no passes', { input_model: { path: 'in.txt' }, passes: [] }],
  ['the three built-ins with every field', onnx({ evaluator: { type: 'OrtLatency', config: { runs: 3, inputs: { x: [1, 3] } } }, accelerator: { device: 'cpu', execution_provider: 'CPUExecutionProvider' }, output_dir: 'out-good', cache_dir: 'local-cache' })],
  ["Olive's object form of passes", { input_model: { path: 'in.txt' }, passes: { first: { type: 'Append', module: './passes.mjs', config: { text: '1' } }, second: { type: 'OnnxMetadata', config: { doc_string: 'd' } } } }],
  ['a local folder and a blob container URL', base({ cache_dir: ['local_cache', url] })],
  ['an Azurite URL', base({ cache_dir: 'http://127.0.0.1:10000/devstoreaccount1/models' })],
  ['cache_config with an account', base({ cache_config: { account_name: 'acct', container_name: 'models', update_shared_cache: false } })],
  ['a factory export and a module evaluator', base({ passes: [{ type: 'Append', module: './passes.mjs', export: 'appendFactory', config: { text: 'x' } }], evaluator: { type: 'Length', module: './evaluate.mjs' } })],
];

describe('the workflow schema', () => {
  it('is shipped as schema/workflow.schema.json, exported as modelcache/workflow.schema.json', () => {
    expect(shipped).toEqual(workflowSchema());
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../package.json'), 'utf8'));
    expect(pkg.exports['./workflow.schema.json']).toBe('./schema/workflow.schema.json');
    expect(pkg.files).toContain('schema');
  });

  it('uses only keywords the workflow checker implements', () => {
    expect(() => assertSupportedSchema(workflowSchema())).not.toThrow();
    expect(() => assertSupportedSchema({ type: 'object', oneOf: [] } as never)).toThrow(/oneOf is not supported/);
  });

  it.each(good)('accepts a good workflow, as the checker does: %s', async (_what, w) => {
    expect(valid(w, shipped)).toBe(true);
    const flow = await loadWorkflow(write(w), { cacheDir: join(root, 'cache-good') });
    await flow.close();
  });

  it.each(schemaBad)('rejects %s, and the checker names the field', async (_what, w, field) => {
    expect(valid(w, shipped)).toBe(false);
    expect((await errorOf(w)).field).toBe(field);
  });

  it.each(semanticBad)('accepts %s, which the checker refuses naming the field', async (_what, w, field) => {
    expect(valid(w, shipped)).toBe(true);
    expect((await errorOf(w)).field).toBe(field);
  });
});

describe('loading a workflow', () => {
  it('gives one message with the file, the field path and what was expected', async () => {
    const e = await errorOf(onnx({ passes: [{ type: 'OrtGraphOptimization', config: { level: 'fast' } }] }));
    expect(e.message).toMatch(/flow-\d+\.json: passes\[0\]\.config\.level: expected one of "disabled", "basic", "extended", "layout", "all" but received "fast"$/);
    expect(e.code).toBe('ERR_BAD_INPUT');
    const unknown = await errorOf(onnx({ passes: [{ type: 'Quantize' }] }));
    expect(unknown.message).toContain('passes[0].type: expected one of the built-in passes "OrtGraphOptimization", "OnnxFloatToFloat16", "OnnxMetadata", or a "module" exporting your own pass');
    expect((await errorOf({ input_model: { path: 'in.txt' }, passes: [{}] })).message).toMatch(/passes\[0\]\.type: missing; a string is required$/);
  });

  it('runs nothing and creates no cache when a later field is bad', async () => {
    const before = ran().length;
    await errorOf(base({ passes: [{ type: 'Append', module: './passes.mjs', config: { text: '+a' } }, { type: 'Quantize' }] }));
    await errorOf(base({ cache_dir: ['local', 'https://example.com/x'] }));
    expect(ran()).toHaveLength(before);
    expect(existsSync(join(root, 'cache-never-made'))).toBe(false);
  });

  it('reports a file that is not JSON, and refuses YAML', async () => {
    await expect(loadWorkflow(join(root, 'not-json.json'))).rejects.toThrow(/not-json\.json: not valid JSON/);
    await expect(loadWorkflow(join(root, 'flow.yaml'))).rejects.toThrow(/YAML workflows are not supported/);
  });

  it('resolves relative paths against the workflow file, and against baseDir for objects', async () => {
    const flow = await loadWorkflow(write(base({ output_dir: 'out-rel', cache_dir: 'rel-cache' })));
    expect(flow.input.path).toBe(join(root, 'in.txt'));
    expect(flow.outputDir).toBe(join(root, 'out-rel'));
    expect(flow.pipeline.dir).toBe(join(root, 'rel-cache'));
    await flow.close();
    const obj = await loadWorkflow(base(), { baseDir: root, cacheDir: join(root, 'c2') });
    expect(obj.input.path).toBe(join(root, 'in.txt'));
    await obj.close();
  });

  it("maps Olive's cache forms onto the pipeline's shared cache", async () => {
    const list = await loadWorkflow(write(base({ cache_dir: ['local_cache', url] })));
    expect(list.pipeline.dir).toBe(join(root, 'local_cache'));
    expect(list.pipeline.sharedLocation).toContain('acct');
    await list.close();
    const config = await loadWorkflow(write(base({ cache_config: { cache_dir: 'cc', account_name: 'acct', container_name: 'models' } })));
    expect(config.pipeline.dir).toBe(join(root, 'cc'));
    expect(config.pipeline.sharedLocation).toContain('models');
    await config.close();
    const off = await loadWorkflow(write(base({ cache_dir: ['x', url], cache_config: { enable_shared_cache: false } })));
    expect(off.pipeline.sharedLocation).toBeUndefined();
    await off.close();
  });
});

describe('running a workflow from code', () => {
  it('Pipeline.fromWorkflow runs the passes, evaluates, exports, and computes nothing the second time', async () => {
    const w = base({
      passes: [
        { type: 'Append', module: './passes.mjs', config: { text: '+a' } },
        { type: 'Append', module: './passes.mjs', export: 'appendFactory', config: { text: '+b' } },
      ],
      evaluator: { type: 'Length', module: './evaluate.mjs' },
      output_dir: 'exported',
      cache_dir: 'run-cache',
      input_model: { path: 'in.txt', attributes: { lang: 'en' } },
    });
    const file = write(w);
    const flow = await Pipeline.fromWorkflow(file);
    const { result, output } = await flow.run();
    await flow.close();
    expect(result.passes.map((p) => [p.name, p.status])).toEqual([['Append', 'computed'], ['Append_2', 'computed']]);
    expect(result.evaluation?.metrics).toEqual({ length: 6 });
    expect(readFileSync(output!.path, 'utf8')).toBe('m0+a+B'); // the factory's config is the one used
    const descriptor = JSON.parse(readFileSync(output!.descriptor, 'utf8'));
    expect(descriptor).toMatchObject({ id: result.id, input: { id: result.inputId, attributes: { lang: 'en' } }, evaluation: { metrics: { length: 6 } } });
    expect(descriptor.chain.map((c: { version: string; config: unknown }) => [c.version, c.config])).toEqual([['1', { text: '+a' }], ['2', { text: '+B' }]]);
    const again = await Pipeline.fromWorkflow(file, { overwrite: true });
    const second = await again.run();
    await again.close();
    expect(second.result.stats.computed).toBe(0);
    expect(second.result.id).toBe(result.id);
  });

  it('gives the same output ids as the same passes added in code, and others for another accelerator', async () => {
    const cache = join(root, 'same-ids');
    // OrtGraphOptimization depends on the accelerator (OnnxMetadata is accelerator-agnostic).
    const flow = await loadWorkflow(write(onnx({ passes: [{ type: 'OrtGraphOptimization', config: { level: 'basic' } }], accelerator: { device: 'cpu' } })), { cacheDir: cache });
    const gpu = await loadWorkflow(write(onnx({ passes: [{ type: 'OrtGraphOptimization', config: { level: 'basic' } }], accelerator: { device: 'gpu', execution_provider: 'CUDAExecutionProvider' } })), { cacheDir: cache });
    const { ortGraphOptimization } = await import('../../src/pipeline/index.js');
    const p = new Pipeline({ cache }).add(ortGraphOptimization({ level: 'basic' }));
    const [a, b] = [flow.pipeline, p];
    // A text file is not a model: the pass fails, and the error carries the output id it was for.
    const idOf = async (pl: Pipeline) => ((await pl.run(join(root, 'in.txt')).catch((e: unknown) => e)) as { outputId?: string }).outputId;
    expect(await idOf(a)).toMatch(/^[0-9a-f]{32}$/);
    expect(await idOf(a)).toBe(await idOf(b));
    expect(await idOf(gpu.pipeline)).not.toBe(await idOf(b));
    await a.close();
    await b.close();
    await gpu.close();
  });
});
