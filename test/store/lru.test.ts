// maxBytes holds, and the entries kept are the most recently used ones: seeded random sequences
// of puts (1 B to 300 KiB, some larger than the tier), gets and deletes, checked after every put
// against a plain LRU model with each tier's eviction rule:
//   DiskTier:   after a put leaves more than maxBytes, evict least recently used entries until
//               bytes <= floor(0.95 * maxBytes), never the entry just put (it fits: <= maxBytes);
//   MemoryTier: evict least recently used entries while bytes > maxBytes.
// Both: an entry larger than maxBytes is refused, changes nothing and evicts nothing.
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { DiskTier, MemoryTier, type Tier } from '../../src/index.js';
import { randomBytes, tempDir } from '../helpers.js';
// @ts-expect-error fixture module without types
import { keyAt, prng } from '../fixtures/values.mjs';

const OPS = 400;
const KEYS = 24;
const SEEDS = [1, 2, 3];

/** The reference: a Map in least-to-most recently used order, key -> value. */
class LruModel {
  readonly entries = new Map<string, Buffer>();
  evictions = 0;
  constructor(readonly maxBytes: number, readonly target: number) {}

  get bytes(): number {
    let n = 0;
    for (const v of this.entries.values()) n += v.length;
    return n;
  }

  put(key: string, value: Buffer): boolean {
    if (value.length > this.maxBytes) return false;
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.bytes > this.maxBytes) {
      for (const k of [...this.entries.keys()]) {
        if (this.bytes <= this.target) break;
        if (k === key) continue;
        this.entries.delete(k);
        this.evictions++;
      }
    }
    return true;
  }

  get(key: string): Buffer | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }
}

interface Run {
  puts: number;
  refused: number;
  evictions: { model: number; tier: number };
  overLimit: { step: number; bytes: number }[];
  totalsMismatch: { step: number; bytes: number; entries: number; model: [number, number] }[];
  keysMismatch: { step: number; expected: string[]; got: string[] }[];
  putResultMismatch: { step: number; size: number; expected: boolean; got: boolean }[];
  wrongGets: { step: number; key: string; expected: number | 'miss'; got: number | 'miss' | 'wrong bytes' }[];
  order: { expected: string[]; got: string[] };
}

interface Subject {
  tier: Tier;
  /** Keys the tier holds, in any order. */
  keys(): string[];
  /** Keys from least to most recently used. */
  order(): Promise<string[]>;
}

const sortKeys = (ks: Iterable<string>) => [...ks].sort();

/** Random size: mostly small, some file-sized, a few near or over the tier's limit. */
function sizeOf(r: () => number, maxBytes: number): number {
  const x = r();
  if (x < 0.45) return 1 + Math.floor(r() * 4096);
  if (x < 0.7) return 4096 + Math.floor(r() * 60 * 1024);
  if (x < 0.95) return 64 * 1024 + Math.floor(r() * (300 - 64) * 1024);
  return Math.min(300 * 1024, maxBytes - 2048 + Math.floor(r() * 4096)); // straddles maxBytes
}

async function runSequence(subject: Subject, model: LruModel, seed: number): Promise<Run> {
  const r = prng(seed);
  const run: Run = {
    puts: 0, refused: 0, evictions: { model: 0, tier: 0 }, overLimit: [], totalsMismatch: [], keysMismatch: [], putResultMismatch: [], wrongGets: [],
    order: { expected: [], got: [] },
  };
  const { tier } = subject;
  for (let step = 0; step < OPS; step++) {
    const key = keyAt(Math.floor(r() * KEYS));
    const op = r();
    if (op < 0.55) {
      const size = sizeOf(r, model.maxBytes);
      const value = randomBytes(size, seed * 1_000_003 + step);
      const expected = model.put(key, value);
      if (!expected) run.refused++;
      const got = await tier.put(key, value);
      run.puts++;
      if (got !== expected) run.putResultMismatch.push({ step, size, expected, got });
      const s = tier.stats();
      if (s.bytes > model.maxBytes) run.overLimit.push({ step, bytes: s.bytes });
      if (s.bytes !== model.bytes || s.entries !== model.entries.size) {
        run.totalsMismatch.push({ step, bytes: s.bytes, entries: s.entries, model: [model.bytes, model.entries.size] });
      }
      const want = sortKeys(model.entries.keys());
      const have = sortKeys(subject.keys());
      if (want.join() !== have.join()) run.keysMismatch.push({ step, expected: want, got: have });
    } else if (op < 0.9) {
      const expected = model.get(key);
      const got = await tier.get(key);
      const ok = expected === undefined ? got === undefined : got !== undefined && Buffer.from(got).equals(expected);
      if (!ok) {
        run.wrongGets.push({
          step, key, expected: expected?.length ?? 'miss',
          got: got === undefined ? 'miss' : expected && got.length === expected.length ? 'wrong bytes' : got.length,
        });
      }
    } else {
      model.entries.delete(key);
      await tier.delete(key);
    }
  }
  run.order = { expected: [...model.entries.keys()], got: await subject.order() };
  run.evictions = { model: model.evictions, tier: tier.stats().evictions };
  return run;
}

