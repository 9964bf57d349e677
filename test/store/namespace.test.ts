// The one grammar of namespaces, keys and file names, and namespaces across every tier of a Cache:
// deleting one leaves every other, in memory, on disk and in a shared tier.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cache, checkFileNames, checkKey, checkNamespace, DiskTier, MemoryTier, tensorNamespace, type Tier } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const K = (s: string) => s.padEnd(32, '0');

describe('the name grammar', () => {
  it.each(['default', 'session', 'pipeline.output', `tensor.${'ab'.repeat(16)}`, 'a-b_c.d9'])('accepts the namespace %s', (ns) => {
    expect(checkNamespace(ns)).toBe(ns);
  });

  it.each(['', '.', '..', 'Session', 'a..b', '.a', 'a.', 'a/b', 'a b', '-a', 'x'.repeat(65), 42])('refuses the namespace %s with a TypeError naming it', (ns) => {
    expect(() => checkNamespace(ns, 'options.namespace')).toThrow(TypeError);
    expect(() => checkNamespace(ns, 'options.namespace')).toThrow(/options\.namespace/);
  });

  it.each(['.', '..', '....x', '.hidden', 'a/b', '', 'x'.repeat(201), 'a\\b'])('refuses the key %s (never a path of its own)', (key) => {
    expect(() => checkKey(key)).toThrow(TypeError);
  });

  it('accepts keys with inner dots and the hex keys of cacheKey()', () => {
    expect(checkKey('model.v1.onnx')).toBe('model.v1.onnx');
    expect(checkKey('0123456789abcdef0123456789abcdef')).toBe('0123456789abcdef0123456789abcdef');
  });

  it('accepts file names with folders and returns them sorted', () => {
    expect(checkFileNames(['model.onnx', 'data/weights.bin', 'model.onnx.data'])).toEqual(['data/weights.bin', 'model.onnx', 'model.onnx.data']);
  });

  it.each([[['../x']], [['/abs']], [['a//b']], [['a/./b']], [['same', 'same']], [['a', 'a/b']], [[]], [['Model.onnx', 'model.onnx']], [['Data', 'data/w.bin']]])('refuses the file names %j (also when they clash ignoring case)', (names) => {
    expect(() => checkFileNames(names)).toThrow(TypeError);
  });

  it('gives every tensorCache module a namespace of its own', () => {
    expect(tensorNamespace('ab'.repeat(16))).toBe(`tensor.${'ab'.repeat(16)}`);
  });
});

/** A stand-in shared tier: a Map of namespaces that records every delete it is asked for. */
function recordingShared() {
  const spaces = new Map<string, Map<string, Buffer>>();
  const deletes: string[] = [];
  const space = (ns = 'default') => spaces.get(ns) ?? spaces.set(ns, new Map()).get(ns)!;
  const tier: Tier = {
    name: 'fake-shared', encoded: true, shared: true,
    get: (key, ns) => space(ns).get(key),
    getMany: (keys, ns) => keys.map((k) => space(ns).get(k)),
    put: (key, value, meta) => (space(meta?.namespace).set(key, Buffer.from(value)), true),
    has: (key, ns) => space(ns).has(key),
    delete: (key, ns) => (deletes.push(`${ns}/${key}`), space(ns).delete(key)),
    countEntries: (ns) => space(ns).size,
    deleteNamespace: (ns) => {
      deletes.push(`${ns}/*`);
      const n = space(ns).size;
      spaces.delete(ns);
      return n;
    },
    stats: () => ({ hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: 0, maxBytes: 0 }),
    close: () => {},
  };
  return { tier, deletes, spaces };
}

describe('namespaces across the tiers of a Cache', () => {
  const root = tempDir();
  let n = 0;

  it('keeps the same key apart in two namespaces, in memory and on disk', async () => {
    const c = new Cache({ dir: join(root, `c${n++}`) });
    await c.put(K('k'), Buffer.from('one'), { namespace: 'ns-one' });
    await c.put(K('k'), Buffer.from('two'), { namespace: 'ns-two' });
    expect((await c.get(K('k'), { namespace: 'ns-one' }))!.toString()).toBe('one');
    expect((await c.get(K('k'), { namespace: 'ns-two' }))!.toString()).toBe('two');
    expect(await c.get(K('k'))).toBeUndefined();
    const disk = c.disk!;
    expect((await disk.get(K('k'), 'ns-two'))).toBeDefined();
    await c.close();
  });

  it("deleting one namespace leaves the others in every tier, and asks the shared tier for that namespace only", async () => {
    const shared = recordingShared();
    const c = new Cache({ dir: join(root, `c${n++}`), shared: shared.tier });
    for (const ns of ['tensor.aa', 'tensor.bb']) {
      for (const k of ['x', 'y']) await c.put(K(k), Buffer.from(`${ns}/${k}`), { namespace: ns });
    }
    await c.flush();
    expect(await c.count('tensor.aa')).toEqual({ memory: 2, disk: 2, 'fake-shared': 2 });
    expect(await c.deleteNamespace('tensor.aa')).toEqual({ memory: 2, disk: 2, 'fake-shared': 2 });
    expect(shared.deletes).toEqual(['tensor.aa/*']);
    expect(await c.count('tensor.aa')).toEqual({ memory: 0, disk: 0, 'fake-shared': 0 });
    expect(await c.count('tensor.bb')).toEqual({ memory: 2, disk: 2, 'fake-shared': 2 });
    expect((await c.get(K('y'), { namespace: 'tensor.bb' }))!.toString()).toBe('tensor.bb/y');
    await c.close();
  });

  it('clear() empties the local tiers and never touches the shared one', async () => {
    const shared = recordingShared();
    const c = new Cache({ dir: join(root, `c${n++}`), shared: shared.tier });
    await c.put(K('a'), Buffer.from('a'), { namespace: 'keep' });
    await c.flush();
    await c.clear();
    expect(shared.deletes).toEqual([]);
    expect(shared.spaces.get('keep')?.size).toBe(1);
    expect(c.disk!.stats().entries).toBe(0);
    await c.close();
  });

  it('lists the entries of a namespace with the tier that holds each', async () => {
    const c = new Cache({ tiers: [new MemoryTier(), new DiskTier({ dir: join(root, `c${n++}`) })] });
    await c.put(K('a'), Buffer.from('a'), { namespace: 'listed', kind: 'tensor' });
    await c.put(K('b'), Buffer.from('b'), { namespace: 'other' });
    const seen = [];
    for await (const e of c.entries('listed')) seen.push(`${e.tier}:${e.namespace}/${e.key}`);
    expect(seen.sort()).toEqual([`disk:listed/${K('a')}`, `memory:listed/${K('a')}`]);
    await c.close();
  });

  it('refuses a bad namespace and a bad key before any tier sees them', async () => {
    const c = new Cache({ dir: false });
    await expect(c.put(K('a'), Buffer.from('a'), { namespace: '../x' })).rejects.toThrow(/options\.namespace/);
    await expect(c.put('model/v1', Buffer.from('a'))).rejects.toThrow(TypeError);
    expect(c.stats().tiers.memory.entries).toBe(0);
    await c.close();
  });
});
