// The `modelcache` CLI, run as a child process (the built dist/cli/main.js) against temp caches
// filled through DiskTier. Exit codes: 0 ok, 1 operational failure, 2 usage.
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readdirSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { Cache, DiskTier, hashFile, tensorNamespace } from '../src/index.js';
import { parseSize } from '../src/cli/args.js';
import { randomBytes, tempDir } from './helpers.js';

const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');
const KEY = (c: string) => c.repeat(32);
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MODELCACHE_DIR;
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  return env;
}

function run(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: childEnv() });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json(...args: string[]): { code: number | null; data: any } {
  const r = run(...args, '--json');
  return { code: r.code, data: JSON.parse(r.stdout) };
}

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI with a pseudo-terminal as stdin/stdout/stderr (util-linux `script`). */
function runTty(args: string[], input = ''): Run {
  const cmd = [process.execPath, CLI, ...args].map(quote).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', input, env: { ...childEnv(), TERM: 'xterm' } });
  return { code: r.status, stdout: r.stdout.replace(/\r/g, ''), stderr: r.stderr };
}

/**
 * A cache with four entries put in the order a, b, c, d (created in that order), then a read
 * again, so the most recently used first is a, d, c, b.
 */
async function sampleCache(): Promise<string> {
  const dir = join(tempDir('modelcache-cli-'), 'cache');
  const tier = new DiskTier({ dir, inlineThreshold: 64 * 1024 });
  await tier.put(KEY('a'), randomBytes(1000, 1), { kind: 'tensor', meta: { shape: [250] } });
  await sleep(5);
  await tier.put(KEY('b'), randomBytes(200_000, 2), { kind: 'session' });
  await sleep(5);
  await tier.put(KEY('c'), randomBytes(70_000, 3), { kind: 'tensor' });
  await sleep(5);
  await tier.put(KEY('d'), randomBytes(10, 4), { kind: 'pass-output' });
  await sleep(5);
  expect(await tier.get(KEY('a'))).toBeDefined();
  await tier.close();
  return dir;
}

/** Flips one byte in the middle of the blob file of `key` (found through the public API, unverified). */
async function corruptBlob(dir: string, key: string): Promise<string> {
  const tier = new DiskTier({ dir });
  const path = (await tier.getFile(key, { verify: false }))!.path;
  await tier.close();
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 100);
  b[0] ^= 0xff;
  writeSync(fd, b, 0, 1, 100);
  closeSync(fd);
  return path;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build it first with \`npx tsc -p tsconfig.json\``);
});

describe('parseSize', () => {
  it('reads decimal units as powers of 1000 and binary units and bare letters as powers of 1024', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('10B')).toBe(10);
    expect(parseSize('500MB')).toBe(500_000_000);
    expect(parseSize('500KB')).toBe(500_000);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('64k')).toBe(65536);
    expect(parseSize('2.3KB')).toBe(2300);
    expect(parseSize('1 MiB')).toBe(1024 ** 2);
  });

  it('rejects negative, fractional byte counts, unknown units and garbage', () => {
    for (const bad of ['', '-1', '1.5', '1.5B', '5XB', 'MB', '1e9', '12 34', '99999999999999999999']) {
      expect(() => parseSize(bad), bad).toThrow();
    }
  });
});

describe('modelcache stats', () => {
  it('reports entries, bytes, the limit and counts by kind as JSON', async () => {
    const dir = await sampleCache();
    const { code, data } = json('stats', '--dir', dir);
    expect(code).toBe(0);
    expect(data).toMatchObject({
      dir,
      entries: 4,
      bytes: 1000 + 200_000 + 70_000 + 10,
      maxBytes: 10e9,
      inline: 2,
      files: 2,
      kinds: {
        tensor: { entries: 2, bytes: 71_000 },
        session: { entries: 1, bytes: 200_000 },
        'pass-output': { entries: 1, bytes: 10 },
      },
    });
  });

  it('prints plain text without escape codes when stdout is not a terminal', async () => {
    const dir = await sampleCache();
    const { code, stdout } = run('stats', '--dir', dir);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(ANSI);
    expect(stdout).toMatch(/^tensor\s+2\s+69\.3 KiB$/m);
    expect(stdout).toContain('4 entries, 265 KiB (limit 9.3 GiB)');
  });
});

