// `modelcache warm` and `modelcache sessions`, run as child processes (the built dist/cli/main.js).
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { models } from '../models.js';
import { dirs } from './helpers.js';

const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');
const newDir = dirs('modelcache-ort-cli-');

function run(...args: string[]) {
  const env = { ...process.env };
  delete env.MODELCACHE_DIR;
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('modelcache warm', () => {
  it('precompiles a model, then finds it cached', async () => {
    const dir = join(newDir(), 'cache');
    const first = run('warm', models.ocrCls, '--dir', dir, '--json');
    expect(first.code).toBe(0);
    const a = JSON.parse(first.stdout);
    expect(a).toMatchObject({ status: 'miss', mode: 'speed', format: 'ort', save: { status: 'saved' }, executionProviders: ['cpu'], model: models.ocrCls });
    expect(a.entryBytes).toBeGreaterThan(0);
    const second = run('warm', models.ocrCls, '--dir', dir);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/already cached, [\d.]+ KiB, loaded in \d+ ms \(key [0-9a-f]{12}, ort\)/);
    expect(second.stdout).toContain(a.key.slice(0, 12));
  });

  it('warms the weightless form with --mode size', () => {
    const dir = join(newDir(), 'cache');
    const r = run('warm', models.ocrCls, '--dir', dir, '--mode', 'size', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'miss', mode: 'size', format: 'onnx-weightless' });
  });

  it('reports a provider that cannot be cached and exits 1', () => {
    const r = run('warm', models.ocrCls, '--dir', join(newDir(), 'cache'), '--ep', 'dml,cpu');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/not cached: execution provider 'dml' is not cacheable/);
  });

  it('fails with exit 1 on a missing model and exit 2 on a bad --mode', () => {
    const missing = run('warm', join(newDir(), 'nope.onnx'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.onnx: no such file/);
    const usage = run('warm', models.ocrCls, '--mode', 'fast');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--mode/);
  });
});

describe('modelcache sessions', () => {
  it('lists cached sessions with source, size, mode, entry form, onnxruntime version and last use', () => {
    const dir = join(newDir(), 'cache');
    expect(run('warm', models.ocrCls, '--dir', dir).code).toBe(0);
    expect(run('warm', models.ocrCls, '--dir', dir, '--mode', 'size').code).toBe(0);
    const table = run('sessions', '--dir', dir);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^KEY\s+SIZE\s+MODE\s+FORM\s+ORT\s+EP\s+USED\s+SOURCE$/);
    expect(lines.filter((l) => l.includes(models.ocrCls))).toHaveLength(2);
    expect(table.stdout).toMatch(/\bsize\s+onnx-weightless\s+1\.30\.0\s+cpu\s/);
    expect(table.stdout).toMatch(/2 cached sessions, .* in /);
    const json = JSON.parse(run('sessions', '--dir', dir, '--json').stdout);
    expect(json.sessions).toHaveLength(2);
    expect(json.sessions[0]).toMatchObject({ source: models.ocrCls, ortVersion: '1.30.0', executionProviders: ['cpu'], encrypted: false });
    expect(json.sessions.map((s: { format: string }) => s.format).sort()).toEqual(['onnx-weightless', 'ort']);
    expect(json.sessions.map((s: { mode: string }) => s.mode).sort()).toEqual(['size', 'speed']);
    expect(typeof json.sessions[0].lastUsed).toBe('number');
  });

  it('fails without creating anything when there is no cache', () => {
    const dir = join(newDir(), 'absent');
    const r = run('sessions', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no cache at/);
  });
});
