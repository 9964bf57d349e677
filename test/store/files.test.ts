// File entries: named files stored together (content-addressed folders on disk, found from the
// key through a head file), verified on read, mappable, encrypted like values, and evicted by the
// same LRU as byte values.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes as cryptoRandom } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache, DiskTier, setLogger } from '../../src/index.js';
import { randomBytes, tempDir } from '../helpers.js';

const K = (s: string) => s.padEnd(32, '0');
const root = tempDir('modelcache-files-');
let n = 0;
const newDir = () => join(root, `d${n++}`);

/** Writes `files` (name -> bytes) under a fresh folder outside any cache; returns its path. */
function sourceFolder(files: Record<string, Buffer>): string {
  const dir = newDir();
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  return dir;
}

afterEach(() => setLogger(undefined));

describe('file entries in the disk tier', () => {
  it('round trip named files, folders included, under their names in one folder (mode 0600)', async () => {
    const t = new DiskTier({ dir: newDir() });
    const src = sourceFolder({ 'model.onnx': randomBytes(70_000, 1), 'data/weights.bin': randomBytes(90_000, 2) });
    const ok = await t.putFiles(K('m'), [
      { name: 'model.onnx', path: join(src, 'model.onnx') },
      { name: 'data/weights.bin', path: join(src, 'data/weights.bin') },
      { name: 'config.json', data: Buffer.from('{"a":1}') },
    ], { namespace: 'pipeline.output', kind: 'pass-output', meta: { pass: 'opt' } });
    expect(ok).toBe(true);
    await t.flush();
    const e = (await t.getFiles(K('m'), 'pipeline.output'))!;
    expect(e).toMatchObject({ namespace: 'pipeline.output', key: K('m'), kind: 'pass-output', meta: { pass: 'opt' }, size: 160_007, encrypted: false });
    expect(e.files.map((f) => f.name)).toEqual(['config.json', 'data/weights.bin', 'model.onnx']);
    expect(readFileSync(join(e.dir, 'data/weights.bin')).equals(randomBytes(90_000, 2))).toBe(true);
    expect(readFileSync(join(e.dir, 'config.json'), 'utf8')).toBe('{"a":1}');
    for (const f of e.files) expect(statSync(f.path).mode & 0o777).toBe(0o600);
    expect(existsSync(join(src, 'model.onnx'))).toBe(true); // copied, not moved
    await t.close();
  });

  it('moves the caller\'s own work files in with move: true', async () => {
    const t = new DiskTier({ dir: newDir() });
    const work = t.workPath('.onnx');
    writeFileSync(work, randomBytes(10_000, 3));
    expect(await t.putFiles(K('w'), [{ name: 'model.ort', path: work, move: true }])).toBe(true);
    expect(existsSync(work)).toBe(false);
    await t.flush();
    expect(readFileSync((await t.getFiles(K('w')))!.files[0].path).equals(randomBytes(10_000, 3))).toBe(true);
    await t.close();
  });

  it('stores identical files of two entries once, and deleting one entry keeps the other whole', async () => {
    const t = new DiskTier({ dir: newDir() });
    const files = [{ name: 'a.bin', data: randomBytes(5000, 4) }];
    await t.putFiles(K('one'), files);
    await t.putFiles(K('two'), files);
    await t.flush();
    const [a, b] = [(await t.getFiles(K('one')))!, (await t.getFiles(K('two')))!];
    expect(a.dir).toBe(b.dir);
    expect(t.delete(K('one'))).toBe(true);
    await t.flush();
    expect(await t.getFiles(K('one'))).toBeUndefined();
    expect(readFileSync((await t.getFiles(K('two')))!.files[0].path).equals(randomBytes(5000, 4))).toBe(true);
    expect((await t.verify()).problems).toEqual([]);
    await t.close();
  });

  it('reports a damaged file as a miss, drops the entry and removes its folder', async () => {
    const warnings: string[] = [];
    setLogger({ warn: (m, code) => warnings.push(code), debug: () => {} });
    const t = new DiskTier({ dir: newDir() });
    await t.putFiles(K('d'), [{ name: 'x.bin', data: randomBytes(20_000, 5) }]);
    await t.flush();
    const e = (await t.getFiles(K('d')))!;
    const damaged = Buffer.from(readFileSync(e.files[0].path));
    damaged[100] ^= 0xff;
    writeFileSync(e.files[0].path, damaged);
    expect(await t.getFiles(K('d'), undefined, { verify: false })).toBeDefined(); // size unchanged: only a hash finds it
    expect(await t.getFiles(K('d'))).toBeUndefined();
    expect(warnings).toContain('ERR_CORRUPT');
    expect(t.has(K('d'))).toBe(false);
    expect(existsSync(e.dir)).toBe(false);
    expect((await t.verify()).problems).toEqual([]);
    await t.close();
  });

  it('is found by verify when a file is damaged, and repaired', async () => {
    const t = new DiskTier({ dir: newDir() });
    await t.putFiles(K('v'), [{ name: 'x.bin', data: randomBytes(20_000, 6) }]);
    await t.flush();
    const e = (await t.getFiles(K('v')))!;
    writeFileSync(e.files[0].path, randomBytes(20_000, 7));
    const report = await t.verify({ repair: true });
    expect(report.problems.map((p) => `${p.key}:${p.problem}`)).toEqual([`${K('v')}:checksum`]);
    expect((await t.verify()).problems).toEqual([]);
    await t.close();
  });

  it('evicts file entries and byte values by one LRU order in one directory', async () => {
    const t = new DiskTier({ dir: newDir(), maxBytes: 300_000 });
    await t.putFiles(K('files'), [{ name: 'model.ort', data: randomBytes(100_000, 8) }]);
    await t.flush();
    t.put(K('a'), randomBytes(100_000, 9));
    await t.flush();
    expect(await t.getFiles(K('files'))).toBeDefined(); // now more recent than a
    t.put(K('b'), randomBytes(90_000, 10));
    t.put(K('c'), randomBytes(90_000, 11));
    await t.flush();
    expect(t.has(K('a'))).toBe(false);
    expect(t.has(K('files'))).toBe(true);
    const dir = (await t.getFiles(K('files')))!.dir;
    t.put(K('d'), randomBytes(90_000, 12));
    t.put(K('e'), randomBytes(90_000, 13));
    t.put(K('f'), randomBytes(90_000, 14));
    await t.flush();
    await t.flush(); // the folder goes one commit after the entry
    expect(t.has(K('files'))).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(t.stats().bytes).toBeLessThanOrEqual(300_000);
    expect((await t.verify()).problems).toEqual([]);
    await t.close();
  });

  it('refuses bad file names before touching the disk', async () => {
    const t = new DiskTier({ dir: newDir() });
    await expect(t.putFiles(K('x'), [{ name: '../escape', data: Buffer.from('x') }])).rejects.toThrow(TypeError);
    await expect(t.putFiles(K('x'), [{ name: 'a', data: Buffer.from('x') }, { name: 'a/b', data: Buffer.from('y') }])).rejects.toThrow(/folder/);
    await t.close();
  });

  it('finds an entry from its head without loading lmdb', () => {
    const dir = newDir();
    const setup = `
      import { DiskTier } from ${JSON.stringify(resolve('dist/index.js'))};
      const t = new DiskTier({ dir: ${JSON.stringify(dir)} });
      await t.putFiles('${K('h')}', [{ name: 'm.ort', data: Buffer.from('model bytes') }], { namespace: 'session' });
      await t.close();`;
    expect(spawnSync(process.execPath, ['--input-type=module', '-e', setup]).status).toBe(0);
    const hit = `
      import { createRequire } from 'node:module';
      import { DiskTier } from ${JSON.stringify(resolve('dist/index.js'))};
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/lmdb/'));
      const before = loaded();
      const t = new DiskTier({ dir: ${JSON.stringify(dir)} });
      const e = t.fileEntry('${K('h')}', 'session');
      console.log(JSON.stringify({ before, found: e?.files[0].name, after: loaded() }));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', hit], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ before: false, found: 'm.ort', after: false });
  });
});

describe('file entries through a Cache', () => {
  it('map a file zero-copy and read it', async () => {
    const c = new Cache({ dir: newDir() });
    await c.putFiles(K('m'), [{ name: 'model.ort', data: randomBytes(50_000, 20) }], { namespace: 'session' });
    const e = (await c.getFiles(K('m'), { namespace: 'session' }))!;
    expect(e.location).toBe('local');
    const m = e.map('model.ort');
    expect(m.buffer.equals(randomBytes(50_000, 20))).toBe(true);
    m.close();
    expect((await e.read('model.ort')).equals(randomBytes(50_000, 20))).toBe(true);
    await c.close();
  });

  it('encrypt files with the cache\'s cipher: no plaintext on disk, read() decrypts, map() refuses', async () => {
    const dir = newDir();
    const key = cryptoRandom(32);
    const secret = Buffer.from('secret weights '.repeat(5000));
    const c = new Cache({ dir, encryption: { algorithm: 'aes-256-gcm', key } });
    await c.putFiles(K('s'), [{ name: 'w.bin', data: secret }]);
    const e = (await c.getFiles(K('s')))!;
    expect(e.encrypted).toBe(true);
    expect(readFileSync(e.files[0].path).includes(Buffer.from('secret weights'))).toBe(false);
    expect((await e.read('w.bin')).equals(secret)).toBe(true);
    expect(() => e.map('w.bin')).toThrow(/encrypted/);
    await c.close();
    const other = new Cache({ dir, encryption: { algorithm: 'aes-256-gcm', key: cryptoRandom(32) } });
    await expect((await other.getFiles(K('s')))!.read('w.bin')).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    await other.close();
  });

  it('bind encrypted files to their entry and name: the same ciphertext under another key or name does not decrypt', async () => {
    const dir = newDir();
    const c = new Cache({ dir, encryption: { algorithm: 'aes-256-gcm', key: cryptoRandom(32) } });
    await c.putFiles(K('a'), [{ name: 'w.bin', data: randomBytes(3 << 20, 31) }]);
    const stored = readFileSync((await c.getFiles(K('a')))!.files[0].path);
    // Put the ciphertext, as it is, under another key and under another name: the files hold ciphertext.
    const raw = c.disk!;
    await raw.putFiles(K('b'), [{ name: 'w.bin', data: stored }], { encrypted: true });
    await raw.putFiles(K('c'), [{ name: 'x.bin', data: stored }], { encrypted: true });
    await raw.flush();
    expect((await (await c.getFiles(K('a')))!.read('w.bin')).equals(randomBytes(3 << 20, 31))).toBe(true);
    await expect((await c.getFiles(K('b')))!.read('w.bin')).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    await expect((await c.getFiles(K('c')))!.read('x.bin')).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    await c.close();
  });

  it('computes a file entry once, from files written into a fresh folder', async () => {
    const c = new Cache({ dir: newDir() });
    let calls = 0;
    const compute = (dir: string) => {
      calls++;
      mkdirSync(join(dir, 'sub'));
      writeFileSync(join(dir, 'model.onnx'), 'graph');
      writeFileSync(join(dir, 'sub', 'data.bin'), 'weights');
    };
    const first = await c.getOrComputeFiles(K('c'), compute, { namespace: 'pipeline.output' });
    const second = await c.getOrComputeFiles(K('c'), compute, { namespace: 'pipeline.output' });
    expect(calls).toBe(1);
    expect(second.dir).toBe(first.dir);
    expect(readFileSync(join(second.dir!, 'sub', 'data.bin'), 'utf8')).toBe('weights');
    expect(readdirSync(join(c.disk!.dir, 'tmp')).filter((f) => !f.endsWith('.open'))).toEqual([]);
    await c.close();
  });
});
