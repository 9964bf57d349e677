// Parsers for CLI option values. They throw commander's InvalidArgumentError, which commander
// turns into a one-line usage error naming the option ("option '--max-bytes <size>' argument ...").
import { InvalidArgumentError } from 'commander';
import { isNamespace } from '../store/namespace.js';

/** Decimal units are powers of 1000, binary units and bare letters powers of 1024 (as `ls -h`, `du -h`). */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** The rule {@link parseSize} follows, for --help texts. */
export const SIZE_RULE = 'a byte count or a size: KB/MB/GB/TB are powers of 1000; KiB/MiB/GiB/TiB and K/M/G/T powers of 1024 (e.g. 500MB, 2GiB, 1.5G)';

/**
 * "500MB" -> 500000000, "2GiB" / "2G" -> 2147483648, "1048576" -> 1048576. Units are
 * case-insensitive; fractions are allowed with a unit and rounded to whole bytes.
 */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected a size such as 1048576, 500MB, 2GiB or 1.5G, got ${JSON.stringify(value)}`);
  const unit = SIZE_UNITS[m[2].toLowerCase()];
  if (unit === undefined) {
    throw new InvalidArgumentError(`unknown size unit ${JSON.stringify(m[2])}; use B, KB, MB, GB, TB (1000^n) or KiB, MiB, GiB, TiB, K, M, G, T (1024^n)`);
  }
  const n = Number(m[1]);
  if (unit === 1 && !Number.isInteger(n)) throw new InvalidArgumentError(`a byte count must be a whole number, got ${JSON.stringify(value)}`);
  // Round, not floor: 2.3 * 1000 is 2299.9999999999995 in floating point.
  const bytes = Math.round(n * unit);
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`size ${JSON.stringify(value)} is too large`);
  return bytes;
}

/** A whole number >= 1 (for --limit). */
export function parsePositiveInt(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number >= 1, got ${JSON.stringify(value)}`);
  return n;
}

/** A namespace of the grammar (for --namespace): 'session', 'pipeline.output', 'tensor.<hash>'. */
export function parseNamespace(value: string): string {
  if (!isNamespace(value)) throw new InvalidArgumentError(`expected a namespace such as session, pipeline.output or tensor.<hash> (dot-separated segments of a-z, 0-9, _ and -), got ${JSON.stringify(value)}`);
  return value;
}

/** A non-empty path (for --dir: an empty one is a mistake, not the default). */
export function parseDir(value: string): string {
  if (value === '') throw new InvalidArgumentError('expected a directory, got an empty string (leave --dir out for the default)');
  return value;
}
