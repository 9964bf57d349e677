import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Cache, MemoryTier, setLogger, tensorCache, type Tier } from '../../src/index.js';
import { tempDir } from '../helpers.js';
import { f32, importTs, rowFn, rowsOf, type T } from './helpers.js';

const x3 = () => f32([[1, 2], [3, 4], [5, 6]]);

describe('tensorCache on a function', () => {
  it('serves a repeated batch from the cache without calling the function', async () => {
    const seen: number[][][] = [];
    const f = tensorCache()(rowFn(seen));
    const a = (await f(x3())) as T;
    const b = (await f(x3())) as T;
    expect(rowsOf(a)).toEqual([[3, 1], [7, 3], [11, 5]]);
    expect(rowsOf(b)).toEqual(rowsOf(a));
    expect(seen).toHaveLength(1);
  });

  it('runs only the misses, once, as one sub-batch in the original order', async () => {
    const seen: number[][][] = [];
    const f = tensorCache()(rowFn(seen));
    await f(f32([[1, 0], [3, 0]]));
    const out = (await f(f32([[9, 0], [1, 0], [8, 0], [3, 0], [7, 0]]))) as T;
    expect(seen[1]).toEqual([[9, 0], [8, 0], [7, 0]]);
    expect(rowsOf(out).map((r) => r[1])).toEqual([9, 1, 8, 3, 7]);
  });

  it('computes a sample that appears twice in one batch once', async () => {
    const seen: number[][][] = [];
    const f = tensorCache()(rowFn(seen));
    const out = (await f(f32([[4, 4], [4, 4], [5, 5]]))) as T;
    expect(seen[0]).toEqual([[4, 4], [5, 5]]);
    expect(rowsOf(out)).toEqual([[8, 4], [8, 4], [10, 5]]);
  });

  it('handles growing and shrinking batch sizes in any order', async () => {
    const seen: number[][][] = [];
    const f = tensorCache()(rowFn(seen));
    const row = (i: number) => [i, i + 0.5];
    for (const n of [1, 8, 2, 16, 3, 16, 1]) {
      const rows = Array.from({ length: n }, (_, i) => row(i));
      const out = (await f(f32(rows))) as T;
      expect(rowsOf(out)).toEqual(rows.map((r) => [r[0] + r[1], r[0]]));
    }
    expect(seen.flat()).toHaveLength(16); // every distinct row computed exactly once
  });

  it('serves partial hits in random positions and matches the uncached result exactly', async () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const plain = rowFn();
    const f = tensorCache()(rowFn());
    const pool = Array.from({ length: 40 }, () => [rnd(), rnd(), rnd()]);
    for (let round = 0; round < 10; round++) {
      const rows = Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => pool[Math.floor(rnd() * pool.length)]);
      expect(rowsOf((await f(f32(rows))) as T)).toEqual(rowsOf(await plain(f32(rows))));
    }
  });

  it('keys rows that a weighted-sum hash would collide ([2,0] vs [0,1])', async () => {
    const seen: number[][][] = [];
    const f = tensorCache()(rowFn(seen));
    await f(f32([[2, 0]]));
    const out = (await f(f32([[0, 1]]))) as T;
    expect(rowsOf(out)).toEqual([[1, 0]]);
    expect(seen).toHaveLength(2);
  });

  it('keys non-tensor arguments by position: f(x,5,5) and f(x,7,7) differ', async () => {
    const g = tensorCache()(async (x: T, a: number, b: number) => f32(rowsOf(x).map(() => [a * 10 + b])));
    expect(rowsOf((await g(x3(), 5, 5)) as T)[0]).toEqual([55]);
    expect(rowsOf((await g(x3(), 7, 7)) as T)[0]).toEqual([77]);
    expect(rowsOf((await g(x3(), 5, 7)) as T)[0]).toEqual([57]);
  });

  it('keys object arguments by name, not by key order', async () => {
    let calls = 0;
    const g = tensorCache()(async (x: T, o: { a: number; b: number }) => {
      calls++;
      return f32(rowsOf(x).map(() => [o.a - o.b]));
    });
    await g(x3(), { a: 3, b: 1 });
    await g(x3(), { b: 1, a: 3 });
    expect(calls).toBe(1);
    expect(rowsOf((await g(x3(), { a: 1, b: 3 })) as T)[0]).toEqual([-2]);
  });

  it('keys each tensor argument with its dtype and row shape', async () => {
    let calls = 0;
    const g = tensorCache()(async (x: T) => {
      calls++;
      return f32(Array.from({ length: x.dims[0] }, () => [x.dims.slice(1).reduce((a, b) => a * b, 1)]));
    });
    const bytes = new Float32Array([1, 2, 3, 4]);
    await g({ type: 'float32', dims: [1, 4], data: bytes });
    await g({ type: 'float32', dims: [1, 2, 2], data: bytes });
    await g({ type: 'int32', dims: [1, 4], data: new Int32Array(bytes.buffer) });
    expect(calls).toBe(3);
  });

  it('takes several tensor arguments that share the batch size, and rejects a mismatch', async () => {
    const g = tensorCache()(async (a: T, b: T) => f32(rowsOf(a).map((r, i) => [r[0] * rowsOf(b)[i][0]])));
    expect(rowsOf((await g(f32([[2], [3]]), f32([[5], [7]]))) as T)).toEqual([[10], [21]]);
    await expect(g(f32([[2], [3]]), f32([[5]]))).rejects.toThrow(/args\[1\]\.dims\[0\]/);
  });

  it('rejects a non-tensor argument that has no canonical encoding, naming it', async () => {
    const g = tensorCache()(async (x: T, _opts: unknown) => x);
    await expect(g(x3(), { cb: new (class Callback {})() })).rejects.toThrow(/args\[1\]\.cb/);
    await expect(g(x3(), new Map())).rejects.toThrow(TypeError);
  });

  it('needs a tensor argument', async () => {
    const g = tensorCache()(async (n: number) => n);
    await expect(g(3)).rejects.toThrow(/tensor/);
  });

  it('splits and reassembles array and record outputs', async () => {
    const arr = tensorCache()(async (x: T) => [f32(rowsOf(x).map((r) => [r[0]])), f32(rowsOf(x).map((r) => [r[1], r[1]]))]);
    await arr(x3());
    const [a, b] = (await arr(x3())) as T[];
    expect(rowsOf(a)).toEqual([[1], [3], [5]]);
    expect(rowsOf(b)).toEqual([[2, 2], [4, 4], [6, 6]]);
    const rec = tensorCache()(async (x: T) => ({ logits: f32(rowsOf(x)), first: f32(rowsOf(x).map((r) => [r[0]])) }));
    await rec(x3());
    const r = (await rec(x3())) as Record<string, T>;
    expect(Object.keys(r)).toEqual(['logits', 'first']);
    expect(rowsOf(r.first)).toEqual([[1], [3], [5]]);
  });

  it('rejects outputs without the batch along dim 0', async () => {
    const g = tensorCache()(async () => f32([[1]]));
    await expect(g(x3())).rejects.toThrow(/batch size of the call \(3\)/);
  });

  it('returns fresh tensors: mutating a result changes neither the cache nor another result', async () => {
    const f = tensorCache()(rowFn());
    const a = (await f(x3())) as T;
    a.data.fill(0);
    const b = (await f(x3())) as T;
    const c = (await f(x3())) as T;
    expect(rowsOf(b)).toEqual([[3, 1], [7, 3], [11, 5]]);
    b.data.fill(9);
    expect(rowsOf(c)).toEqual([[3, 1], [7, 3], [11, 5]]);
  });

  it('computes a sample once for concurrent calls (single flight)', async () => {
    let rowsComputed = 0;
    const f = tensorCache()(async (x: T) => {
      rowsComputed += x.dims[0];
      await new Promise((r) => setTimeout(r, 30));
      return f32(rowsOf(x).map((r) => [r[0] * 2]));
    });
    const results = await Promise.all([f(x3()), f(x3()), f(f32([[1, 2], [7, 7]]))]);
    expect(rowsComputed).toBe(4);
    expect(rowsOf(results[2] as T)).toEqual([[2], [14]]);
  });

  it('propagates the function\'s error and caches nothing from that call', async () => {
    let fail = true;
    let calls = 0;
    const f = tensorCache()(async (x: T) => {
      calls++;
      if (fail) throw new Error('model exploded');
      return x;
    });
    await expect(f(x3())).rejects.toThrow('model exploded');
    fail = false;
    await f(x3());
    expect(calls).toBe(2);
  });

  it('a waiter whose computing call failed computes the sample itself', async () => {
    let first = true;
    const f = tensorCache()(async (x: T) => {
      await new Promise((r) => setTimeout(r, 10));
      if (first) {
        first = false;
        throw new Error('first call fails');
      }
      return f32(rowsOf(x).map((r) => [r[0]]));
    });
    const [a, b] = await Promise.allSettled([f(x3()), f(x3())]);
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('fulfilled');
    expect(rowsOf((b as PromiseFulfilledResult<T>).value)).toEqual([[1], [3], [5]]);
  });

  it('still returns the result when every cache tier fails', async () => {
    const broken: Tier = {
      name: 'broken', encoded: true,
      get() { throw new Error('io'); }, getMany() { throw new Error('io'); }, put() { throw new Error('io'); },
      has() { throw new Error('io'); }, delete() { throw new Error('io'); }, clear() {}, close() {},
      stats: () => ({ hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: 0, maxBytes: 0 }),
    };
    const warnings: string[] = [];
    setLogger({ warn: (m) => warnings.push(m), debug: () => {} });
    try {
      const f = tensorCache({ cache: new Cache({ tiers: [broken] }) })(rowFn());
      expect(rowsOf((await f(x3())) as T)).toEqual([[3, 1], [7, 3], [11, 5]]);
      await f.cache.flush();
      expect(f.cache.stats().cache.errors).toBeGreaterThan(0);
      expect(warnings.some((w) => w.includes('broken tier'))).toBe(true);
    } finally {
      setLogger(undefined);
    }
  });

  it('calls straight through with enabled: false', async () => {
    const seen: number[][][] = [];
    const f = tensorCache({ enabled: false })(rowFn(seen));
    await f(x3());
    await f(x3());
    expect(seen).toHaveLength(2);
  });

  it('exposes stats, clear, flush and the module hash on .cache', async () => {
    const seen: number[][][] = [];
    const f = tensorCache()(rowFn(seen));
    await f(x3());
    await f(f32([[1, 2], [0, 0]]));
    const s = f.cache.stats();
    expect(s).toMatchObject({ calls: 2, samples: 5, hits: 1, computed: 4 });
    expect(f.cache.moduleHash).toMatch(/^[0-9a-f]{32}$/);
    await f.cache.clear();
    await f(x3());
    expect(seen).toHaveLength(3);
  });
});

