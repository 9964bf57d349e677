// Hostile paths and bytes around a disk tier: a caller's file is never taken for the cache's own
// work file by its name, tampered index records and heads name no path outside the cache, and no
// key of the grammar's edge cases reaches a path. The cache never harms what is outside it.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { AzureBlobTier, Cache, CacheError, DiskTier, MemoryTier, setLogger, type Tier } from '../../src/index.js';
import { randomBytes, tempDir } from '../helpers.js';

const K = (s: string) => s.padEnd(32, '0');
const root = tempDir('modelcache-hostile-');
let n = 0;
const newDir = () => join(root, `d${n++}`);

afterEach(() => setLogger(undefined));

/** A file outside every cache that nothing may touch. */
function victim(): { path: string; intact(): boolean } {
  const path = join(newDir(), 'victim.bin');
  mkdirSync(join(path, '..'), { recursive: true });
  const bytes = randomBytes(5000, 99);
  writeFileSync(path, bytes);
  return { path, intact: () => existsSync(path) && readFileSync(path).equals(bytes) };
}

describe('a caller\'s file given to putFile', () => {
  it('is copied when its folder only starts like tmp/ (<dir>/tmp-models/m.onnx): the caller keeps it', async () => {
    const dir = newDir();
    const t = new DiskTier({ dir });
    mkdirSync(join(dir, 'tmp-models'));
    const mine = join(dir, 'tmp-models', 'm.onnx');
    writeFileSync(mine, randomBytes(100_000, 1));
    expect(await t.putFile(K('a'), mine)).toBe(true);
    expect(readFileSync(mine).equals(randomBytes(100_000, 1))).toBe(true);
    await t.close();
  });

  it('is copied when its path only passes through tmp/ (<dir>/tmp/../m.onnx)', async () => {
    const dir = newDir();
    const t = new DiskTier({ dir });
    const mine = join(dir, 'm.onnx');
    writeFileSync(mine, randomBytes(100_000, 2));
    expect(await t.putFile(K('a'), `${dir}/tmp/../m.onnx`)).toBe(true);
    expect(existsSync(mine)).toBe(true);
    await t.close();
  });

  it('is copied, not moved, when it is a link placed in tmp/: the entry is a regular file and the target stays', async () => {
    const dir = newDir();
    const t = new DiskTier({ dir });
    const v = victim();
    const link = t.workPath('.onnx');
    symlinkSync(v.path, link);
    expect(await t.putFile(K('a'), link)).toBe(true);
    const f = (await t.getFile(K('a')))!;
    expect(lstatSync(f.path).isFile()).toBe(true);
    await t.delete(K('a'));
    await t.prune(0);
    expect(v.intact()).toBe(true);
    await t.close();
  });

  it('is moved in when it is a work file of the cache, and made 0600 even when created 0644', async () => {
    const t = new DiskTier({ dir: newDir() });
    const work = t.workPath('.onnx');
    writeFileSync(work, randomBytes(100_000, 3), { mode: 0o644 });
    chmodSync(work, 0o644);
    expect(await t.putFile(K('a'), work)).toBe(true);
    expect(existsSync(work)).toBe(false);
    expect(statSync((await t.getFile(K('a')))!.path).mode & 0o777).toBe(0o600);
    await t.close();
  });

  it('of a file entry with move: true is copied when it is a link: the entry holds a regular file and the target stays', async () => {
    const t = new DiskTier({ dir: newDir() });
    const v = victim();
    const link = t.workPath('.bin');
    symlinkSync(v.path, link);
    expect(await t.putFiles(K('f'), [{ name: 'w.bin', path: link, move: true }])).toBe(true);
    await t.flush();
    const e = (await t.getFiles(K('f')))!;
    expect(lstatSync(e.files[0].path).isFile()).toBe(true);
    await t.delete(K('f'));
    await t.prune(0);
    expect(v.intact()).toBe(true);
    await t.close();
  });
});

describe('tampered index records and heads', () => {
  it('a record whose content id is rewritten names no file outside the cache: get, delete, prune and verify --repair leave it', async () => {
    const dir = newDir();
    const v = victim();
    let t = new DiskTier({ dir });
    await t.put(K('a'), randomBytes(200_000, 4));
    await t.put(K('b'), randomBytes(200_000, 5));
    await t.close();
    const env = openLmdb({ path: join(dir, 'index'), encoding: 'binary' });
    for (const k of ['a', 'b']) {
      const rec = Buffer.from(env.getBinary(['e', 'default', K(k)] as never)!);
      Buffer.from('../../victim.bin\0\0\0\0\0\0\0\0', 'latin1').copy(rec, 20, 0, 16); // the 16 bytes of the content id
      env.putSync(['e', 'default', K(k)] as never, rec);
    }
    await env.close();
    setLogger({ warn: () => {}, debug: () => {} });
    t = new DiskTier({ dir });
    expect(await t.get(K('a'))).toBeUndefined();
    t.delete(K('b'));
    await t.prune(0);
    await t.verify({ repair: true });
    expect((await t.verify()).problems.filter((p) => p.problem !== 'orphan-file')).toEqual([]);
    await t.close();
    expect(v.intact()).toBe(true);
  });

  it('a head naming ../../victim.bin is a miss that touches nothing outside the cache', async () => {
    const dir = newDir();
    const v = victim();
    const t = new DiskTier({ dir });
    await t.putFiles(K('f'), [{ name: 'model.onnx', data: randomBytes(1000, 6) }]);
    await t.flush();
    const head = join(dir, 'heads', 'default', K('f').slice(0, 2), K('f'));
    const m = JSON.parse(readFileSync(head, 'utf8'));
    m.files[0].name = `../../../../${v.path}`;
    writeFileSync(head, JSON.stringify(m));
    setLogger({ warn: () => {}, debug: () => {} });
    expect(await t.getFiles(K('f'))).toBeUndefined();
    await t.verify({ repair: true });
    await t.prune(0);
    expect(v.intact()).toBe(true);
    await t.close();
  });
});

