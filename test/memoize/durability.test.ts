// A memoized call resolves once the cache has accepted what it computed (its puts), all together.
import { describe, expect, it } from 'vitest';
import { Cache, tensorCache, type Tier } from '../../src/index.js';
import { f32, rowFn } from './helpers.js';

/** A tier whose puts are answered only when the test says so. */
function gatedTier() {
  const waiting: (() => void)[] = [];
  const stored = new Map<string, Buffer>();
  const tier: Tier = {
    name: 'gated', encoded: false,
    get: (k) => stored.get(k), getMany: (ks) => ks.map((k) => stored.get(k)),
    put(k, v) {
      return new Promise<void>((resolve) => waiting.push(() => {
        stored.set(k, Buffer.from(v));
        resolve();
      }));
    },
    has: (k) => stored.has(k), delete: (k) => stored.delete(k), clear: () => stored.clear(), close() {},
    stats: () => ({ hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: stored.size, maxBytes: 0 }),
  };
  return { tier, waiting };
}

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('durability of a memoized call', () => {
  it('resolves only after every put of the samples it computed was accepted', async () => {
    const { tier, waiting } = gatedTier();
    const f = tensorCache({ cache: new Cache({ tiers: [tier] }) })(rowFn());
    let done = false;
    const call = f(f32([[1, 2], [3, 4], [5, 6]])).then(() => {
      done = true;
    });
    await ticks(20);
    expect(waiting).toHaveLength(3); // all three puts were issued together, before any was answered
    expect(done).toBe(false);
    waiting.splice(0, 2).forEach((go) => go());
    await ticks(20);
    expect(done).toBe(false);
    waiting.splice(0).forEach((go) => go());
    await call;
    expect(done).toBe(true);
  });

  it('a hit waits for no put', async () => {
    const { tier, waiting } = gatedTier();
    const f = tensorCache({ cache: new Cache({ tiers: [tier] }) })(rowFn());
    const first = f(f32([[1, 2]]));
    await ticks(20);
    waiting.splice(0).forEach((go) => go());
    await first;
    await f(f32([[1, 2]]));
    expect(waiting).toHaveLength(0);
    expect(f.cache.stats()).toMatchObject({ computed: 1, hits: 1 });
  });
});