describe('module hash', () => {
  it('changes with the function source and with cacheDtype', () => {
    const a = tensorCache()(async (x: T) => x);
    const b = tensorCache()(async (x: T) => ({ ...x }));
    const c = tensorCache({ cacheDtype: 'float16' })(async (x: T) => x);
    const a2 = tensorCache()(async (x: T) => x);
    expect(a.cache.moduleHash).toBe(a2.cache.moduleHash);
    expect(new Set([a.cache.moduleHash, b.cache.moduleHash, c.cache.moduleHash]).size).toBe(3);
  });

  it('stays fixed with moduleHash across code changes, and warns that it does', () => {
    const warn = vi.fn();
    setLogger({ warn, debug: () => {} });
    try {
      const a = tensorCache({ moduleHash: 'v1' })(async (x: T) => x);
      const b = tensorCache({ moduleHash: 'v1' })(async (x: T) => ({ ...x }));
      expect(a.cache.moduleHash).toBe(b.cache.moduleHash);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('code changes will not invalidate'), 'ERR_TENSORCACHE_FIXED_HASH');
    } finally {
      setLogger(undefined);
    }
  });

  it('different functions sharing one Cache never read each other\'s results', async () => {
    const cache = new Cache({ dir: false });
    const double = tensorCache({ cache })(async (x: T) => f32(rowsOf(x).map((r) => [r[0] * 2])));
    const triple = tensorCache({ cache })(async (x: T) => f32(rowsOf(x).map((r) => [r[0] * 3])));
    expect(rowsOf((await double(x3())) as T)[2]).toEqual([10]);
    expect(rowsOf((await triple(x3())) as T)[2]).toEqual([15]);
  });
});

