// `modelcache pipeline runs` and `modelcache shared ls | get | delete | gc`, run as child
// processes (dist/cli/main.js) against a local cache and Azurite.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../src/pipeline/index.js';
import { parseDuration } from '../../src/cli/commands/shared.js';
import { tempDir } from '../helpers.js';
import { useAzurite } from '../setup/use-azurite.js';
import { appendPass, failingPass } from './helpers.js';

const azurite = useAzurite();
const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const base = { ...process.env };
  delete base.AZURE_STORAGE_CONNECTION_STRING;
  delete base.MODELCACHE_CONTAINER_URL;
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...base, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('modelcache pipeline / shared', () => {
  const root = tempDir('modelcache-cli-pipeline-');
  const dir = join(root, 'cache');
  const container = `cli${process.pid}`;
  let finalId = '';
  let firstId = '';

  beforeAll(async () => {
    const src = join(root, 'in.txt');
    writeFileSync(src, 'm0');
    const cache = { dir, connectionString: azurite().connectionString, containerName: container, sharedOptions: { progress: false as const } };
    const evaluator = { type: 'Len', config: { unit: 'bytes' }, evaluate: (m: { path: string }) => ({ size: readFileSync(m.path).length }) };
    const p = new Pipeline({ cache, evaluator }).add(appendPass('+a')).add(appendPass('+b'));
    const r = await p.run(src);
    finalId = r.id;
    firstId = r.passes[0].outputId;
    await p.close();
    const f = new Pipeline({ cache: dir }).add(failingPass('no luck'));
    await f.run(src).catch(() => {});
    await f.close();
  });

  const shared = (...args: string[]) => ['shared', ...args, '--connection-string', azurite().connectionString, '--container', container];

  it('lists run records as a table and as JSON', () => {
    const t = run(['pipeline', 'runs', '--dir', dir]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/WHEN\s+PASS\s+VERSION\s+STATUS/);
    expect(t.stdout).toContain('3 runs shown of 3, 1 failed');
    const j = JSON.parse(run(['pipeline', 'runs', '--dir', dir, '--json', '--status', 'ok']).stdout);
    expect(j.runs.map((r: { outputId: string }) => r.outputId)).toEqual([firstId, finalId]);
    const failed = JSON.parse(run(['pipeline', 'runs', '--dir', dir, '--json', '--status', 'failed']).stdout);
    expect(failed.runs[0]).toMatchObject({ status: 'failed', error: 'no luck' });
  });

  it('lists evaluations as a table and as JSON', () => {
    const t = run(['pipeline', 'evaluations', '--dir', dir]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/EVALUATED\s+EVALUATOR\s+MODEL\s+TIME\s+METRICS/);
    expect(t.stdout).toMatch(/Len v1\s+\w{12}\s+.*\{"size":6\}/);
    expect(t.stdout).toContain('1 evaluation shown of 1');
    const j = JSON.parse(run(['pipeline', 'evaluations', '--dir', dir, '--json']).stdout);
    expect(j.evaluations).toEqual([expect.objectContaining({ modelId: finalId, metrics: { size: 6 }, evaluator: { type: 'Len', version: '1', config: { unit: 'bytes' } } })]);
  });

  it('fails without creating anything when the directory is not a cache, or has no runs', () => {
    const none = join(root, 'none');
    const r = run(['pipeline', 'runs', '--dir', none]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no cache at ${none}`);
    expect(existsSync(none)).toBe(false);
    const empty = join(root, 'empty');
    const made = spawnSync(process.execPath, ['-e', `const { Cache } = await import(${JSON.stringify(resolve(import.meta.dirname, '../../dist/index.js'))}); const c = new Cache({ dir: ${JSON.stringify(empty)} }); await c.put('k', Buffer.from('v')); await c.close();`, '--input-type=module'], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    expect(run(['pipeline', 'runs', '--dir', empty]).stderr).toContain(`no pipeline runs in ${empty}`);
  });

  it('lists shared outputs with their pass type', () => {
    const r = JSON.parse(run([...shared('ls'), '--json']).stdout);
    expect(r.entries.map((o: { id: string }) => o.id).sort()).toEqual([firstId, finalId].sort());
    expect(r.entries.every((o: { type: string; kind: string }) => o.type === 'files' && o.kind === 'Append')).toBe(true);
    expect(run(shared('ls')).stdout).toContain('2 outputs');
    const evals = JSON.parse(run([...shared('ls', '--namespace', 'pipeline.eval'), '--json']).stdout);
    expect(evals.entries).toHaveLength(1);
    expect(run(shared('ls', '--namespace', 'Bad NS')).code).toBe(2);
  });

  it('reads the connection string from AZURE_STORAGE_CONNECTION_STRING', () => {
    const r = run(['shared', 'ls', '--container', container, '--json'], { AZURE_STORAGE_CONNECTION_STRING: azurite().connectionString });
    expect(JSON.parse(r.stdout).entries).toHaveLength(2);
  });

  it('downloads an output verified against its manifest', () => {
    const out = join(root, 'got');
    const r = JSON.parse(run([...shared('get', finalId), '--out', out, '--json']).stdout);
    expect(readFileSync(r.path, 'utf8')).toBe('m0+a+b');
    expect(r.run.pass.name).toBe('Append_2');
  });

  it('deletes an output, manifest first', () => {
    expect(run(shared('delete', firstId)).stdout).toContain(`deleted output ${firstId}`);
    const after = JSON.parse(run([...shared('ls'), '--json']).stdout);
    expect(after.entries.map((o: { id: string }) => o.id)).toEqual([finalId]);
    expect(run(shared('delete', firstId)).code).toBe(1);
  });

  it('reports nothing to collect in a clean container, and honours --dry-run', () => {
    expect(run(shared('gc', '--grace', '0')).stdout).toContain('nothing to collect');
    expect(JSON.parse(run([...shared('gc', '--grace', '0', '--dry-run'), '--json']).stdout)).toMatchObject({ dryRun: true, blobs: 0 });
  });

  it('exits 2 with a clear message when no shared store is named', () => {
    const r = run(['shared', 'ls']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--container-url');
    expect(run(['shared', 'get', 'not-an-id', '--container-url', 'https://acct.blob.core.windows.net/c']).code).toBe(2);
  });

  it('parses grace periods with units', () => {
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(() => parseDuration('5')).toThrow(/unit/);
    expect(() => parseDuration('soon')).toThrow(/duration/);
  });
});
