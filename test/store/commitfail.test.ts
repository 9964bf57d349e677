// A commit that fails (a full disk, an I/O error) degrades to a miss, never to a hang: the puts
// it held are counted as rejected, close() settles, and the cache works again once commits do.
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cache, DiskTier, setLogger } from '../../src/index.js';
import { tempDir } from '../helpers.js';

const failing = vi.hoisted(() => ({ on: false }));

vi.mock('../../src/store/disk/lmdb.js', async (importOriginal) => {
  const { failingCommits } = await import('../setup/failing-commits.js');
  return failingCommits(await importOriginal(), () => failing.on);
});

const root = tempDir('modelcache-commitfail-');
let n = 0;
const K = (s: string) => s.padEnd(32, '0');

afterEach(() => {
  failing.on = false;
  setLogger(undefined);
});

describe('a failed commit', () => {
  it('rejects the queued puts, and close() settles', async () => {
    setLogger({ warn: () => {}, debug: () => {} });
    const t = new DiskTier({ dir: join(root, `d${n++}`) });
    t.put(K('before'), Buffer.from('kept'));
    await t.flush();
    failing.on = true;
    expect(t.put(K('lost'), Buffer.from('never committed'))).toBe(true); // acknowledged: queued
    await t.flush();
    expect(t.stats().rejected).toBe(1);
    await t.close(); // must settle
    failing.on = false;
    const again = new DiskTier({ dir: t.dir });
    expect(again.has(K('lost'))).toBe(false);
    expect((await again.get(K('before')))!.toString()).toBe('kept');
    expect((await again.verify()).problems).toEqual([]);
    await again.close();
  });

  it('leaves Cache.close() settling too, and puts work again once commits do', async () => {
    setLogger({ warn: () => {}, debug: () => {} });
    const dir = join(root, `d${n++}`);
    const c = new Cache({ dir, maxMemoryBytes: 0 });
    failing.on = true;
    await c.put(K('x'), Buffer.alloc(100_000, 1));
    await c.flush();
    failing.on = false;
    await c.put(K('y'), Buffer.alloc(100_000, 2));
    await c.flush();
    expect(await c.get(K('x'))).toBeUndefined();
    expect((await c.get(K('y')))!.equals(Buffer.alloc(100_000, 2))).toBe(true);
    await c.close();
  });
});
