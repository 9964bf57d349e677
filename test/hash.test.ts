import { closeSync, ftruncateSync, openSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { hash, hashAsync, hashFile, hashRows, CacheError } from '../src/index.js';
import { randomBytes, tempDir } from './helpers.js';

const require = createRequire(import.meta.url);
const { XXHash128 } = require('xxhash-addon') as { XXHash128: { hash(b: Buffer): Buffer } };

describe('hash', () => {
  it('matches the XXH3-128 known answer for empty input', () => {
    expect(hash(Buffer.alloc(0))).toBe('99aa06d3014798d86001c324468d497f');
  });

  it('agrees with xxhash-addon XXH3-128 at every size class', () => {
    for (const n of [1, 3, 16, 17, 128, 129, 240, 241, 1024, 4096, 65537, 1 << 20]) {
      const data = randomBytes(n, n);
      expect(hash(data), `length ${n}`).toBe(XXHash128.hash(data).toString('hex'));
    }
  });

  it('hashes strings as UTF-8 and every view type by its bytes', () => {
    const bytes = Buffer.from('héllo wörld', 'utf8');
    const expected = hash(bytes);
    expect(hash('héllo wörld')).toBe(expected);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    expect(hash(ab)).toBe(expected);
    expect(hash(new DataView(ab))).toBe(expected);
    const f = new Float32Array([1.5, -2, 3]);
    expect(hash(f)).toBe(hash(Buffer.from(f.buffer)));
  });

  it('hashes only the viewed range of a sub-view', () => {
    const big = randomBytes(100);
    expect(hash(big.subarray(10, 20))).toBe(hash(Buffer.from(big.subarray(10, 20))));
  });

  it('hashAsync gives the same digest as hash', async () => {
    const data = randomBytes(3 << 20, 7);
    expect(await hashAsync(data)).toBe(hash(data));
  });

  it('rejects non-bytes with a TypeError naming the argument', () => {
    expect(() => hash(42 as never)).toThrow(TypeError);
    expect(() => hash({} as never)).toThrow(/data/);
  });
});

describe('hashRows', () => {
  it('gives one digest per row equal to hashing the row alone', () => {
    const rowBytes = 48;
    const data = randomBytes(rowBytes * 10, 3);
    const digests = hashRows(data, rowBytes);
    expect(digests.byteLength).toBe(160);
    for (let r = 0; r < 10; r++) {
      const row = data.subarray(r * rowBytes, (r + 1) * rowBytes);
      expect(Buffer.from(digests.subarray(r * 16, r * 16 + 16)).toString('hex')).toBe(hash(row));
    }
  });

  it('hashes large batches (parallel path) the same as row by row', () => {
    const rowBytes = 4096;
    const rows = 3000; // 12 MiB: above the parallel threshold
    const data = randomBytes(rowBytes * rows, 11);
    const digests = hashRows(data, rowBytes);
    for (const r of [0, 1, 1234, rows - 1]) {
      expect(Buffer.from(digests.subarray(r * 16, r * 16 + 16)).toString('hex')).toBe(hash(data.subarray(r * rowBytes, (r + 1) * rowBytes)));
    }
  });

  it('tells apart rows that a weighted-sum hash would collide ([2,0] vs [0,1])', () => {
    const data = new Float32Array([2, 0, 0, 1]);
    const d = hashRows(data, 8);
    expect(Buffer.from(d.subarray(0, 16)).equals(Buffer.from(d.subarray(16, 32)))).toBe(false);
  });

  it('rejects a length that is not a multiple of rowBytes, and rowBytes < 1', () => {
    expect(() => hashRows(randomBytes(10), 3)).toThrow(TypeError);
    expect(() => hashRows(randomBytes(10), 0)).toThrow(RangeError);
    expect(() => hashRows(randomBytes(10), 2.5)).toThrow(/rowBytes/);
  });
});

describe('hashFile', () => {
  const dir = tempDir();

  it('is the documented tree hash: tag, length, then 16 MiB leaf digests', async () => {
    const data = randomBytes((16 << 20) * 2 + 12345, 5);
    const path = join(dir, 'tree.bin');
    writeFileSync(path, data);
    const leaves = [data.subarray(0, 16 << 20), data.subarray(16 << 20, 32 << 20), data.subarray(32 << 20)];
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(data.length));
    const top = Buffer.concat([Buffer.from('modelcache-tree-v1'), len, ...leaves.map((l) => Buffer.from(hash(l), 'hex'))]);
    expect(await hashFile(path)).toBe(hash(top));
  });

  it('hashes an empty file', async () => {
    const path = join(dir, 'empty.bin');
    writeFileSync(path, '');
    const len = Buffer.alloc(8);
    expect(await hashFile(path)).toBe(hash(Buffer.concat([Buffer.from('modelcache-tree-v1'), len])));
  });

  it('reports progress up to the file size', async () => {
    const path = join(dir, 'progress.bin');
    writeFileSync(path, randomBytes(40 << 20, 9));
    const seen: number[] = [];
    await hashFile(path, { onProgress: (done, total) => { expect(total).toBe(40 << 20); seen.push(done); } });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toBe(40 << 20);
  });

  it('gives the same digest whatever MODELCACHE_THREADS is', async () => {
    const path = join(dir, 'threads.bin');
    writeFileSync(path, randomBytes(50 << 20, 13));
    const here = await hashFile(path);
    const { execFileSync } = await import('node:child_process');
    const script = `import('${new URL('../dist/index.js', import.meta.url).href}').then(m => m.hashFile(${JSON.stringify(path)})).then(h => process.stdout.write(h))`;
    for (const threads of ['1', '3']) {
      const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, MODELCACHE_THREADS: threads } }).toString();
      expect(out, `threads=${threads}`).toBe(here);
    }
  });

  it('fails with a CacheError ERR_IO for a missing file', async () => {
    await expect(hashFile(join(dir, 'missing.bin'))).rejects.toMatchObject({ code: 'ERR_IO', name: 'CacheError' });
    await expect(hashFile(join(dir, 'missing.bin'))).rejects.toBeInstanceOf(CacheError);
  });

  it('rejects a directory with a TypeError naming path', async () => {
    await expect(hashFile(dir)).rejects.toThrow(/path/);
  });

  /** A sparse file of `bytes` (no disk used) whose mtime lies in the past. */
  function sparseFile(name: string, bytes: number): string {
    const path = join(dir, name);
    const fd = openSync(path, 'w');
    ftruncateSync(fd, bytes);
    closeSync(fd);
    utimesSync(path, 1e9, 1e9);
    return path;
  }

  it('fails with ERR_IO, not SIGBUS, when the file is truncated while it is hashed', () => {
    // 64 GiB of holes: the hash is still running when the first progress report truncates it.
    // A child process, because a read through a mapping of a truncated file kills the process.
    const path = sparseFile('truncated.bin', 64 * 2 ** 30);
    const script = `
      const { hashFile } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const { truncateSync } = await import('node:fs');
      let cut = false;
      const onProgress = () => { if (!cut) { cut = true; truncateSync(${JSON.stringify(path)}, 1000); } };
      try {
        await hashFile(${JSON.stringify(path)}, { onProgress });
        console.log(JSON.stringify({ resolved: true }));
      } catch (e) {
        console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message }));
      }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.signal).toBeNull();
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'CacheError', code: 'ERR_IO', message: expect.stringContaining('changed while it was hashed') });
  });

  it('fails with ERR_IO when the file is rewritten in place while it is hashed', async () => {
    const path = sparseFile('rewritten.bin', 2 ** 30);
    let written = false;
    const onProgress = () => {
      if (written) return;
      written = true;
      const fd = openSync(path, 'r+');
      writeSync(fd, 'x', 0);
      closeSync(fd);
    };
    await expect(hashFile(path, { onProgress })).rejects.toMatchObject({ name: 'CacheError', code: 'ERR_IO', message: expect.stringContaining('it was modified') });
  });
});