const root = tempDir('modelcache-lru-');
let dirs = 0;

const tiers = [
  {
    name: 'DiskTier',
    target: (max: number) => Math.floor(0.95 * max),
    open(maxBytes: number): Subject {
      const tier = new DiskTier({ dir: join(root, `d${dirs++}`), maxBytes });
      return {
        tier,
        keys: () => [...tier.list()].map((e) => e.key),
        // Access times are batched in memory; written, the index order is the exact LRU order.
        order: async () => {
          await tier.flushAccess();
          return [...tier.list()].map((e) => e.key);
        },
      };
    },
  },
  {
    name: 'MemoryTier',
    target: (max: number) => max,
    open(maxBytes: number): Subject {
      const tier = new MemoryTier({ maxBytes });
      return { tier, keys: () => tier.keys(), order: async () => tier.keys() };
    },
  },
];

describe.each(tiers)('$name', ({ target, open }) => {
  describe.each([200 * 1024, 1024 * 1024])('maxBytes %i', (maxBytes) => {
    const runs: Run[] = [];
    beforeAll(async () => {
      for (const seed of SEEDS) {
        const subject = open(maxBytes);
        runs.push(await runSequence(subject, new LruModel(maxBytes, target(maxBytes)), seed));
        await subject.tier.close();
      }
    });

    test(`stats().bytes is at or under maxBytes after every put (${SEEDS.length} seeds x ${OPS} ops)`, () => {
      expect(runs.flatMap((r) => r.overLimit)).toEqual([]);
      expect(runs.reduce((n, r) => n + r.puts, 0)).toBeGreaterThan(SEEDS.length * OPS * 0.4);
    });

    test('the keys kept after every put are exactly those of the LRU model', () => {
      expect(runs.flatMap((r) => r.keysMismatch).slice(0, 3)).toEqual([]);
    });

    test('stats() bytes and entries match the model after every put', () => {
      expect(runs.flatMap((r) => r.totalsMismatch).slice(0, 3)).toEqual([]);
    });

    test('the entries kept are ordered from least to most recently used as in the model', () => {
      for (const r of runs) expect(r.order.got).toEqual(r.order.expected);
      expect(runs.every((r) => r.order.expected.length > 0)).toBe(true);
    });

    test('gets return the bytes last put for the key, or a miss when the model has none', () => {
      expect(runs.flatMap((r) => r.wrongGets).slice(0, 3)).toEqual([]);
    });

    test('put resolves false exactly for entries larger than maxBytes', () => {
      expect(runs.flatMap((r) => r.putResultMismatch)).toEqual([]);
      // The sequences do exercise refusal whenever sizes can exceed the limit.
      if (maxBytes < 300 * 1024) expect(runs.reduce((n, r) => n + r.refused, 0)).toBeGreaterThan(0);
    });

    test('stats().evictions counts the entries the model evicted', () => {
      expect(runs.map((r) => r.evictions.tier)).toEqual(runs.map((r) => r.evictions.model));
      expect(runs.every((r) => r.evictions.model > 0)).toBe(true);
    });
  });
});
