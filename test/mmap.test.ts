import { closeSync, openSync, ftruncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapFile, hashAsync, hash, CacheError } from '../src/index.js';
import { randomBytes, tempDir } from './helpers.js';

describe('mapFile', () => {
  const dir = tempDir();

  it('maps a file read-only with its exact bytes', () => {
    const path = join(dir, 'a.bin');
    const data = randomBytes(100_000, 4);
    writeFileSync(path, data);
    const m = mapFile(path);
    expect(m.mapped).toBe(true);
    expect(m.byteLength).toBe(data.length);
    expect(m.buffer.equals(data)).toBe(true);
    m.close();
  });

  it('maps an empty file as an empty buffer', () => {
    const path = join(dir, 'empty.bin');
    writeFileSync(path, '');
    const m = mapFile(path);
    expect(m.byteLength).toBe(0);
    expect(m.buffer.length).toBe(0);
    m.close();
  });

  it('maps a 1 GiB sparse file without reading it', () => {
    const path = join(dir, 'sparse.bin');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 1 << 30);
    closeSync(fd);
    const m = mapFile(path);
    expect(m.byteLength).toBe(1 << 30);
    expect(m.buffer[0]).toBe(0);
    expect(m.buffer[(1 << 30) - 1]).toBe(0);
    m.close();
  });

  it('close is idempotent and reading after close is an ERR_CLOSED error, not a crash', () => {
    const path = join(dir, 'b.bin');
    writeFileSync(path, randomBytes(4096, 2));
    const m = mapFile(path);
    const stale = m.buffer;
    m.close();
    m.close();
    expect(m.closed).toBe(true);
    expect(() => m.buffer).toThrow(CacheError);
    try {
      void m.buffer;
    } catch (err) {
      expect((err as CacheError).code).toBe('ERR_CLOSED');
    }
    // A view taken before close is detached: it reads as empty instead of touching unmapped memory.
    expect(stale.length).toBe(0);
    expect(stale[0]).toBeUndefined();
  });

  it('keeps the mapping alive for an async job started before close', async () => {
    const path = join(dir, 'c.bin');
    const data = randomBytes(64 << 20, 6);
    writeFileSync(path, data);
    const m = mapFile(path);
    const pending = hashAsync(m.buffer);
    m.close();
    expect(await pending).toBe(hash(data));
  });

  it('fails with ERR_IO naming the path when the file does not exist', () => {
    const path = join(dir, 'nope.bin');
    expect(() => mapFile(path)).toThrow(CacheError);
    expect(() => mapFile(path)).toThrow(/nope\.bin/);
  });

  it('rejects a non-string path with a TypeError', () => {
    expect(() => mapFile(42 as never)).toThrow(TypeError);
  });
});
