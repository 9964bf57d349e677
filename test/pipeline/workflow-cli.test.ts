// `modelcache pipeline run flow.json` (dist/cli/main.js in a child process) on a three-pass
// workflow over the PaddleOCR rec model: cold, warm, exported model, bad files, a failing pass,
// and Olive's two shared-cache forms against Azurite.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { beforeAll, describe, expect, it } from 'vitest';
import { models } from '../models.js';
import { tempDir } from '../helpers.js';
import { useAzurite } from '../setup/use-azurite.js';
import { maxDiff } from '../onnx/build.js';
// @ts-expect-error: plain JS fixture shared with the child processes
import { runRec } from '../fixtures/pipeline-passes.mjs';

const azurite = useAzurite();
const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');
const root = tempDir('modelcache-workflow-cli-');
let n = 0;
let reference: Float32Array;

const passes = [
  { type: 'OrtGraphOptimization', config: { level: 'extended' } },
  { type: 'OnnxFloatToFloat16' },
  { type: 'OnnxMetadata', config: { producer_name: 'modelcache-test', metadata_props: { stage: 'final' } } },
];

function flow(extra: Record<string, unknown> = {}): string {
  const dir = join(root, `w${n++}`);
  mkdirSync(dir);
  const file = join(dir, 'flow.json');
  writeFileSync(file, JSON.stringify({ input_model: { path: models.ocrRec }, passes, cache_dir: 'cache', ...extra }, null, 2));
  return file;
}

function cli(file: string, ...args: string[]) {
  const env = { ...process.env, AZURE_STORAGE_CONNECTION_STRING: azurite().connectionString };
  delete env.MODELCACHE_DIR;
  const r = spawnSync(process.execPath, [CLI, 'pipeline', 'run', file, ...args], { encoding: 'utf8', env });
  const json = args.includes('--json') && r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

async function manifests(container: string): Promise<string[]> {
  const names: string[] = [];
  const c = BlobServiceClient.fromConnectionString(azurite().connectionString).getContainerClient(container);
  if (!(await c.exists())) return names;
  for await (const b of c.listBlobsFlat()) if (b.name.endsWith('/manifest.json')) names.push(b.name);
  return names;
}

async function expectRunsLikeTheInput(path: string): Promise<void> {
  expect(maxDiff(await runRec(path), reference)).toBeLessThan(0.02);
}

beforeAll(async () => {
  reference = await runRec(models.ocrRec);
});

describe('modelcache pipeline run', () => {
  const file = flow({ output_dir: 'out' });
  const out = join(file, '..', 'out');

  it('cold: computes the three passes, one line per pass, and exports the model', async () => {
    const r = cli(file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASS\s+STATUS\s+TIME\s+OUTPUT/);
    for (const p of ['OrtGraphOptimization', 'OnnxFloatToFloat16', 'OnnxMetadata']) expect(r.stdout).toMatch(new RegExp(`${p}\\s+computed\\s+[\\d.]+ (ms|s)`));
    expect(r.stdout).toContain(`exported to ${out}`);
    expect(readdirSync(out).sort()).toEqual(['model.onnx', 'modelcache.json']);
    await expectRunsLikeTheInput(join(out, 'model.onnx'));
  });

  it('warm: computes nothing, and refuses to replace the export without --overwrite', () => {
    expect(cli(file, '--json').json.error).toMatch(/output_dir: .* is not empty/);
    const r = cli(file, '--json', '--overwrite');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.passes.map((p: { status: string }) => p.status)).toEqual(['not-needed', 'not-needed', 'local']);
    expect(r.json.stats.computed).toBe(0);
    expect(r.json.output.path).toBe(join(out, 'model.onnx'));
  });

  it('exits 1 naming the pass that failed, after the lines of the passes before it', () => {
    const dir = join(root, 'failing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'fails.mjs'), "export default { type: 'Fails', run() { throw new Error('no luck'); } };\n");
    const f = join(dir, 'flow.json');
    writeFileSync(f, JSON.stringify({ input_model: { path: models.ocrRec }, passes: [passes[2], { type: 'Fails', module: './fails.mjs' }], cache_dir: 'cache' }));
    const r = cli(f);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/OnnxMetadata\s+computed/);
    expect(r.stderr).toMatch(/pass Fails failed: no luck \(ERR_PASS_FAILED\)/);
    expect(cli(f, '--json').json).toMatchObject({ code: 'ERR_PASS_FAILED', pass: 'Fails' });
  });

  it.each([
    ['a missing field', { input_model: undefined }, 'input_model'],
    ['a field of the wrong type', { passes: [{ type: 'OnnxFloatToFloat16', config: { keep_io_types: 'yes' } }] }, 'passes[0].config.keep_io_types'],
    ['an unknown pass', { passes: [passes[0], { type: 'Quantize' }] }, 'passes[1].type'],
    ['a module that does not export a pass', { passes: [{ type: 'Mine', module: './flow.json' }] }, 'passes[0].module'],
    ['a URL that is not a blob container URL', { cache_dir: ['cache', 'https://example.com/models'] }, 'cache_dir[1]'],
  ])('refuses %s with one error naming the field, running nothing', (_what, extra, field) => {
    const f = flow(extra);
    const r = cli(f);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`${f}: ${field}: `);
    expect(cli(f, '--json').json).toMatchObject({ code: 'ERR_BAD_INPUT', field });
    expect(existsSync(join(f, '..', 'cache'))).toBe(false);
  });
});

