// A one-line progress bar on stderr for long work (hashing, transfers, benchmarks). It draws
// only when stderr is a TTY and CI is not set, so logs and pipes stay clean.
import { formatBytes } from './format.js';

export interface Progress {
  /** Sets the amount done (same unit as total). */
  update(done: number): void;
  /** Clears the bar. */
  done(): void;
}

const NOOP: Progress = { update() {}, done() {} };

/** True when progress should be drawn on this stream. */
export function progressEnabled(stream: NodeJS.WriteStream = process.stderr): boolean {
  return Boolean(stream.isTTY) && !process.env.CI && process.env.MODELCACHE_PROGRESS !== '0';
}

/**
 * Creates a progress bar for `total` units (`bytes: true` formats them as sizes).
 * Returns a no-op when not on a TTY.
 */
export function createProgress(label: string, total: number, opts: { bytes?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (!progressEnabled(stream)) return NOOP;
  const start = Date.now();
  let last = 0;
  const fmt = (n: number) => (opts.bytes ? formatBytes(n) : String(n));
  const draw = (done: number) => {
    const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - 60));
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(frac * width);
    const secs = (Date.now() - start) / 1000;
    const rate = opts.bytes && secs > 0 ? `  ${formatBytes(done / secs)}/s` : '';
    stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${fmt(done)}/${fmt(total)}${rate}\x1b[K`);
  };
  return {
    update(done: number) {
      const now = Date.now();
      if (now - last < 80 && done < total) return;
      last = now;
      draw(done);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
