import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes as cryptoRandom } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Cache, compressAsync, DiskTier, MemoryTier, setLogger, type Tier } from '../src/index.js';
import { floatSignal, randomBytes, tempDir } from './helpers.js';

const K = (s: string) => s.padEnd(32, '0');

describe('Cache', () => {
  const root = tempDir();
  let n = 0;
  const dir = () => join(root, `c${n++}`);

  it('round trips raw bytes through memory and disk with compression applied once', async () => {
    const c = new Cache({ dir: dir(), compression: { codec: 'zstd', level: 1 } });
    const v = Buffer.from(floatSignal(50_000).buffer);
    await c.put(K('a'), v, { elementSize: 4 });
    expect((await c.get(K('a')))!.equals(v)).toBe(true);
    const disk = c.disk!;
    expect(disk.stats().bytes).toBeLessThan(v.byteLength); // stored compressed
    await c.close();
  });

  it('reads through to disk and promotes the hit to memory', async () => {
    const d = dir();
    const a = new Cache({ dir: d });
    await a.put(K('b'), Buffer.from('persisted'));
    await a.close();
    const b = new Cache({ dir: d });
    expect((await b.get(K('b')))!.toString()).toBe('persisted');
    expect(b.stats().tiers.memory.entries).toBe(1);
    expect(b.stats().tiers.memory.hits).toBe(0);
    expect((await b.get(K('b')))!.toString()).toBe('persisted');
    expect(b.stats().tiers.memory.hits).toBe(1);
    await b.close();
  });

  it('returns values the caller can mutate without changing the cache', async () => {
    const c = new Cache({ dir: false });
    await c.put(K('c'), Buffer.from('abc'));
    const v = (await c.get(K('c')))!;
    v.fill(0);
    expect((await c.get(K('c')))!.toString()).toBe('abc');
    await c.close();
  });

  it('encrypts what it stores on disk so the bytes cannot be read without the key', async () => {
    const d = dir();
    const key = cryptoRandom(32);
    const secret = Buffer.from('top secret weights '.repeat(10_000));
    const c = new Cache({ dir: d, maxMemoryBytes: 0, encryption: { algorithm: 'aes-256-gcm', key } });
    await c.put(K('d'), secret);
    await c.close();
    for (const f of listFiles(join(d))) expect(readFileSync(f).includes(Buffer.from('top secret'))).toBe(false);
    const wrong = new Cache({ dir: d, maxMemoryBytes: 0, encryption: { algorithm: 'aes-256-gcm', key: cryptoRandom(32) } });
    expect(await wrong.get(K('d'))).toBeUndefined();
    expect(wrong.stats().corrupt).toBe(1);
    await wrong.close();
  });

  it('works with user encryption callbacks', async () => {
    const xorAll = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
    const c = new Cache({ dir: dir(), maxMemoryBytes: 0, encryption: { encrypt: xorAll, decrypt: xorAll } });
    await c.put(K('e'), Buffer.from('hello'));
    expect((await c.get(K('e')))!.toString()).toBe('hello');
    await c.close();
  });

  it('degrades a throwing tier to a miss, counts it, and still completes the caller\'s work', async () => {
    const broken: Tier = {
      name: 'broken', encoded: true,
      get() { throw new Error('disk on fire'); }, getMany() { throw new Error('x'); },
      put() { throw new Error('disk on fire'); }, has() { throw new Error('x'); },
      delete() { throw new Error('x'); }, clear() {}, close() {},
      stats: () => ({ hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: 0, maxBytes: 0 }),
    };
    const c = new Cache({ tiers: [new MemoryTier({ maxBytes: 0 }), broken] });
    const v = await c.getOrCompute(K('f'), () => Buffer.from('computed'));
    expect(v.toString()).toBe('computed');
    expect(c.stats().errors).toBeGreaterThanOrEqual(2);
    await c.close();
  });

  it('computes a key once for concurrent getOrCompute calls', async () => {
    const c = new Cache({ dir: false });
    let calls = 0;
    const compute = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return Buffer.from('once');
    };
    const results = await Promise.all([1, 2, 3, 4].map(() => c.getOrCompute(K('g'), compute)));
    expect(calls).toBe(1);
    expect(results.map((r) => r.toString())).toEqual(['once', 'once', 'once', 'once']);
    results[0].fill(0);
    expect(results[1].toString()).toBe('once');
    await c.close();
  });

  it('drops an undecodable disk entry and reports a miss', async () => {
    const d = dir();
    const disk = new DiskTier({ dir: d });
    await disk.put(K('h'), Buffer.from('not a frame at all'));
    const c = new Cache({ tiers: [disk] });
    expect(await c.get(K('h'))).toBeUndefined();
    await c.flush();
    expect(disk.has(K('h'))).toBe(false);
    expect(c.stats().corrupt).toBe(1);
    await c.close();
  });

  it('validates options with messages that name them', () => {
    expect(() => new Cache({ compression: 'gzip' as never })).toThrow(/options\.compression/);
    expect(() => new Cache({ compression: { codec: 'zstd', level: 99 } })).toThrow(/level/);
    expect(() => new Cache({ maxMemoryBytes: -5, dir: false })).toThrow(/options\.maxMemoryBytes/);
    expect(() => new Cache({ encryption: { algorithm: 'aes-256-gcm', key: Buffer.alloc(3) } })).toThrow(/options\.encryption\.key/);
  });

  it('large values round trip off the main thread', async () => {
    const c = new Cache({ dir: dir(), maxMemoryBytes: 0 });
    const v = randomBytes(3 << 20, 3);
    await c.put(K('i'), v);
    expect((await c.get(K('i')))!.equals(v)).toBe(true);
    await c.close();
  });
});

