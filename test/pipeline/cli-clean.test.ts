// Cleaning: `modelcache pipeline clear [--runs] [--evaluations] [--outputs]` deletes the pipeline's
// namespaces of a cache directory and nothing else; `modelcache shared delete --all` empties a
// container only when confirmed. Run as child processes (dist/cli/main.js).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache } from '../../src/index.js';
import { AzureBlobTier, Pipeline } from '../../src/pipeline/index.js';
import { tempDir } from '../helpers.js';
import { useAzurite } from '../setup/use-azurite.js';
import { appendPass, failingPass } from './helpers.js';

const azurite = useAzurite();
const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');
const root = tempDir('modelcache-cli-clean-');
let n = 0;

function cli(...args: string[]) {
  const env = { ...process.env };
  delete env.AZURE_STORAGE_CONNECTION_STRING;
  delete env.MODELCACHE_CONTAINER_URL;
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: args.includes('--json') && r.stdout.trim() ? JSON.parse(r.stdout) : undefined };
}

const evaluator = { type: 'Len', evaluate: (m: { path: string }) => ({ size: readFileSync(m.path).length }) };

/** A cache directory with an output, a run record, a remembered failure, an evaluation, and a value of another namespace. */
async function filled(): Promise<string> {
  const dir = join(root, `c${n++}`);
  const src = join(root, `in${n++}.txt`);
  writeFileSync(src, 'm0');
  const p = new Pipeline({ cache: dir, evaluator, cacheFailures: true }).add(appendPass('+a'));
  await p.run(src);
  await p.close();
  const f = new Pipeline({ cache: dir, cacheFailures: true }).add(failingPass('no'));
  await f.run(src).catch(() => {});
  await f.close();
  const other = new Cache({ dir, maxMemoryBytes: 0 });
  await other.put('mine', Buffer.from('kept'), { namespace: 'embeddings' });
  await other.close();
  return dir;
}

async function counts(dir: string): Promise<Record<string, number>> {
  const cache = new Cache({ dir, maxMemoryBytes: 0 });
  const out: Record<string, number> = {};
  for await (const e of cache.entries()) out[e.namespace] = (out[e.namespace] ?? 0) + 1;
  await cache.close();
  return out;
}

describe('modelcache pipeline clear', () => {
  it('--runs deletes run records and remembered failures only', async () => {
    const dir = await filled();
    expect(await counts(dir)).toEqual({ 'pipeline.output': 1, 'pipeline.run': 2, 'pipeline.failure': 1, 'pipeline.eval': 1, embeddings: 1 });
    const r = cli('pipeline', 'clear', '--runs', '--dir', dir, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.removed).toEqual({ runs: 3 });
    expect(await counts(dir)).toEqual({ 'pipeline.output': 1, 'pipeline.eval': 1, embeddings: 1 });
  });

  it('--evaluations and --outputs delete what they name', async () => {
    const dir = await filled();
    expect(cli('pipeline', 'clear', '--evaluations', '--outputs', '--dir', dir).stdout).toContain('removed 1 evaluations, 1 outputs');
    expect(await counts(dir)).toEqual({ 'pipeline.run': 2, 'pipeline.failure': 1, embeddings: 1 });
  });

  it('without flags deletes every pipeline entry and leaves the rest of the directory', async () => {
    const dir = await filled();
    expect(cli('pipeline', 'clear', '--dir', dir).code).toBe(0);
    expect(await counts(dir)).toEqual({ embeddings: 1 });
    expect(cli('pipeline', 'evaluations', '--dir', dir).stdout).toContain('0 evaluations shown of 0');
  });

  it('works on a directory any capability uses, and the general commands see a pipeline cache', async () => {
    const dir = await filled();
    const stats = cli('stats', '--dir', dir);
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stderr).not.toContain('no cache at');
    const verify = cli('verify', '--dir', dir);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0); // clean runs leave a healthy directory
    expect(cli('pipeline', 'clear', '--dir', join(root, 'not-a-cache')).stderr).toContain('no cache at');
  });
});

describe('modelcache shared delete --all', () => {
  const shared = (c: string, ...args: string[]) => cli('shared', ...args, '--connection-string', azurite().connectionString, '--container', c);

  async function container(): Promise<{ name: string; tier: AzureBlobTier }> {
    const name = `clean${process.pid}-${n++}`;
    const tier = new AzureBlobTier({ connectionString: azurite().connectionString, containerName: name, progress: false });
    const src = join(root, `in${n++}.txt`);
    writeFileSync(src, 'm0');
    const p = new Pipeline({ cache: { dir: join(root, `c${n++}`), sharedTier: tier } }).add(appendPass('+a'));
    await p.run(src);
    await p.close();
    await tier.put('v', Buffer.from('a value of another namespace'), { namespace: 'embeddings' });
    return { name, tier };
  }

  const entries = async (tier: AzureBlobTier) => {
    const out: string[] = [];
    for await (const e of tier.listEntries()) out.push(e.namespace);
    return out.sort();
  };

  it('refuses without --yes when it cannot ask, deleting nothing', async () => {
    const { name, tier } = await container();
    const r = shared(name, 'delete', '--all');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pass --yes to confirm');
    expect(await entries(tier)).toEqual(['embeddings', 'pipeline.output']);
  });

  it('with --yes deletes every entry of every namespace', async () => {
    const { name, tier } = await container();
    const r = shared(name, 'delete', '--all', '--yes', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.deleted).toBe(2);
    expect(await entries(tier)).toEqual([]);
  });

  it('takes an id or --all, not both and not neither', async () => {
    const { name } = await container();
    expect(shared(name, 'delete').code).toBe(2);
    expect(shared(name, 'delete', 'a'.repeat(32), '--all', '--yes').code).toBe(2);
  });
});