describe('cacheDtype and persistence', () => {
  const dir = tempDir();

  it('stores float32 outputs as float16 and returns them as float32 within float16 precision', async () => {
    const f = tensorCache({ cacheDtype: 'float16' })(async (x: T) => f32(rowsOf(x).map((r) => [r[0] / 3, r[1] * 1000.123])));
    const exact = (await f(x3())) as T;
    const cached = (await f(x3())) as T;
    expect(cached.type).toBe('float32');
    expect(cached.data).toBeInstanceOf(Float32Array);
    rowsOf(cached).flat().forEach((v, i) => expect(Math.abs(v - Number(exact.data[i]))).toBeLessThanOrEqual(Math.abs(Number(exact.data[i])) * 2 ** -11));
  });

  it('keeps results across instances of the wrapper through a persistent dir', async () => {
    const d = join(dir, 'p1');
    const seen: number[][][] = [];
    const fn = rowFn(seen);
    const a = tensorCache({ dir: d })(fn);
    await a(x3());
    await a.cache.flush();
    const b = tensorCache({ dir: d })(fn);
    expect(rowsOf((await b(x3())) as T)).toEqual([[3, 1], [7, 3], [11, 5]]);
    expect(seen).toHaveLength(1);
  });

  it('persistent without a dir uses a private temporary directory', async () => {
    const f = tensorCache({ persistent: true, maxMemoryBytes: 0 })(rowFn());
    await f(x3());
    await f.cache.flush();
    const s = f.cache.stats();
    expect(s.cache.tiers.disk.entries).toBe(3);
    await f(x3());
    expect(f.cache.stats().hits).toBe(3);
  });

  it('validates options, naming them', () => {
    expect(() => tensorCache({ cacheDtype: 'int8' as never })).toThrow(/options\.cacheDtype/);
    expect(() => tensorCache({ maxMemoryBytes: -1 })).toThrow(/options\.maxMemoryBytes/);
    expect(() => tensorCache({ persistant: true } as never)).toThrow(/"persistant"/);
  });
});