describe('modelcache pipeline run with a shared cache (Azurite)', () => {
  it('cache_config { account_name, container_name } uploads every output; a second machine computes nothing', async () => {
    const container = `wfcfg${process.pid}`;
    const f = flow({ cache_config: { account_name: 'devstoreaccount1', container_name: container }, output_dir: 'out' });
    const first = cli(f, '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(first.json.stats).toMatchObject({ computed: 3, published: 3 });
    expect(await manifests(container)).toHaveLength(3);
    // Another machine: an empty local cache. Only the final model is downloaded, to be exported.
    const other = join(root, 'machine-2');
    const second = cli(f, '--json', '--dir', other, '--overwrite');
    expect(second.code, second.stderr).toBe(0);
    expect(second.json.passes.map((p: { status: string }) => p.status)).toEqual(['not-needed', 'not-needed', 'shared']);
    expect(second.json.stats).toMatchObject({ computed: 0, downloadedFiles: 1, downloadedBytes: statSync(first.json.output.path).size });
    expect(readdirSync(other)).toContain('index'); // the local cache it was given
    await expectRunsLikeTheInput(second.json.output.path);
    // The second machine recorded where its model came from: the first machine's run of the last pass.
    const records = (dir: string) => JSON.parse(spawnSync(process.execPath, [CLI, 'pipeline', 'runs', '--dir', dir, '--json'], { encoding: 'utf8' }).stdout).runs;
    const computed = records(join(f, '..', 'cache')).find((r: { pass: { type: string } }) => r.pass.type === 'OnnxMetadata');
    const [served] = records(other);
    expect(served).toMatchObject({ status: 'shared', outputId: computed.outputId, host: computed.host, start: computed.start, durationMs: computed.durationMs });
    expect(records(other)).toHaveLength(1);
  });

  it('the URL list ["<local>", "<container URL>"] shares by default, and update_shared_cache: false uploads nothing', async () => {
    const shared = `wfurl${process.pid}`;
    const f = flow({ cache_dir: ['cache', azurite().containerUrl(shared)], output_dir: 'out' });
    const r = cli(f, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.stats.published).toBe(3);
    expect(await manifests(shared)).toHaveLength(3);
    await expectRunsLikeTheInput(r.json.output.path);

    // update_shared_cache: false reads the shared cache and uploads nothing (here: a last pass of another config).
    const g = flow({
      cache_dir: ['cache', azurite().containerUrl(shared)],
      cache_config: { update_shared_cache: false },
      passes: [passes[0], passes[1], { ...passes[2], config: { producer_name: 'another' } }],
    });
    const ro = cli(g, '--json');
    expect(ro.code, ro.stderr).toBe(0);
    expect(ro.json.passes.map((p: { status: string }) => p.status)).toEqual(['not-needed', 'shared', 'computed']);
    expect(ro.json.stats).toMatchObject({ computed: 1, published: 0 });
    expect(await manifests(shared)).toHaveLength(3);
  });
});