describe('a head whose sizes are not sizes', () => {
  it.each([1e300, -1e18, 1.5, 2 ** 53])('a file size of %d is a damaged entry: a miss, and the entry is dropped', async (size) => {
    const dir = newDir();
    const t = new DiskTier({ dir });
    await t.putFiles(K('s'), [{ name: 'model.onnx', data: randomBytes(1000, 7) }]);
    await t.flush();
    const head = join(dir, 'heads', 'default', K('s').slice(0, 2), K('s'));
    const m = JSON.parse(readFileSync(head, 'utf8'));
    m.files[0].size = size;
    m.size = size;
    writeFileSync(head, JSON.stringify(m));
    const warnings: string[] = [];
    setLogger({ warn: (msg) => warnings.push(msg), debug: () => {} });
    expect(t.fileEntry(K('s'))).toBeUndefined();
    expect(warnings.join()).toMatch(/file size|size is not/);
    expect(t.has(K('s'))).toBe(false);
    await t.close();
  });
});

/** A tier that records every call it gets (to prove a refusal happens before any tier). */
function recordingTier(): Tier & { calls: string[] } {
  const calls: string[] = [];
  const rec = (op: string) => (...args: unknown[]) => (calls.push(`${op} ${String(args[0])}`), undefined);
  return {
    calls, name: 'recording', encoded: false,
    get: rec('get'), getMany: (keys) => (calls.push(`getMany ${keys.join(',')}`), keys.map(() => undefined)),
    put: (key) => (calls.push(`put ${key}`), true), has: (key) => (calls.push(`has ${key}`), false),
    delete: (key) => (calls.push(`delete ${key}`), false), stats: () => ({ hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: 0, maxBytes: 0 }),
    close: () => {},
  } as Tier & { calls: string[] };
}

const BAD_KEYS: unknown[] = ['.', '..', '....x', '../x', 'model/v1', '', 'x'.repeat(201), 42, undefined];

describe('keys outside the grammar', () => {
  it.each(BAD_KEYS)('%j is refused by every tier\'s put before anything is written', async (key) => {
    const dir = newDir();
    const disk = new DiskTier({ dir });
    expect(() => disk.put(key as string, Buffer.from('x'))).toThrow(TypeError);
    expect(() => new MemoryTier().put(key as string, Buffer.from('x'))).toThrow(TypeError);
    const azure = new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c' });
    await expect(azure.put(key as string, Buffer.from('x'))).rejects.toThrow(TypeError);
    await disk.close();
  });

  it.each(BAD_KEYS)('%j is a TypeError of every Cache call before any tier is asked', async (key) => {
    const tier = recordingTier();
    const c = new Cache({ tiers: [tier] });
    const k = key as string;
    await expect(c.put(k, Buffer.from('x'))).rejects.toThrow(TypeError);
    await expect(c.get(k)).rejects.toThrow(TypeError);
    await expect(c.getMany([K('ok'), k])).rejects.toThrow(/keys\[1\]/);
    await expect(c.has(k)).rejects.toThrow(TypeError);
    await expect(c.delete(k)).rejects.toThrow(TypeError);
    await expect(c.getOrCompute(k, () => Buffer.from('x'))).rejects.toThrow(TypeError);
    expect(tier.calls).toEqual([]);
  });

  it('an AzureBlobTier prefix that leaves its folder (../other/) is a TypeError naming options.prefix', () => {
    expect(() => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', prefix: '../other/' })).toThrow(/options\.prefix/);
    expect(() => new AzureBlobTier({ containerUrl: 'https://acct.blob.core.windows.net/c', prefix: 'a/../../b' })).toThrow(TypeError);
  });
});

describe('a cache dir that cannot hold a cache', () => {
  it('a file is a CacheError naming options.dir', () => {
    const file = join(newDir(), 'file');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, 'x');
    expect(() => new DiskTier({ dir: file })).toThrow(CacheError);
    expect(() => new DiskTier({ dir: file })).toThrow(/options\.dir .*is a file/);
    expect(() => new Cache({ dir: file })).toThrow(/options\.dir/);
  });

  it('a path through a file is a CacheError naming options.dir', () => {
    const file = join(newDir(), 'file');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, 'x');
    expect(() => new DiskTier({ dir: join(file, 'cache') })).toThrow(/options\.dir .*a part of its path is a file/);
  });

  it('a dangling symbolic link is a CacheError naming options.dir, and nothing is created where it points', () => {
    const base = newDir();
    mkdirSync(base, { recursive: true });
    const link = join(base, 'link');
    symlinkSync(join(base, 'nowhere'), link);
    expect(() => new DiskTier({ dir: link })).toThrow(/options\.dir .*symbolic link to nothing/);
    expect(existsSync(join(base, 'nowhere'))).toBe(false);
  });
});
