// A reader that finds a value's file missing may have met an eviction, not damage: between its
// index read and its file read, a writer can drop the entry, release its file, and put the same
// content again (same content id, fresh file), or put the same bytes inline (same content id, no
// file at all: putFile makes a file-backed value of any size, put keeps a small one inline). The
// crash test met the second now and then (a writer mixing put and putFile beside a reader); here
// the writer's steps run at exactly the reader's worst moments, inside the file reads themselves,
// so the interleaving is the same on every run.
import { writeFileSync } from 'node:fs';
import { beforeEach, describe, expect, test, vi } from 'vitest';
import { DiskTier } from '../../src/index.js';
import { captureWarnings } from '../setup/use-azurite.js';
import { tempDir } from '../helpers.js';
// @ts-expect-error fixture module without types
import { checkValue, keyAt, makeValue } from '../fixtures/values.mjs';

/** What runs around the next `times` reads of a blobs/ file: `before` it (it then fails), `after` it. */
const race = vi.hoisted(() => ({ times: 0, before: () => {}, after: () => {} }));

function raced<A extends unknown[], R>(path: (...a: A) => unknown, real: (...a: A) => R): (...a: A) => R {
  return (...args: A) => {
    if (race.times <= 0 || !String(path(...args)).includes('/blobs/')) return real(...args);
    race.times--;
    race.before();
    let r: R;
    try {
      r = real(...args);
    } catch (err) {
      race.after();
      throw err;
    }
    if (r instanceof Promise) return r.finally(() => race.after()) as R;
    race.after();
    return r;
  };
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof import('node:fs/promises')>();
  const m = { ...fsp, readFile: raced((p) => p, fsp.readFile), open: raced((p) => p, fsp.open) };
  return { ...m, default: m };
});
vi.mock('../../src/mmap.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../../src/mmap.js')>();
  return { ...mod, mapFile: raced((p: string) => p, mod.mapFile) };
});

const root = tempDir('modelcache-reread-');
let n = 0;

describe('a file released and put again between a reader\'s reads', () => {
  let tier: DiskTier;
  const key = keyAt(1);
  const value: Buffer = makeValue(key, 0, 200 * 1024);

  beforeEach(async () => {
    tier = new DiskTier({ dir: `${root}/${n++}`, accessFlushMs: 3_600_000 });
    tier.put(key, value);
    await tier.flush();
    // The writer: drops the entry and commits the release of its file (the read then fails) ...
    race.before = () => {
      tier.delete(key);
      void tier.flush();
    };
    // ... then puts the same content again, committed before the reader looks again.
    race.after = () => {
      tier.put(key, value);
      void tier.flush();
    };
  });

  test.each([
    ['get', async () => (await tier.get(key)) as Buffer | undefined],
    ['getFile with a map', async () => {
      const f = await tier.getFile(key, { map: true });
      const copy = f && Buffer.from(f.mapped!.buffer);
      f?.mapped?.close();
      return copy;
    }],
  ])('%s is no damage: nothing dropped, nothing warned, and the value is read', async (_name, read) => {
    const warnings = captureWarnings();
    race.times = 2;
    let got: Buffer | undefined;
    try {
      got = await read();
    } finally {
      race.times = 0;
      warnings.restore();
    }
    expect({ corrupt: tier.stats().corrupt, warnings: warnings.messages }).toEqual({ corrupt: 0, warnings: [] });
    expect(got !== undefined && checkValue(key, got).ok).toBe(true);
    expect(await tier.has(key)).toBe(true);
    await tier.close();
  });
});

describe('a file-backed value put again inline (the same bytes) between a reader\'s reads', () => {
  const key = keyAt(2);
  const value: Buffer = makeValue(key, 0, 4 * 1024);

  test.each([
    ['get', async (tier: DiskTier) => (await tier.get(key)) as Buffer | undefined, true],
    ['getFile with a map', async (tier: DiskTier) => {
      const f = await tier.getFile(key, { map: true });
      f?.mapped?.close();
      return f?.path;
    }, false],
  ] as const)('%s is no damage: nothing dropped, nothing warned, the inline value is what is read', async (_name, read, servesInline) => {
    const dir = `${root}/${n++}`;
    const tier = new DiskTier({ dir, accessFlushMs: 3_600_000 });
    const file = tier.workPath();
    writeFileSync(file, value);
    await tier.putFile(key, file);
    expect(tier.info(key)?.type).toBe('blob');
    // The writer: the same bytes put inline (a small value), committed, and the file released.
    race.before = () => {
      tier.put(key, value);
      void tier.flush();
      void tier.flush();
    };
    race.after = () => {};
    const warnings = captureWarnings();
    race.times = 1;
    let got: unknown;
    try {
      got = await read(tier);
    } finally {
      race.times = 0;
      warnings.restore();
    }
    expect({ corrupt: tier.stats().corrupt, warnings: warnings.messages }).toEqual({ corrupt: 0, warnings: [] });
    expect(tier.info(key)?.type).toBe('inline');
    if (servesInline) expect(checkValue(key, got as Buffer).ok).toBe(true);
    else expect(got).toBeUndefined();
    await tier.close();
  });
});