/** A stand-in shared tier: a Map of `ns/key` to the bytes it was given, open to tampering. */
function standInShared(): Tier & { blobs: Map<string, Buffer> } {
  const blobs = new Map<string, Buffer>();
  const id = (key: string, ns = 'default') => `${ns}/${key}`;
  return {
    blobs, name: 'stand-in', encoded: true, shared: true,
    get: (key, ns) => blobs.get(id(key, ns)),
    getMany: (keys, ns) => keys.map((k) => blobs.get(id(k, ns))),
    put: (key, value, meta) => (blobs.set(id(key, meta?.namespace), Buffer.from(value)), true),
    has: (key, ns) => blobs.has(id(key, ns)),
    delete: (key, ns) => blobs.delete(id(key, ns)),
    stats: () => ({ hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: blobs.size, maxBytes: 0 }),
    close: () => {},
  };
}

function captured(): string[] {
  const warnings: string[] = [];
  setLogger({ warn: (m, code) => warnings.push(`${code}: ${m}`), debug: () => {} });
  return warnings;
}

describe('what a shared tier hands back, as hostile bytes', () => {
  afterEach(() => setLogger(undefined));
  const aes = { algorithm: 'aes-256-gcm' as const, key: cryptoRandom(32) };

  it('an AES-GCM value copied from key K1 onto key K2 reads as a miss, and K1 still reads', async () => {
    const shared = standInShared();
    const writer = new Cache({ dir: false, encryption: aes, shared });
    await writer.put(K('k1'), Buffer.from('the value of K1'));
    await writer.flush();
    shared.blobs.set(`default/${K('k2')}`, shared.blobs.get(`default/${K('k1')}`)!);
    const warnings = captured();
    const reader = new Cache({ dir: false, encryption: aes, shared });
    expect(await reader.get(K('k2'))).toBeUndefined();
    expect(warnings.some((w) => w.startsWith('ERR_DECRYPT'))).toBe(true);
    expect((await reader.get(K('k1')))!.toString()).toBe('the value of K1');
  });

  it('an AES-GCM value copied into another namespace under the same key reads as a miss', async () => {
    const shared = standInShared();
    const writer = new Cache({ dir: false, encryption: aes, shared });
    await writer.put(K('k1'), Buffer.from('namespace a'), { namespace: 'a' });
    await writer.flush();
    shared.blobs.set(`b/${K('k1')}`, shared.blobs.get(`a/${K('k1')}`)!);
    captured();
    const reader = new Cache({ dir: false, encryption: aes, shared });
    expect(await reader.get(K('k1'), { namespace: 'b' })).toBeUndefined();
  });

  it('an encrypted file of a file entry moved to another key fails to decrypt (ERR_DECRYPT), never reads as the other entry', async () => {
    const c = new Cache({ dir: join(tempDir(), 'c'), encryption: aes });
    await c.putFiles(K('f1'), [{ name: 'w.bin', data: Buffer.from('weights of f1') }]);
    const e1 = (await c.getFiles(K('f1')))!;
    await c.disk!.putFiles(K('f2'), [{ name: 'w.bin', path: e1.files[0].path! }], { encrypted: true });
    await c.flush();
    const e2 = (await c.getFiles(K('f2')))!;
    await expect(e2.read('w.bin')).rejects.toMatchObject({ code: 'ERR_DECRYPT' });
    expect((await e1.read('w.bin')).toString()).toBe('weights of f1');
    await c.close();
  });

  it('a 56 KB frame claiming 1 GiB is a miss, refused by its claimed length before anything is allocated', async () => {
    const shared = standInShared();
    shared.blobs.set(`default/${K('big')}`, await compressAsync(Buffer.alloc(2 ** 30), { codec: 'zstd', level: 1 }));
    expect(shared.blobs.get(`default/${K('big')}`)!.length).toBeLessThan(64 * 1024);
    const warnings = captured();
    const c = new Cache({ dir: false, maxMemoryBytes: 0, shared });
    expect(await c.get(K('big'))).toBeUndefined();
    expect(c.stats().corrupt).toBe(1);
    expect(warnings.join('\n')).toMatch(/raw length 1073741824 exceeds the limit of 1000000000 bytes/);
  });

  it('a value larger than maxValueBytes reaches no encoded tier (it could never be read back), one of that size does', async () => {
    const shared = standInShared();
    const c = new Cache({ dir: false, maxMemoryBytes: 0, shared, maxValueBytes: 2 ** 20 });
    await c.put(K('ok'), Buffer.alloc(2 ** 20, 1));
    await c.put(K('too-big'), Buffer.alloc(2 ** 20 + 1, 1));
    await c.flush();
    expect((await c.get(K('ok')))!.length).toBe(2 ** 20);
    expect(shared.blobs.has(`default/${K('too-big')}`)).toBe(false);
  });
});

describe('debug lines (NODE_DEBUG=modelcache, or a logger)', () => {
  afterEach(() => setLogger(undefined));

  it('name each read of a value or a file entry as a hit or a miss', async () => {
    const lines: string[] = [];
    setLogger({ warn: () => {}, debug: (m) => lines.push(m) });
    const c = new Cache({ dir: join(tempDir(), 'c') });
    await c.get(K('v'));
    await c.put(K('v'), Buffer.from('x'));
    await c.get(K('v'));
    await c.getFiles(K('f'), { namespace: 'session' });
    await c.putFiles(K('f'), [{ name: 'm.ort', data: Buffer.from('m') }], { namespace: 'session' });
    await c.getFiles(K('f'), { namespace: 'session' });
    await c.close();
    expect(lines.filter((l) => /hit|miss/.test(l))).toEqual([
      `cache default: 0 hit, 1 miss (${K('v')})`,
      `cache default: 1 hit, 0 miss (${K('v')})`,
      `cache session: file entry miss (${K('f')})`,
      `cache session: file entry hit (${K('f')})`,
    ]);
  });
});

function listFiles(d: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}
