// `modelcache shared get <id> --out <dir>` on damaged and hostile entries (Azurite): it only ever
// removes what it created, and never replaces what was there.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hash } from '../../src/index.js';
import { AzureBlobTier } from '../../src/pipeline/index.js';
import { publishRaw, type RawFile } from './hostile.js';
import { tempDir } from '../helpers.js';
import { useAzurite } from '../setup/use-azurite.js';

const azurite = useAzurite();
const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

describe('modelcache shared get --out', () => {
  const root = tempDir('modelcache-cli-get-');
  const container = `get${process.pid}`;
  let tier: AzureBlobTier;

  beforeAll(() => {
    tier = new AzureBlobTier({ connectionString: azurite().connectionString, containerName: container, progress: false, maxTries: 2 });
  });
  afterAll(async () => {
    await tier.close();
  });

  /** Publishes an output whose files hold `content`; `claimed` overrides the hash its manifest records. */
  async function publish(files: RawFile[], kind: 'file' | 'dir' = 'dir'): Promise<string> {
    const id = randomBytes(16).toString('hex');
    await publishRaw(tier, root, id, files, kind);
    return id;
  }

  function get(id: string, out: string, cwd = root) {
    const env = { ...process.env };
    delete env.AZURE_STORAGE_CONNECTION_STRING;
    delete env.MODELCACHE_CONTAINER_URL;
    const args = [CLI, 'shared', 'get', id, '--out', out, '--connection-string', azurite().connectionString, '--container', container];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, cwd });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** A folder of the user's with one file in it. */
  function userFolder(name: string): string {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    return dir;
  }

  const damaged = () => publish([{ path: 'model.onnx', content: 'evil bytes', claimed: hash('not these') }], 'file');

  it('leaves an existing --out folder and its files in place when the output fails verification', async () => {
    const id = await damaged();
    const dir = userFolder('existing');
    const r = get(id, dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('failed verification');
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('never removes the working directory with --out . when the output fails verification', async () => {
    const id = await damaged();
    const cwd = userFolder('cwd');
    const r = get(id, '.', cwd);
    expect(r.code).toBe(1);
    expect(readdirSync(cwd)).toEqual(['notes.txt']);
  });

  it('removes the --out folder, and the parents it had to create, when it made them and the output fails verification', async () => {
    const id = await damaged();
    const r = get(id, join(root, 'new-parent', 'new-out'));
    expect(r.code).toBe(1);
    expect(existsSync(join(root, 'new-parent'))).toBe(false);
  });

  it('never replaces a file already in --out, and leaves nothing of its own behind', async () => {
    const id = await publish([{ path: 'notes.txt', content: 'theirs' }, { path: 'extra/w.bin', content: 'w' }]);
    const dir = userFolder('clash');
    const r = get(id, dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/notes\.txt already exists; nothing was replaced/);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('adds a verified output beside the files already in --out', async () => {
    const id = await publish([{ path: 'model.onnx', content: 'graph' }, { path: 'data/w.bin', content: 'weights' }]);
    const dir = userFolder('beside');
    const r = get(id, dir);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['data', 'model.onnx', 'notes.txt']);
    expect(readFileSync(join(dir, 'data', 'w.bin'), 'utf8')).toBe('weights');
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('leaves --out untouched when the manifest lists both a and a/b', async () => {
    const id = await publish([{ path: 'a', content: 'file' }, { path: 'a/b', content: 'under a file' }]);
    const dir = userFolder('prefix');
    const r = get(id, dir);
    expect(r.code).toBe(1);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });
});