describe('modelcache ls', () => {
  it('lists every entry with its size, kind, storage and metadata as JSON', async () => {
    const dir = await sampleCache();
    const { code, data } = json('ls', '--dir', dir);
    expect(code).toBe(0);
    const byKey = Object.fromEntries(data.entries.map((e: { key: string }) => [e.key, e]));
    expect(Object.keys(byKey).sort()).toEqual([KEY('a'), KEY('b'), KEY('c'), KEY('d')]);
    expect(byKey[KEY('a')]).toMatchObject({ size: 1000, kind: 'tensor', inline: true, meta: { shape: [250] } });
    expect(byKey[KEY('b')]).toMatchObject({ size: 200_000, kind: 'session', inline: false });
    expect(byKey[KEY('c')]).toMatchObject({ size: 70_000, kind: 'tensor', inline: false });
    expect(byKey[KEY('d')]).toMatchObject({ size: 10, kind: 'pass-output', inline: true });
    expect(data.total).toEqual({ entries: 4, bytes: 271_010, maxBytes: 10e9 });
  });

  it('sorts by last use (most recent first) by default, by size or by creation (largest / newest first)', async () => {
    const dir = await sampleCache();
    const keys = (...args: string[]) => json('ls', '--dir', dir, ...args).data.entries.map((e: { key: string }) => e.key[0]).join('');
    expect(keys()).toBe('adcb');
    expect(keys('--sort', 'used')).toBe('adcb');
    expect(keys('--sort', 'size')).toBe('bcad');
    expect(keys('--sort', 'created')).toBe('dcba');
  });

  it('filters by --kind and caps the list with --limit', async () => {
    const dir = await sampleCache();
    const tensors = json('ls', '--dir', dir, '--kind', 'tensor').data;
    expect(tensors.entries.map((e: { key: string }) => e.key)).toEqual([KEY('a'), KEY('c')]);
    expect(tensors.matched).toBe(2);
    const top = json('ls', '--dir', dir, '--sort', 'size', '--limit', '1').data;
    expect(top.entries.map((e: { key: string }) => e.key)).toEqual([KEY('b')]);
    expect(top.matched).toBe(4);
    expect(json('ls', '--dir', dir, '--kind', 'nothing').data.entries).toEqual([]);
  });

  it('prints an aligned plain table with namespaces, 12-character keys and a summary line when piped', async () => {
    const dir = await sampleCache();
    const { code, stdout } = run('ls', '--dir', dir);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(ANSI);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE\s+KEY\s+KIND\s+SIZE\s+STORED\s+USED\s+CREATED$/);
    expect(lines[1]).toMatch(/^default\s+aaaaaaaaaaaa  tensor\s+1000 B  inline  (just now|\d+s ago)\s+\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(lines[4]).toMatch(/^default\s+bbbbbbbbbbbb  session\s+195 KiB  file\s/);
    // Columns line up: every row has its size column ending where the header's does.
    const sizeEnd = lines[0].indexOf('SIZE') + 4;
    for (const l of lines.slice(1, 5)) expect(l[sizeEnd - 1]).toBe('B');
    expect(lines.at(-1)).toBe('4 entries, 265 KiB (limit 9.3 GiB)');
  });

  it('shows full keys and metadata with --long, and says how many entries a filter shows', async () => {
    const dir = await sampleCache();
    const { stdout } = run('ls', '--dir', dir, '--long', '--kind', 'tensor');
    expect(stdout).toContain(KEY('a'));
    expect(stdout).toContain('{"shape":[250]}');
    expect(stdout).toContain('2 of 4 entries shown (69.3 KiB); cache: 4 entries, 265 KiB (limit 9.3 GiB)');
  });

  it('on a terminal, renders the same table with a bold header and short keys', async () => {
    const dir = await sampleCache();
    if (!hasScript) {
      // No util-linux `script` to make a pseudo-terminal: the piped form is the one we can check.
      expect(run('ls', '--dir', dir).stdout).not.toMatch(ANSI);
      return;
    }
    const { code, stdout } = runTty(['ls', '--dir', dir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\x1b\[1mNAMESPACE\s+KEY\s+KIND\s+SIZE\s+STORED\s+USED\s+CREATED\x1b\[22m/);
    expect(stdout).toMatch(/^default\s+aaaaaaaaaaaa  tensor /m);
    expect(stdout).not.toContain(KEY('a'));
    expect(stdout).toContain('4 entries, 265 KiB (limit 9.3 GiB)');
  });
});

describe('modelcache verify', () => {
  it('exits 0 and reports no problems on a sound cache', async () => {
    const dir = await sampleCache();
    const r = run('verify', '--dir', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('checked 4 entries');
    expect(r.stdout).toContain('no problems found');
    expect(json('verify', '--dir', dir).data).toMatchObject({ entries: 4, problems: [], remaining: [], ok: true });
  });

  it('finds a flipped byte in a blob file, groups it under checksum and exits 1', async () => {
    const dir = await sampleCache();
    const path = await corruptBlob(dir, KEY('b'));
    const { code, data } = json('verify', '--dir', dir);
    expect(code).toBe(1);
    expect(data.ok).toBe(false);
    expect(data.problems).toEqual([{ namespace: 'default', key: KEY('b'), path, problem: 'checksum' }]);
    const human = run('verify', '--dir', dir);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/1 problem found:\n {2}checksum \(1\): checksum mismatch/);
    expect(human.stdout).toContain(KEY('b'));
    expect(human.stdout).toContain('verify --repair');
    // Without --repair nothing changes.
    expect(json('stats', '--dir', dir).data.entries).toBe(4);
  });

  it('with --repair drops the damaged entry, exits 0, and a second verify is clean', async () => {
    const dir = await sampleCache();
    const path = await corruptBlob(dir, KEY('b'));
    const repaired = json('verify', '--dir', dir, '--repair');
    expect(repaired.code).toBe(0);
    expect(repaired.data).toMatchObject({ repaired: 1, remaining: [], ok: true });
    expect(repaired.data.problems).toHaveLength(1);
    expect(existsSync(path)).toBe(false);
    const again = run('verify', '--dir', dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('checked 3 entries');
    expect(json('stats', '--dir', dir).data).toMatchObject({ entries: 3, bytes: 71_010 });
  });

  it('prints the repair and exits 0 in human mode', async () => {
    const dir = await sampleCache();
    await corruptBlob(dir, KEY('c'));
    const r = run('verify', '--dir', dir, '--repair');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('checksum (1)');
    expect(r.stdout).toContain('repaired; the cache is consistent now');
  });
});

describe('modelcache prune', () => {
  async function tenEntries(): Promise<string> {
    const dir = join(tempDir('modelcache-cli-'), 'cache');
    const tier = new DiskTier({ dir });
    for (let i = 0; i < 10; i++) {
      await tier.put(`entry${i}`, randomBytes(100_000, i + 1), { kind: 'tensor' });
      await sleep(2);
    }
    await tier.close();
    return dir;
  }

  it('evicts least recently used entries down to a decimal size (500KB) and reports what it freed', async () => {
    const dir = await tenEntries();
    const { code, data } = json('prune', '--dir', dir, '--max-bytes', '500KB');
    expect(code).toBe(0);
    expect(data).toMatchObject({ maxBytes: 500_000, evicted: 5, freedBytes: 500_000, entries: 5, bytes: 500_000 });
    const stats = json('stats', '--dir', dir).data;
    expect(stats.bytes).toBeLessThanOrEqual(500_000);
    const kept = json('ls', '--dir', dir).data.entries.map((e: { key: string }) => e.key).sort();
    expect(kept).toEqual(['entry5', 'entry6', 'entry7', 'entry8', 'entry9']);
  });

  it('accepts binary sizes (0.2MiB, 100K) and plain byte counts', async () => {
    const dir = await tenEntries();
    expect(json('prune', '--dir', dir, '--max-bytes', '0.2MiB').data).toMatchObject({ maxBytes: 209_715, entries: 2 });
    expect(json('stats', '--dir', dir).data.bytes).toBeLessThanOrEqual(209_715);
    expect(json('prune', '--dir', dir, '--max-bytes', '100K').data).toMatchObject({ maxBytes: 102_400, entries: 1, evicted: 1 });
    const r = run('prune', '--dir', dir, '--max-bytes', '0');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^evicted 1 entry, freed 97\.7 KiB; 0 entries, 0 B remain/);
    expect(json('stats', '--dir', dir).data).toMatchObject({ entries: 0, bytes: 0 });
    expect(run('prune', '--dir', dir, '--max-bytes', '1G').stdout).toMatch(/^nothing to evict/);
  });

  it('exits 2 with a one-line message naming --max-bytes for a bad or missing value', async () => {
    const dir = await tenEntries();
    for (const bad of ['lots', '5XB', '-1', '1.5']) {
      const r = run('prune', '--dir', dir, '--max-bytes', bad);
      expect(r.code, bad).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('--max-bytes');
    }
    const missing = run('prune', '--dir', dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--max-bytes');
    expect(json('stats', '--dir', dir).data.entries).toBe(10);
  });
});

describe('modelcache clear', () => {
  it('with --yes deletes every entry and every blob file', async () => {
    const dir = await sampleCache();
    const { code, data } = json('clear', '--dir', dir, '--yes');
    expect(code).toBe(0);
    expect(data).toEqual({ dir, removed: 4, freedBytes: 271_010 });
    expect(json('stats', '--dir', dir).data).toMatchObject({ entries: 0, bytes: 0 });
    expect(readdirSync(join(dir, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())).toEqual([]);
  });

  it('refuses without --yes when not interactive: exit 2, nothing deleted', async () => {
    const dir = await sampleCache();
    const r = run('clear', '--dir', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--yes');
    expect(json('stats', '--dir', dir).data.entries).toBe(4);
  });

  it('on a terminal asks first and deletes only on yes', async () => {
    const dir = await sampleCache();
    if (!hasScript) {
      expect(run('clear', '--dir', dir).code).toBe(2);
      return;
    }
    const no = runTty(['clear', '--dir', dir], 'n\n');
    expect(no.stdout).toContain(`delete all 4 entries (265 KiB) in ${dir}? [y/N]`);
    expect(no.stdout).toContain('nothing deleted');
    expect(json('stats', '--dir', dir).data.entries).toBe(4);
    const yes = runTty(['clear', '--dir', dir], 'y\n');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain('removed 4 entries');
    expect(json('stats', '--dir', dir).data.entries).toBe(0);
  });
});

describe('a missing cache directory', () => {
  it.each(['stats', 'ls', 'verify', 'prune', 'clear'])('%s exits 1 with "no cache at <dir>" and creates nothing', (cmd) => {
    const dir = join(tempDir('modelcache-cli-'), 'nope');
    const extra = cmd === 'prune' ? ['--max-bytes', '1'] : cmd === 'clear' ? ['--yes'] : [];
    const r = run(cmd, '--dir', dir, ...extra);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`modelcache: no cache at ${dir}`);
    const j = json(cmd, '--dir', dir, ...extra);
    expect(j.code).toBe(1);
    expect(j.data).toEqual({ error: `no cache at ${dir}` });
    expect(existsSync(dir)).toBe(false);
  });

  it('is also refused when the directory exists but holds no cache index', () => {
    const dir = tempDir('modelcache-cli-');
    const r = run('ls', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no cache at ${dir}`);
    expect(existsSync(join(dir, 'index'))).toBe(false);
  });
});

describe('modelcache hash', () => {
  it('prints the same digest as hashFile, and {file, bytes, hash} with --json', async () => {
    const file = join(tempDir('modelcache-cli-'), 'model.bin');
    writeFileSync(file, randomBytes(3 * 1024 * 1024 + 17, 9));
    const digest = await hashFile(file);
    const r = run('hash', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${digest}  ${file}\n`);
    const { code, data } = json('hash', file);
    expect(code).toBe(0);
    expect(data).toMatchObject({ file, bytes: 3 * 1024 * 1024 + 17, hash: digest });
  });

  it('exits 1 naming a file that does not exist', () => {
    const file = join(tempDir('modelcache-cli-'), 'absent.onnx');
    const r = run('hash', file);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`modelcache: cannot read ${file}: no such file`);
  });
});

describe('usage errors', () => {
  it('an unknown command exits 2', () => {
    const r = run('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('an unknown option or a bad --sort / --limit exits 2 naming it', async () => {
    const dir = await sampleCache();
    const cases: [string[], string][] = [
      [['ls', '--frob'], '--frob'],
      [['ls', '--sort', 'name'], '--sort'],
      [['ls', '--limit', 'zero'], '--limit'],
      [['ls', '--limit', '0'], '--limit'],
    ];
    for (const [args, named] of cases) {
      const r = run(...args, '--dir', dir);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(named);
    }
  });

  it('--help exits 0 and states the size rule of --max-bytes', () => {
    const r = run('prune', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('KB/MB/GB/TB are powers of 1000; KiB/MiB/GiB/TiB and K/M/G/T powers of 1024');
  });
});

/**
 * A cache used by several capabilities over two runs: a tensorCache module's namespace, sessions
 * and pipeline outputs (a file entry), with hits and misses in each run.
 */
async function sharedUseCache(): Promise<{ dir: string; tensorNs: string }> {
  const dir = join(tempDir('modelcache-cli-'), 'cache');
  const tensorNs = tensorNamespace('ab'.repeat(16));
  for (let run = 0; run < 2; run++) {
    const c = new Cache({ dir, maxMemoryBytes: 0 });
    for (const k of ['a', 'b', 'c']) await c.getOrCompute(KEY(k), () => randomBytes(5000, 1), { namespace: tensorNs });
    await c.getOrCompute(KEY('s'), () => randomBytes(100_000, 2), { namespace: 'session', kind: 'session' });
    await c.getOrComputeFiles(KEY('p'), () => [{ name: 'model.onnx', data: randomBytes(3000, 3) }], { namespace: 'pipeline.output', kind: 'pass-output' });
    await c.close();
  }
  return { dir, tensorNs };
}

/**
 * Every file under `dir` with its size and mtime: what a command that only looks must leave as it
 * was. LMDB's lock file aside: every reader of the index takes a slot in its reader table.
 */
function fingerprint(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f !== join('index', 'lock.mdb')).sort().map((f) => {
    const st = statSync(join(dir, f));
    return `${f} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`;
  });
}

/** Runs the CLI with `dir` read-only: a read-only bind mount in a private namespace (root), or no write permission. */
function runReadOnly(dir: string, ...args: string[]): Run {
  if (process.getuid?.() === 0) {
    const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"';
    const r = spawnSync('unshare', ['-rm', 'sh', '-c', script, 'sh', dir, process.execPath, CLI, ...args], { encoding: 'utf8', env: childEnv() });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const modes = (readdirSync(dir, { recursive: true }) as string[]).map((f) => join(dir, f)).concat(dir);
  for (const p of modes) chmodSync(p, statSync(p).isDirectory() ? 0o500 : 0o400);
  try {
    return run(...args);
  } finally {
    for (const p of modes) chmodSync(p, statSync(p).isDirectory() ? 0o700 : 0o600);
  }
}

describe('a directory used by every capability', () => {
  let dir: string;
  let tensorNs: string;
  beforeAll(async () => {
    ({ dir, tensorNs } = await sharedUseCache());
  });

  it('stats groups entries by namespace with hit rates across runs from the persistent counters', () => {
    const { code, data } = json('stats', '--dir', dir);
    expect(code).toBe(0);
    const by = Object.fromEntries(data.namespaces.map((n: { namespace: string }) => [n.namespace, n]));
    expect(by[tensorNs]).toMatchObject({ entries: 3, hits: 3, misses: 3, hitRate: 0.5 });
    expect(by.session).toMatchObject({ entries: 1, bytes: expect.any(Number), hits: 1, misses: 1, hitRate: 0.5 });
    expect(by['pipeline.output']).toMatchObject({ entries: 1, hits: 1, misses: 1 });
    expect(data).toMatchObject({ entries: 5, hits: 5, misses: 5, hitRate: 0.5 });
  });

  it('stats prints a namespace table with hit rates and a line of totals', () => {
    const { code, stdout } = run('stats', '--dir', dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^NAMESPACE\s+ENTRIES\s+SIZE\s+HITS\s+MISSES\s+HIT RATE\s+EVICTED$/m);
    expect(stdout).toMatch(/^session\s+1\s+[\d.]+ KiB\s+1\s+1\s+50%\s+0$/m);
    expect(stdout).toContain('5 hits, 5 misses across runs (hit rate 50%)');
  });

  it('ls --namespace lists only that namespace', () => {
    const { data } = json('ls', '--dir', dir, '--namespace', 'pipeline.output');
    expect(data.entries.map((e: { namespace: string; key: string; type: string }) => [e.namespace, e.key, e.type])).toEqual([['pipeline.output', KEY('p'), 'files']]);
  });

  it('verify exits 0 after clean runs', () => {
    const r = run('verify', '--dir', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('stats, ls and verify leave every file of the directory as it was (creating none)', () => {
    const before = fingerprint(dir);
    for (const cmd of ['stats', 'ls', 'verify']) expect(run(cmd, '--dir', dir).code).toBe(0);
    expect(fingerprint(dir)).toEqual(before);
  });

  it('a read-only directory can be inspected: stats, ls and verify work', () => {
    for (const cmd of ['stats', 'ls', 'verify']) {
      const r = runReadOnly(dir, cmd, '--dir', dir);
      expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
    }
    expect(runReadOnly(dir, 'stats', '--dir', dir).stdout).toContain('5 hits, 5 misses');
  });

  it('a command that writes says in one line that a read-only directory cannot be changed', () => {
    const r = runReadOnly(dir, 'prune', '--max-bytes', '0', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`cannot write to the cache at ${dir}`);
  });
});

describe('modelcache clear --namespace', () => {
  it('deletes exactly one namespace and leaves the others', async () => {
    const { dir, tensorNs } = await sharedUseCache();
    const r = json('clear', '--dir', dir, '--namespace', 'session', '--yes');
    expect(r.code).toBe(0);
    expect(r.data).toMatchObject({ namespace: 'session', removed: 1 });
    const left = json('ls', '--dir', dir).data.entries.map((e: { namespace: string }) => e.namespace).sort();
    expect(left).toEqual(['pipeline.output', tensorNs, tensorNs, tensorNs].sort());
    expect(run('verify', '--dir', dir).code).toBe(0);
  });

  it('refuses a namespace outside the grammar: exit 2 naming --namespace', async () => {
    const { dir } = await sharedUseCache();
    const r = run('clear', '--dir', dir, '--namespace', '../x', '--yes');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--namespace');
  });
});

describe('--dir ""', () => {
  it.each(['stats', 'ls', 'verify'])('%s exits 2 naming --dir, creating nothing', (cmd) => {
    const r = run(cmd, '--dir', '');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--dir');
  });
});
