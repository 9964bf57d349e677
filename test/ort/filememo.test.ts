import { openSync, writeSync, closeSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FileMemo } from '../../src/ort/filememo.js';
import { closeSessionStores, sessionStore, type SessionStore } from '../../src/ort/store.js';
import * as hashModule from '../../src/hash.js';
import { randomBytes } from '../helpers.js';
import { dirs } from './helpers.js';

vi.mock(import('../../src/hash.js'), async (importOriginal) => {
  const orig = await importOriginal();
  return { ...orig, hashFile: vi.fn(orig.hashFile) };
});

const newDir = dirs('modelcache-memo-');
afterAll(() => closeSessionStores());

/** A file with its memo, older than the "racily clean" window. */
async function setup(): Promise<{ memo: FileMemo; file: string; store: SessionStore }> {
  const dir = newDir();
  const store = sessionStore({ dir: join(dir, 'cache'), cache: undefined, shared: undefined, mode: 'speed', format: 'auto', encryption: undefined, maxBytes: undefined, wait: false });
  const file = join(dir, 'model.bin');
  writeFileSync(file, randomBytes(300_000, 5));
  const past = new Date(Date.now() - 60_000);
  utimesSync(file, past, past);
  await settle();
  return { memo: new FileMemo(store), file, store };
}

const hashFile = vi.mocked(hashModule.hashFile);

async function listMemo(cache: import('../../src/cache.js').Cache): Promise<string[]> {
  const keys: string[] = [];
  for await (const e of cache.entries('ort.memo')) keys.push(e.key);
  return keys;
}

/** Waits past the racy window (ctime moves with every write and utimes). */
const settle = () => new Promise((r) => setTimeout(r, 150));

/** Overwrites one byte in place: same size, same inode. */
function poke(file: string, offset: number, value: number): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([value]), 0, 1, offset);
  closeSync(fd);
}

describe('FileMemo', () => {
  it('keeps its records as file entries of namespace ort.memo, read without opening the index', async () => {
    const { memo, file, store } = await setup();
    await memo.facts(file);
    await store.settled();
    const cache = await store.cache();
    expect(await cache.count('ort.memo')).toEqual({ disk: 1 });
    expect(store.peek('ort.memo', [...(await listMemo(cache))][0])).toMatchObject({ entry: { kind: 'ort-memo', meta: { size: 300_000 } } });
  });

  it('hashes a file once and answers from the memo while it is unchanged', async () => {
    const { memo, file, store } = await setup();
    hashFile.mockClear();
    const a = await memo.facts(file);
    expect(a.memo).toBe(false);
    await store.settled();
    const b = await memo.facts(file);
    expect(b).toMatchObject({ memo: true, hash: a.hash, size: 300_000 });
    expect(hashFile.mock.calls.filter((c) => c[0] === file)).toHaveLength(1);
  });

  it('re-hashes a file whose content changed in place at the same size', async () => {
    const { memo, file, store } = await setup();
    const a = await memo.facts(file);
    await store.settled();
    poke(file, 1234, 0xee ^ randomBytes(300_000, 5)[1234]);
    await settle();
    const b = await memo.facts(file);
    expect(b.memo).toBe(false);
    expect(b.hash).not.toBe(a.hash);
  });

  it('re-hashes a file whose mtime was put back after a change (ctime still moved)', async () => {
    const { memo, file, store } = await setup();
    const a = await memo.facts(file);
    await store.settled();
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
    const { memo, file, store } = await setup();
    utimesSync(file, new Date(), new Date());
    await memo.facts(file);
    await store.settled();
    expect((await memo.facts(file)).memo).toBe(false);
  });

  it('keeps derived facts beside the hash, per purpose', async () => {
    const { memo, file, store } = await setup();
    const derive = vi.fn(() => ({ external: ['a.data'] }));
    const a = await memo.facts(file, 'onnx-model', derive);
    await store.settled();
    const b = await memo.facts(file, 'onnx-model', derive);
    expect(b.extra).toEqual({ external: ['a.data'] });
    expect(a.hash).toBe(b.hash);
    expect(derive).toHaveBeenCalledTimes(1);
  });

  it('remembers that an immutable file was verified until its stat changes', async () => {
    const { memo, file, store } = await setup();
    expect(memo.isVerified(file)).toBe(false);
    memo.markVerified(file);
    await store.settled();
    expect(memo.isVerified(file)).toBe(true);
    poke(file, 0, 0);
    expect(memo.isVerified(file)).toBe(false);
  });
});
