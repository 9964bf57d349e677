import { openSync, writeSync, closeSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { DiskTier } from '../../src/store/disk/tier.js';
import { FileMemo } from '../../src/ort/filememo.js';
import * as hashModule from '../../src/hash.js';
import { randomBytes } from '../helpers.js';
import { dirs } from './helpers.js';

vi.mock(import('../../src/hash.js'), async (importOriginal) => {
  const orig = await importOriginal();
  return { ...orig, hashFile: vi.fn(orig.hashFile) };
});

const newDir = dirs('modelcache-memo-');
const tiers: DiskTier[] = [];
afterAll(async () => {
  for (const t of tiers) await t.close();
});

/** A file with its memo, older than the "racily clean" window. */
async function setup(): Promise<{ memo: FileMemo; file: string }> {
  const dir = newDir();
  const disk = new DiskTier({ dir: join(dir, 'cache') });
  tiers.push(disk);
  const file = join(dir, 'model.bin');
  writeFileSync(file, randomBytes(300_000, 5));
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
  await settle();
  return { memo: new FileMemo(disk), file };
}

const hashFile = vi.mocked(hashModule.hashFile);

/** Waits past the racy window (ctime moves with every write and utimes). */
const settle = () => new Promise((r) => setTimeout(r, 150));

/** Overwrites one byte in place: same size, same inode. */
function poke(file: string, offset: number, value: number): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([value]), 0, 1, offset);
  closeSync(fd);
}

describe('FileMemo', () => {
  it('hashes a file once and answers from the memo while it is unchanged', async () => {
    const { memo, file } = await setup();
    hashFile.mockClear();
    const a = await memo.facts(file);
    expect(a.memo).toBe(false);
    const b = await memo.facts(file);
    expect(b).toMatchObject({ memo: true, hash: a.hash, size: 300_000 });
    expect(hashFile).toHaveBeenCalledTimes(1);
  });

  it('re-hashes a file whose content changed in place at the same size', async () => {
    const { memo, file } = await setup();
    const a = await memo.facts(file);
    poke(file, 1234, 0xee ^ randomBytes(300_000, 5)[1234]);
    await settle();
    const b = await memo.facts(file);
    expect(b.memo).toBe(false);
    expect(b.hash).not.toBe(a.hash);
  });

  it('re-hashes a file whose mtime was put back after a change (ctime still moved)', async () => {
    const { memo, file } = await setup();
    const a = await memo.facts(file);
    const { atime, mtime } = statSync(file);
    await new Promise((r) => setTimeout(r, 20));
    poke(file, 10, 0x01 ^ randomBytes(300_000, 5)[10]);
    utimesSync(file, atime, mtime);
    await settle();
    const b = await memo.facts(file);
    expect(b.memo).toBe(false);
    expect(b.hash).not.toBe(a.hash);
  });

  it('does not remember the hash of a file modified moments ago (it may change again within its timestamp tick)', async () => {
    const { memo, file } = await setup();
    utimesSync(file, new Date(), new Date());
    await memo.facts(file);
    expect((await memo.facts(file)).memo).toBe(false);
  });

  it('keeps derived facts beside the hash, per purpose', async () => {
    const { memo, file } = await setup();
    const derive = vi.fn(() => ({ external: ['a.data'] }));
    const a = await memo.facts(file, 'onnx-model', derive);
    const b = await memo.facts(file, 'onnx-model', derive);
    expect(b.extra).toEqual({ external: ['a.data'] });
    expect(a.hash).toBe(b.hash);
    expect(derive).toHaveBeenCalledTimes(1);
  });

  it('remembers that an immutable file was verified until its stat changes', async () => {
    const { memo, file } = await setup();
    expect(memo.isVerified(file)).toBe(false);
    await memo.markVerified(file);
    expect(memo.isVerified(file)).toBe(true);
    poke(file, 0, 0);
    expect(memo.isVerified(file)).toBe(false);
  });
});
