// Large scratch files in os.tmpdir(): real bytes (not sparse) so reads hit the page cache the
// way model files do, always removed by the caller's finally.
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, readSync, closeSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProgress } from '../../dist/progress.js';

const CHUNK = 16 << 20;

// Removed on any exit, including Ctrl-C (child.mjs turns signals into process.exit), in case the
// suite's own finally never runs.
const live = new Set();
process.on('exit', () => {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
});

/**
 * Writes `size` pseudo-random bytes (an AES-128-CTR keystream: incompressible, never repeating,
 * and several times faster than randomFill) to a new temp file; returns { path, remove() }.
 */
export function writeRandomFile(size, name = 'data.bin') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelcache-bench-'));
  const file = path.join(dir, name);
  live.add(dir);
  const remove = () => {
    rmSync(dir, { recursive: true, force: true });
    live.delete(dir);
  };
  const progress = createProgress(`writing ${name}`, size, { bytes: true });
  try {
    const zeros = Buffer.alloc(CHUNK);
    const keystream = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
    const fd = openSync(file, 'w');
    try {
      for (let done = 0; done < size; ) {
        const n = Math.min(CHUNK, size - done);
        const chunk = keystream.update(zeros.subarray(0, n));
        for (let off = 0; off < n; ) off += writeSync(fd, chunk, off);
        done += n;
        progress.update(done);
      }
    } finally {
      closeSync(fd);
      progress.done();
    }
  } catch (err) {
    remove();
    throw err;
  }
  return { path: file, remove };
}

/** Reads a file once and drops the bytes: the timed runs then all start from a warm page cache. */
export function warmPageCache(file) {
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(file, 'r');
  try {
    while (readSync(fd, buf, 0, CHUNK, null) > 0);
  } finally {
    closeSync(fd);
  }
}
