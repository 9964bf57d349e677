// Timing: every figure is the median of several samples, cases measured round-robin so that
// drift (thermal, page cache, other tenants) spreads over all of them rather than one.
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgress } from '../../dist/progress.js';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Frees what the previous sample left behind, so the next one does not pay for its GC. V8 unmaps
 * freed ArrayBuffers on a background thread, and a concurrent munmap of hundreds of MiB holds the
 * process's mmap lock for milliseconds: `pauseMs` lets that finish before the next timing.
 */
export async function settle(pauseMs = 0) {
  if (globalThis.gc) globalThis.gc();
  if (pauseMs > 0) await sleep(pauseMs);
}

/** Milliseconds taken by one call of `fn` (awaited when it returns a promise). */
export async function timeOnce(fn) {
  const t0 = performance.now();
  const r = fn();
  if (r && typeof r.then === 'function') await r;
  return performance.now() - t0;
}

/**
 * Returns a function that times `fn` over enough iterations for one sample to last about
 * `targetMs` (calibrated on the first call), and gives milliseconds per iteration: small inputs
 * (4 KiB) finish in microseconds, far below the timer's resolution.
 */
export function looped(fn, targetMs = 25) {
  let iterations = 0;
  return () => {
    if (iterations === 0) {
      let n = 1;
      for (;;) {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) fn();
        const ms = performance.now() - t0;
        if (ms >= targetMs / 4 || n >= 1 << 24) {
          iterations = Math.max(1, Math.ceil((n * targetMs) / Math.max(ms, 1e-3)));
          break;
        }
        n *= 4;
      }
    }
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) fn();
    return (performance.now() - t0) / iterations;
  };
}

/** GB/s (1 GB = 1e9 bytes) for `bytes` processed in `ms`. */
export const gbps = (bytes, ms) => bytes / (ms * 1e6);
/** MB/s (1 MB = 1e6 bytes) for `bytes` processed in `ms`. */
export const mbps = (bytes, ms) => bytes / (ms * 1e3);

/**
 * Runs rounds over `cases` ({ name, sample(): metrics | Promise<metrics> }) until each has at
 * least `min` samples and either `budgetMs` has passed or `max` rounds are done. One warm-up
 * call per case is discarded; `settleMs` is the pause after the GC before every sample (see
 * settle). `rotate`: each round starts one case later, so that no case always follows the same
 * one (a create right after a cold create pays for the memory that one freed). Returns Map
 * name -> { metric: number[] }.
 */
export async function measureRounds(label, cases, { min = 5, max = 15, budgetMs = 3000, warmup = 1, settleMs = 0, rotate = false } = {}) {
  const progress = createProgress(label, cases.length * min);
  const out = new Map(cases.map((c) => [c.name, {}]));
  try {
    for (let w = 0; w < warmup; w++) {
      for (const c of cases) {
        await settle(settleMs);
        await c.sample();
      }
    }
    const start = performance.now();
    for (let round = 0; round < max; round++) {
      if (round >= min && performance.now() - start >= budgetMs) break;
      for (let i = 0; i < cases.length; i++) {
        const c = cases[rotate ? (i + round) % cases.length : i];
        await settle(settleMs);
        const metrics = await c.sample();
        const bucket = out.get(c.name);
        for (const [k, v] of Object.entries(metrics)) (bucket[k] ??= []).push(v);
      }
      progress.update(Math.min((round + 1) * cases.length, cases.length * min));
    }
  } finally {
    progress.done();
  }
  return out;
}
