// Large scratch files in os.tmpdir(): real bytes (not sparse) so reads hit the page cache the
// way model files do, always removed by the caller's finally.
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, readSync, closeSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createProgress } from '../../dist/progress.js';

const CHUNK = 16 << 20;

/** Writes `size` random bytes to a new temp file and returns { path, remove() }. */
export function writeRandomFile(size, name = 'data.bin') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelcache-bench-'));
  const file = path.join(dir, name);
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const progress = createProgress(`writing ${name}`, size, { bytes: true });
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const fd = openSync(file, 'w');
    try {
      for (let done = 0; done < size; ) {
        const n = Math.min(CHUNK, size - done);
        randomFillSync(buf, 0, n);
        writeSync(fd, buf, 0, n);
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