describe('tensorCache as a TypeScript decorator', () => {
  const dir = tempDir();
  const source = `
    import { tensorCache, tensorCacheOf } from 'modelcache';
    const t = (rows) => ({ type: 'float32', dims: [rows.length, rows[0].length], data: new Float32Array(rows.flat()) });
    const rows = (x) => Array.from({ length: x.dims[0] }, (_, i) => Array.from(x.data.subarray(i * x.dims[1], (i + 1) * x.dims[1])));
    export class Encoder {
      calls = 0;
      @tensorCache() async forward(x: any, mode: string) {
        this.calls++;
        return t(rows(x).map((r) => [mode === 'sum' ? r[0] + r[1] : r[0] * r[1]]));
      }
    }
    @tensorCache({ maxMemoryBytes: 1e6 })
    export class Teacher {
      calls = 0;
      constructor(public cfg: { scale: number }) {}
      async forward(x: any) {
        this.calls++;
        return t(rows(x).map((r) => [r[0] * this.cfg.scale]));
      }
    }
    @tensorCache({ method: 'embed', moduleHash: 'teacher-v1' })
    export class WithSession {
      calls = 0;
      constructor(public session: object) {}
      async embed(x: any) { this.calls++; return t(rows(x).map((r) => [r[0]])); }
    }
    export class Overridden {
      calls = 0;
      tensorcache = { enabled: false };
      @tensorCache() async forward(x: any) { this.calls++; return x; }
    }
    export { tensorCacheOf };
  `;

  for (const legacy of [false, true]) {
    const label = legacy ? 'legacy experimentalDecorators' : 'standard decorators';

    it(`${label}: caches a method per instance, keyed by its arguments`, async () => {
      const m = await importTs(dir, `enc${legacy}`, source, { legacy });
      const Encoder = m.Encoder as new () => { calls: number; forward(x: T, mode: string): Promise<T> };
      const e = new Encoder();
      expect(rowsOf(await e.forward(x3(), 'sum'))).toEqual([[3], [7], [11]]);
      expect(rowsOf(await e.forward(x3(), 'sum'))).toEqual([[3], [7], [11]]);
      expect(rowsOf(await e.forward(x3(), 'mul'))).toEqual([[2], [12], [30]]);
      expect(e.calls).toBe(2);
      const other = new Encoder();
      await other.forward(x3(), 'sum');
      expect(other.calls).toBe(1); // each instance has its own cache
      expect((e as unknown as { cache: { moduleHash: string } }).cache.moduleHash).toMatch(/^[0-9a-f]{32}$/);
    });

    it(`${label}: a decorated class wraps forward and keys by constructor arguments`, async () => {
      const m = await importTs(dir, `teacher${legacy}`, source, { legacy });
      const Teacher = m.Teacher as new (cfg: { scale: number }) => { calls: number; forward(x: T): Promise<T>; cache: { moduleHash: string } };
      const a = new Teacher({ scale: 2 });
      const b = new Teacher({ scale: 3 });
      expect(a).toBeInstanceOf(Teacher);
      expect(rowsOf(await a.forward(x3()))).toEqual([[2], [6], [10]]);
      expect(rowsOf(await b.forward(x3()))).toEqual([[3], [9], [15]]);
      await a.forward(x3());
      expect(a.calls).toBe(1);
      expect(a.cache.moduleHash).not.toBe(b.cache.moduleHash);
      expect(new Teacher({ scale: 2 }).constructor.name).toBe('Teacher');
    });

    it(`${label}: constructor arguments without an encoding need moduleHash`, async () => {
      const m = await importTs(dir, `session${legacy}`, source, { legacy });
      const Teacher = m.Teacher as new (cfg: unknown) => unknown;
      expect(() => new Teacher({ scale: new (class Session {})() })).toThrow(/constructor arguments\[0\]\.scale/);
      const WithSession = m.WithSession as new (s: object) => { calls: number; embed(x: T): Promise<T> };
      const w = new WithSession(new (class Session {})());
      await w.embed(x3());
      await w.embed(x3());
      expect(w.calls).toBe(1);
    });

    it(`${label}: an instance's tensorcache property overrides the decorator (enabled: false)`, async () => {
      const m = await importTs(dir, `over${legacy}`, source, { legacy });
      const Overridden = m.Overridden as new () => { calls: number; forward(x: T): Promise<T> };
      const o = new Overridden();
      await o.forward(x3());
      await o.forward(x3());
      expect(o.calls).toBe(2);
    });
  }
});

describe('tensorCache with a shared memory tier of limited size', () => {
  it('evicts instead of refusing to cache when full (unlike torchcache)', async () => {
    const seen: number[][][] = [];
    const cache = new Cache({ tiers: [new MemoryTier({ maxBytes: 1000 })] });
    const f = tensorCache({ cache })(rowFn(seen));
    for (let i = 0; i < 50; i++) await f(f32([[i, i]]));
    await f(f32([[49, 49]]));
    expect(seen).toHaveLength(50); // the newest is still cached
    await f(f32([[0, 0]]));
    expect(seen).toHaveLength(51); // the oldest was evicted, and caching goes on
  });
});
