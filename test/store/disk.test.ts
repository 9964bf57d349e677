import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskTier, hashFile, treeHash } from '../../src/index.js';
import { randomBytes, tempDir } from '../helpers.js';

const key = (i: number) => `${i.toString(16).padStart(2, '0')}${'ab'.repeat(15)}`;

describe('DiskTier', () => {
  const root = tempDir();
  let n = 0;
  const open = (opts: Partial<ConstructorParameters<typeof DiskTier>[0]> = {}) => new DiskTier({ dir: join(root, `d${n++}`), ...opts });

  it('round trips inline and file-backed values with kind and metadata', async () => {
    const t = open();
    const small = randomBytes(100, 1);
    const big = randomBytes(300_000, 2);
    expect(await t.put(key(1), small, { kind: 'tensor', meta: { rows: 3 } })).toBe(true);
    expect(await t.put(key(2), big)).toBe(true);
    expect((await t.get(key(1)))!.equals(small)).toBe(true);
    expect((await t.get(key(2)))!.equals(big)).toBe(true);
    expect(t.info(key(1))).toMatchObject({ kind: 'tensor', inline: true, size: 100, meta: { rows: 3 } });
    expect(t.info(key(2))).toMatchObject({ inline: false, size: 300_000 });
    expect(await t.get(key(3))).toBeUndefined();
    await t.close();
  });

  it('keeps large values as immutable files under blobs/xx/yy/ with mode 0600 in 0700 dirs', async () => {
    const t = open();
    const value = randomBytes(100_000, 4);
    await t.put(key(4), value);
    const f = (await t.getFile(key(4)))!;
    const id = treeHash(value); // content-addressed: named by the tree hash of the bytes
    expect(f.path).toBe(join(t.dir, 'blobs', id.slice(0, 2), id.slice(2, 4), id));
    expect(statSync(f.path).mode & 0o777).toBe(0o600);
    expect(statSync(t.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(t.dir, 'blobs')).mode & 0o777).toBe(0o700);
    await t.close();
  });

  it('gives a file entry as a path or a zero-copy map, verified against its checksum', async () => {
    const t = open();
    const data = randomBytes(200_000, 5);
    await t.put(key(5), data);
    const f = (await t.getFile(key(5), { map: true }))!;
    expect(f.mapped!.buffer.equals(data)).toBe(true);
    f.mapped!.close();
    expect(await t.getFile(key(99))).toBeUndefined();
    await t.close();
  });

  it('publishes an existing file with putFile and keeps its content id', async () => {
    const t = open();
    const src = t.tmpPath('.onnx');
    const data = randomBytes(150_000, 6);
    writeFileSync(src, data);
    const id = await hashFile(src);
    expect(await t.putFile(key(6), src, { kind: 'session' })).toBe(true);
    const f = (await t.getFile(key(6)))!;
    expect(await hashFile(f.path)).toBe(id);
    expect(f.kind).toBe('session');
    await t.close();
  });

  it('replacing a value never rewrites the old file in place (a live map keeps its bytes)', async () => {
    const t = open();
    const v1 = randomBytes(100_000, 7);
    await t.put(key(7), v1);
    const before = (await t.getFile(key(7), { map: true }))!;
    await t.put(key(7), randomBytes(100_000, 8));
    expect(before.mapped!.buffer.equals(v1)).toBe(true);
    before.mapped!.close();
    expect((await t.get(key(7)))!.equals(randomBytes(100_000, 8))).toBe(true);
    await t.close();
  });

  it('deletes, clears and reports totals', async () => {
    const t = open();
    await t.put(key(8), randomBytes(10));
    await t.put(key(9), randomBytes(100_000));
    expect(t.stats()).toMatchObject({ entries: 2, bytes: 100_010 });
    expect(await t.delete(key(8))).toBe(true);
    expect(await t.delete(key(8))).toBe(false);
    expect(t.has(key(8))).toBe(false);
    await t.clear();
    expect(t.stats()).toMatchObject({ entries: 0, bytes: 0 });
    expect(readdirSync(join(t.dir, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())).toEqual([]);
    expect((await t.verify()).problems).toEqual([]);
    await t.close();
  });

  it('survives a reopen with everything in place and access order kept', async () => {
    const dir = join(root, 'reopen');
    const a = new DiskTier({ dir, maxBytes: 1_000_000 });
    await a.put(key(10), randomBytes(1000, 10));
    await a.put(key(11), randomBytes(1000, 11));
    await a.get(key(10));
    await a.close();
    const b = new DiskTier({ dir, maxBytes: 1_000_000 });
    expect([...b.list()].map((e) => e.key)).toEqual([key(11), key(10)]);
    expect((await b.get(key(11)))!.equals(randomBytes(1000, 11))).toBe(true);
    await b.close();
  });

  it('removes tmp files of dead writers at open', async () => {
    const dir = join(root, 'stale');
    const a = new DiskTier({ dir });
    await a.close();
    const host = hostname().replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 64);
    writeFileSync(join(dir, 'tmp', `${host}-999999999-deadbeef`), 'partial'); // dead writer on this host
    writeFileSync(join(dir, 'tmp', `${host}-${process.pid}-aaaa`), 'mine'); // live writer
    writeFileSync(join(dir, 'tmp', `otherhost-999999999-bbbb`), 'theirs'); // cannot tell: kept for a day
    const b = new DiskTier({ dir });
    const left = readdirSync(join(dir, 'tmp')).filter((f) => !f.endsWith('.open')); // minus b's own marker
    expect(left.sort()).toEqual(['otherhost-999999999-bbbb', `${host}-${process.pid}-aaaa`].sort());
    await b.close();
  });

  it('after a crash, collects files in blobs/ that no entry points at, by itself', async () => {
    const dir = join(root, 'orphans');
    const a = new DiskTier({ dir });
    await a.put(key(20), randomBytes(100_000, 20));
    const live = (await a.getFile(key(20)))!;
    await a.close();
    const orphan = join(dirname(live.path), `${key(21)}-00000000deadbeef`); // published, never indexed
    writeFileSync(orphan, 'partial write of a killed process');
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(orphan, old, old);
    const host = hostname().replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 64);
    writeFileSync(join(dir, 'tmp', `${host}-999999999-abcd.open`), ''); // the marker the crashed process left
    const b = new DiskTier({ dir });
    await b.settled();
    expect(existsSync(orphan)).toBe(false);
    expect((await b.get(key(20)))!.equals(randomBytes(100_000, 20))).toBe(true);
    expect((await b.verify()).problems).toEqual([]);
    await b.close();
  });

  it('refuses an entry larger than maxBytes without evicting anything', async () => {
    const t = open({ maxBytes: 100_000 });
    await t.put(key(12), randomBytes(50_000));
    expect(await t.put(key(13), randomBytes(100_001))).toBe(false);
    expect(t.has(key(12))).toBe(true);
    expect(t.stats().rejected).toBe(1);
    await t.close();
  });

  it('keeps an entry that fits the tier even when it alone is above the eviction target', async () => {
    const t = open({ maxBytes: 100_000 });
    await t.put(key(14), randomBytes(10_000));
    expect(await t.put(key(15), randomBytes(97_000))).toBe(true);
    await t.flush(); // a put is acknowledged once queued; the commit (and its eviction) follows
    expect(t.has(key(15))).toBe(true);
    expect(t.has(key(14))).toBe(false);
    expect(t.stats()).toMatchObject({ entries: 1, bytes: 97_000, evictions: 1 });
    await t.close();
  });

  it('rejects keys that are not safe file names and misspelled options', () => {
    const t = open();
    expect(() => t.get('../etc/passwd')).toThrow(/key/);
    expect(() => new DiskTier({ dir: join(root, 'x'), maxbytes: 1 } as never)).toThrow(/"maxbytes"/);
    expect(() => new DiskTier({} as never)).toThrow(/options\.dir/);
    return t.close();
  });

  it('throws ERR_CLOSED after close', async () => {
    const t = open();
    await t.close();
    expect(() => t.get(key(1))).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });
});
