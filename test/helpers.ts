// Shared test utilities: deterministic bytes, temp dirs that clean themselves up.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function randomBytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Smooth float32 data like real weights/activations (compressible once shuffled). */
export function floatSignal(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  const noise = randomBytes(n, seed);
  for (let i = 0; i < n; i++) out[i] = Math.sin(i / 50) * 0.1 + (noise[i] - 128) / 25600;
  return out;
}

/** A temp dir removed after the test file finishes. */
export function tempDir(prefix = 'modelcache-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
