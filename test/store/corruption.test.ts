// Damaged entries: a flipped byte, a truncated or a deleted file under blobs/, and a damaged
// inline value inside the LMDB index. Each is detected on read, dropped, counted, reported as a
// miss, and through Cache.getOrCompute the caller recomputes and gets the right value.
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, readSync, writeSync, fstatSync, truncateSync, unlinkSync, existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { open as openLmdb } from 'lmdb';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Cache, DiskTier, setLogger } from '../../src/index.js';
import { tempDir } from '../helpers.js';
// @ts-expect-error fixture module without types
import { keyAt, makeValue } from '../fixtures/values.mjs';

const root = tempDir('modelcache-corruption-');
let n = 0;

const INLINE_SIZE = 4 * 1024;
const FILE_SIZE = 200 * 1024;

/** Flips one byte in the middle of a file, in place. */
function flipByte(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    const at = Math.floor(fstatSync(fd).size / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] ^= 0x5a;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** The path of a file-backed entry, through the public API (unverified, so nothing is dropped). */
async function blobPath(dir: string, key: string): Promise<string> {
  const t = new DiskTier({ dir });
  try {
    const f = await t.getFile(key, { verify: false });
    if (!f) throw new Error(`${key} is not a file-backed entry`);
    return f.path;
  } finally {
    await t.close();
  }
}

/** Flips a byte of an inline value inside the LMDB index (the record's last bytes), keeping the rest of the record. */
async function damageInlineValue(dir: string, key: string): Promise<void> {
  const env = openLmdb({ path: join(dir, 'index'), encoding: 'binary' });
  const k = ['e', 'default', key] as never;
  const v = env.getBinary(k);
  if (!v) throw new Error(`${key} has no inline value`);
  const damaged = Buffer.from(v);
  damaged[damaged.length - 10] ^= 0x5a;
  env.putSync(k, damaged);
  await env.close();
}

const damages = [
  { name: 'a flipped byte in a blobs/ file', size: FILE_SIZE, damage: async (dir: string, key: string) => flipByte(await blobPath(dir, key)) },
  { name: 'a truncated blobs/ file', size: FILE_SIZE, damage: async (dir: string, key: string) => truncateSync(await blobPath(dir, key), FILE_SIZE / 2) },
  { name: 'a deleted blobs/ file', size: FILE_SIZE, damage: async (dir: string, key: string) => unlinkSync(await blobPath(dir, key)) },
  // Hostile swaps: each must be a miss, never a read that hangs (a FIFO) or never ends (/dev/zero).
  { name: 'a blobs/ file replaced by a symlink to a FIFO', size: FILE_SIZE, damage: async (dir: string, key: string) => swap(await blobPath(dir, key), 'fifo-link') },
  { name: 'a blobs/ file replaced by a symlink to /dev/zero', size: FILE_SIZE, damage: async (dir: string, key: string) => swap(await blobPath(dir, key), 'zero-link') },
  { name: 'a blobs/ file replaced by a FIFO', size: FILE_SIZE, damage: async (dir: string, key: string) => swap(await blobPath(dir, key), 'fifo') },
  { name: 'a damaged inline value', size: INLINE_SIZE, damage: damageInlineValue },
];
const fileDamages = damages.filter((d) => d.size === FILE_SIZE);

/** Puts something else where a blob file was. */
function swap(path: string, what: 'fifo' | 'fifo-link' | 'zero-link'): void {
  unlinkSync(path);
  if (what === 'zero-link') return symlinkSync('/dev/zero', path);
  const fifo = what === 'fifo' ? path : join(root, `fifo-${n++}`);
  execFileSync('mkfifo', [fifo]);
  if (what === 'fifo-link') symlinkSync(fifo, path);
}

const target = keyAt(500);
const neighbour = keyAt(501);

/**
 * A fresh cache dir holding `target` (damaged) and an intact `neighbour`, written through
 * `write` (a DiskTier, or a Cache whose disk frames are what gets damaged).
 */
async function prepare(size: number, damage: (dir: string, key: string) => Promise<void>, through: 'tier' | 'cache') {
  const dir = join(root, `c${n++}`);
  const value = makeValue(target, 1, size) as Buffer;
  const other = makeValue(neighbour, 1, size) as Buffer;
  if (through === 'tier') {
    const t = new DiskTier({ dir });
    await t.put(target, value);
    await t.put(neighbour, other);
    await t.close();
  } else {
    const c = new Cache({ dir, maxMemoryBytes: 0, compression: 'zstd' });
    await c.put(target, value);
    await c.put(neighbour, other);
    await c.close();
  }
  await damage(dir, target);
  return { dir, value, other };
}

function quietly(): string[] {
  const warnings: string[] = [];
  setLogger({ warn: (m, code) => warnings.push(`${code}: ${m}`), debug: () => {} });
  return warnings;
}

afterEach(() => setLogger(undefined));

describe.each(damages)('$name', ({ size, damage }) => {
  test('is reported by get as a miss', async () => {
    const { dir } = await prepare(size, damage, 'tier');
    const t = new DiskTier({ dir });
    quietly();
    expect(await t.get(target)).toBeUndefined();
    expect(t.stats()).toMatchObject({ hits: 0, misses: 1 });
    await t.close();
  });

  test('is counted in stats().corrupt, with a warning', async () => {
    const { dir } = await prepare(size, damage, 'tier');
    const t = new DiskTier({ dir });
    const warnings = quietly();
    await t.get(target);
    expect(t.stats().corrupt).toBe(1);
    expect(warnings.filter((w) => w.startsWith('ERR_CORRUPT'))).toHaveLength(1);
    await t.close();
  });

  test('is dropped: has() turns false, the index no longer lists it, its totals are gone', async () => {
    const { dir, value } = await prepare(size, damage, 'tier');
    const t = new DiskTier({ dir });
    quietly();
    const before = t.stats().bytes;
    await t.get(target);
    await vi.waitFor(() => expect(t.has(target)).toBe(false));
    expect([...t.list()].map((e) => e.key)).toEqual([neighbour]);
    expect(t.stats()).toMatchObject({ entries: 1, bytes: before - value.length });
    expect((await t.verify()).problems).toEqual([]);
    await t.close();
  });

  test('leaves the other entries readable', async () => {
    const { dir, other } = await prepare(size, damage, 'tier');
    const t = new DiskTier({ dir });
    quietly();
    await t.get(target);
    expect(Buffer.from((await t.get(neighbour))!).equals(other)).toBe(true);
    await t.close();
  });

  test('is found by verify() and dropped by verify({ repair: true })', async () => {
    const { dir } = await prepare(size, damage, 'tier');
    const t = new DiskTier({ dir });
    const found = await t.verify({ repair: true });
    expect(found.problems.map((p) => p.key)).toEqual([target]);
    expect(t.has(target)).toBe(false);
    expect((await t.verify()).problems).toEqual([]);
    await t.close();
  });

  test('through Cache.getOrCompute, the caller recomputes and gets the right value', async () => {
    const { dir, value } = await prepare(size, damage, 'cache');
    const c = new Cache({ dir, maxMemoryBytes: 0, compression: 'zstd' });
    quietly();
    let calls = 0;
    const got = await c.getOrCompute(target, () => {
      calls++;
      return value;
    });
    expect(calls).toBe(1);
    expect(got.equals(value)).toBe(true);
    expect(c.stats().tiers.disk.corrupt).toBe(1);
    await c.flush();
    // The recomputed value replaced the damaged entry on disk.
    expect((await c.get(target))!.equals(value)).toBe(true);
    expect((await c.disk!.verify()).problems).toEqual([]);
    await c.close();
  });
});

describe.each(fileDamages)('$name, read with getFile', ({ size, damage }) => {
  test.each([{ map: false }, { map: true }])('getFile(%o) reports a miss, counts and drops the entry', async (opts) => {
    const { dir } = await prepare(size, damage, 'tier');
    const path = await blobPath(dir, neighbour);
    const t = new DiskTier({ dir });
    quietly();
    expect(await t.getFile(target, opts)).toBeUndefined();
    expect(t.stats().corrupt).toBe(1);
    await vi.waitFor(() => expect(t.has(target)).toBe(false));
    const f = await t.getFile(neighbour, opts);
    f?.mapped?.close();
    expect(f?.path).toBe(path);
    expect(existsSync(path)).toBe(true);
    await t.close();
  });
});
