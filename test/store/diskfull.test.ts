// Disk full: puts fail soft, gets keep working, puts work again once space is back. Run twice
// with the same assertions: on a real 2 MiB tmpfs (mounted in a private mount namespace of a
// child process, so nothing stays mounted) and with ENOSPC injected at the fs layer (and into
// LMDB commits) in this process. Without unshare, the first falls back to the injected variant.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import * as lib from '../../src/index.js';
import { tempDir } from '../helpers.js';
// @ts-expect-error fixture module without types
import { runDiskFullScenario } from '../fixtures/diskfull-scenario.mjs';
// @ts-expect-error fixture module without types
import { runFullOpenScenario } from '../fixtures/fullopen-scenario.mjs';

const enospc = vi.hoisted(() => ({ full: false, root: '/nonexistent' }));

function noSpace(syscall: string, path?: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}${path ? ` '${path}'` : ''}`), { code: 'ENOSPC', errno: -28, syscall });
}

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const onDevice = new Set<number>();
  const openSync = ((path: string, ...rest: unknown[]) => {
    const fd = (fs.openSync as (...a: unknown[]) => number)(path, ...rest);
    if (String(path).startsWith(enospc.root)) onDevice.add(fd);
    else onDevice.delete(fd);
    return fd;
  }) as typeof fs.openSync;
  const writeSync = ((fd: number, ...rest: unknown[]) => {
    if (enospc.full && onDevice.has(fd)) throw noSpace('write');
    return (fs.writeSync as (...a: unknown[]) => number)(fd, ...rest);
  }) as typeof fs.writeSync;
  const writeFileSync = ((path: string, ...rest: unknown[]) => {
    if (enospc.full && String(path).startsWith(enospc.root)) throw noSpace('write', path);
    return (fs.writeFileSync as (...a: unknown[]) => void)(path, ...rest);
  }) as typeof fs.writeFileSync;
  const mocked = { ...fs, openSync, writeSync, writeFileSync };
  return { ...mocked, default: mocked };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const copyFile = (async (src: string, dest: string, mode?: number) => {
    if (enospc.full && String(dest).startsWith(enospc.root)) {
      // Like a real full disk: the copy starts, then runs out of room part-way.
      await fsp.writeFile(dest, Buffer.alloc(4096));
      throw noSpace('copyfile', String(dest));
    }
    return fsp.copyFile(src, dest, mode);
  }) as typeof fsp.copyFile;
  const writeFile = (async (path: unknown, ...rest: unknown[]) => {
    if (enospc.full && String(path).startsWith(enospc.root)) throw noSpace('write', String(path));
    return (fsp.writeFile as (...a: unknown[]) => Promise<void>)(path, ...rest);
  }) as typeof fsp.writeFile;
  const mocked = { ...fsp, copyFile, writeFile };
  return { ...mocked, default: mocked };
});

// LMDB writes its pages from native code, out of reach of node:fs: a full disk shows up as a
// failed commit, which is what this injects.
vi.mock('../../src/store/disk/lmdb.js', async (importOriginal) => {
  const { failingCommits } = await import('../setup/failing-commits.js');
  return failingCommits(await importOriginal(), (path) => enospc.full && path.startsWith(enospc.root));
});

type Attempt = { value: unknown; threw: string | null };
type Observations = {
  seededReadable: boolean[];
  fullInlinePut: Attempt;
  fullCommit: Attempt;
  fullFilePut: Attempt;
  fullPutFile: Attempt;
  tierStatsDelta: Record<string, number>;
  tmpAfterFailedPuts: string[];
  fullCachePuts: Attempt[];
  fullGetOrCompute: { threw: string | null; correct: boolean };
  cacheDiskStatsDelta: Record<string, number>;
  fullSeededReads: { tier: boolean; cache: boolean }[];
  failedKeysRead: string[];
  afterTierPuts: { stored: boolean; threw: string | null; readBack: boolean }[];
  afterPutFile: { stored: boolean; readBack: boolean };
  afterCachePuts: { threw: string | null; readBack: boolean; onDisk: boolean }[];
  tierVerify: unknown[];
  cacheVerify: unknown[];
  warnings: string[];
};

const here = fileURLToPath(new URL('.', import.meta.url));
const child = join(here, '..', 'fixtures', 'diskfull-child.mjs');

/** True when this machine lets an unprivileged child mount a tmpfs in its own namespace. */
function canMountTmpfs(): boolean {
  const dir = tempDir('modelcache-mnt-probe-');
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=64k tmpfs "$1"', 'sh', dir], { stdio: 'ignore' });
  return r.status === 0;
}

function runOnTmpfs<T = Observations>(dir: string, scenario = 'full'): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn('unshare', ['-rm', 'sh', '-c', 'mount -t tmpfs -o size=2m tmpfs "$1" && exec "$2" "$3" "$1" "$4"', 'sh', dir, process.execPath, child, scenario], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as T);
      else reject(new Error(`disk-full child exited with ${code ?? signal}\n${out}\n${err.slice(-4000)}`));
    });
  });
}

async function runInjected<T = Observations>(root: string, scenario = runDiskFullScenario): Promise<T> {
  enospc.root = root;
  enospc.full = false;
  try {
    return (await scenario(lib, root, {
      fill: () => void (enospc.full = true),
      free: () => void (enospc.full = false),
    })) as T;
  } finally {
    enospc.full = false;
  }
}

const realTmpfs = canMountTmpfs();

describe.each([
  [realTmpfs ? 'on a full 2 MiB tmpfs' : 'on a full disk (ENOSPC injected: this machine cannot mount a tmpfs)', 'real'],
  ['with ENOSPC injected at the fs layer', 'injected'],
])('disk full %s', (_name, variant) => {
  const dir = tempDir('modelcache-diskfull-');
  let obs: Observations;
  beforeAll(async () => {
    obs = variant === 'real' && realTmpfs ? await runOnTmpfs(dir) : await runInjected(dir);
  });

  test('entries written before the disk filled are readable', () => {
    expect(obs.seededReadable).toEqual([true, true, true, true]);
  });

  test('an inline put is acknowledged without throwing, and its commit fails without throwing', () => {
    expect(obs.fullInlinePut).toEqual({ value: true, threw: null });
    expect(obs.fullCommit.threw).toBe(null);
  });

  test('a file-backed put resolves false instead of throwing', () => {
    expect(obs.fullFilePut).toEqual({ value: false, threw: null });
  });

  test('putFile resolves false instead of throwing', () => {
    expect(obs.fullPutFile).toEqual({ value: false, threw: null });
  });

  test('each refused put or failed commit is counted as rejected and as an error', () => {
    expect(obs.tierStatsDelta).toMatchObject({ puts: 0, rejected: 3 });
    expect(obs.tierStatsDelta.errors).toBeGreaterThanOrEqual(3);
  });

  test('a failed put leaves no partial file in tmp/', () => {
    expect(obs.tmpAfterFailedPuts).toEqual([]);
  });

  test('Cache.put resolves without throwing, the failure counted in the disk tier stats', () => {
    expect(obs.fullCachePuts.map((a) => a.threw)).toEqual([null, null]);
    expect(obs.cacheDiskStatsDelta.rejected).toBeGreaterThanOrEqual(2);
    expect(obs.cacheDiskStatsDelta.errors).toBeGreaterThanOrEqual(2);
  });

  test('Cache.getOrCompute returns the computed value', () => {
    expect(obs.fullGetOrCompute).toEqual({ threw: null, correct: true });
  });

  test('gets of existing inline and file-backed entries keep working', () => {
    expect(obs.fullSeededReads).toEqual(Array(4).fill({ tier: true, cache: true }));
  });

  test('a key whose put failed reads as a miss, never as a partial value', () => {
    expect(obs.failedKeysRead).toEqual(['miss', 'miss', 'miss', 'miss']);
  });

  test('after space is freed, inline and file-backed puts work again', () => {
    expect(obs.afterTierPuts).toEqual([
      { stored: true, threw: null, readBack: true },
      { stored: true, threw: null, readBack: true },
    ]);
    expect(obs.afterPutFile).toEqual({ stored: true, readBack: true });
  });

  test('after space is freed, Cache.put stores on disk again', () => {
    expect(obs.afterCachePuts).toEqual([
      { threw: null, readBack: true, onDisk: true },
      { threw: null, readBack: true, onDisk: true },
    ]);
  });

  test('the index is consistent afterwards (verify finds nothing)', () => {
    expect(obs.tierVerify).toEqual([]);
    expect(obs.cacheVerify).toEqual([]);
  });

  test('the failures were reported as warnings', () => {
    expect(obs.warnings.some((w) => w.startsWith('ERR_TIER'))).toBe(true);
  });
});

type OpenObservations = {
  open: { threw: string | null };
  stats: { code: string | null; name: string; namesDir: boolean };
  put: { value: unknown; threw: string | null };
  flush: { threw: string | null };
  getAfterFailedCommit: { threw: string | null; miss: boolean };
  close: { threw: string | null };
  cacheCompute: { threw: string | null; correct: boolean };
  cachePut: string | null;
  cacheClose: string | null;
  warningCodes: string[];
  afterFree: { readBack: boolean; problems: unknown[] };
};

describe.each([
  [realTmpfs ? 'on a full 2 MiB tmpfs (LMDB maps and writes its lock file: SIGBUS before)' : 'on a full disk (ENOSPC injected: this machine cannot mount a tmpfs)', 'real'],
  ['with ENOSPC injected at the fs layer', 'injected'],
])('opening a cache %s', (_name, variant) => {
  const dir = tempDir('modelcache-fullopen-');
  let obs: OpenObservations;
  beforeAll(async () => {
    obs = variant === 'real' && realTmpfs ? await runOnTmpfs<OpenObservations>(dir, 'open') : await runInjected<OpenObservations>(dir, runFullOpenScenario);
  });

  test('the tier opens without throwing, and its index is a CacheError ERR_NO_SPACE naming the directory', () => {
    expect(obs.open.threw).toBe(null);
    expect(obs.stats).toEqual({ code: 'ERR_NO_SPACE', name: 'CacheError', namesDir: true });
  });

  test('a put is acknowledged, its commit fails softly, and the key reads as a miss', () => {
    expect(obs.put).toMatchObject({ value: true, threw: null });
    expect(obs.flush.threw).toBe(null);
    expect(obs.getAfterFailedCommit).toEqual({ threw: null, miss: true });
    expect(obs.close.threw).toBe(null);
  });

  test('a Cache degrades to uncached work: getOrCompute returns the computed value, put and close resolve', () => {
    expect(obs.cacheCompute).toEqual({ threw: null, correct: true });
    expect(obs.cachePut).toBe(null);
    expect(obs.cacheClose).toBe(null);
  });

  test('the failure is warned about as ERR_NO_SPACE', () => {
    expect(obs.warningCodes).toContain('ERR_NO_SPACE');
  });

  test('once space is back, the same directory opens and stores', () => {
    expect(obs.afterFree).toEqual({ readBack: true, problems: [] });
  });
});
