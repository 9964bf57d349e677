// The one error type modelcache throws for cache-level failures, with stable codes, plus the
// argument-validation helpers that give TypeError/RangeError messages in one consistent shape.

/**
 * Stable error codes carried by {@link CacheError} and by argument errors (a `TypeError` or
 * `RangeError` from modelcache carries `code: 'ERR_BAD_INPUT'`). Branch on the code, never on the
 * message, which may change between releases.
 *
 * - `ERR_CORRUPT`: stored or supplied bytes fail validation (a damaged frame, index record,
 *   manifest or ONNX model). A cache treats a damaged entry of its own as a miss; the code reaches
 *   you when you decode bytes yourself (`decompress`, `decrypt`, a model a pass reads).
 * - `ERR_BAD_INPUT`: an argument or option is not what the call accepts, or the call needs
 *   something the cache was not opened with (file entries without a disk tier).
 * - `ERR_DECRYPT`: the bytes were encrypted with another key or context, or were tampered with;
 *   also an encrypted entry read through a cache that has no `encryption`.
 * - `ERR_TIER`: a storage tier failed (mostly seen in warnings: a failing tier degrades to a miss).
 * - `ERR_IO`: the operating system refused a file operation (the message carries its errno text).
 * - `ERR_NO_SPACE`: the disk or quota is full.
 * - `ERR_NO_MEMORY`: a native allocation failed.
 * - `ERR_CRYPTO`: OpenSSL failed for a reason other than a wrong key or failed authentication.
 * - `ERR_CLOSED`: the cache, tier or pipeline was used after `close()`.
 * - `ERR_NATIVE`: the native addon cannot be found or loaded.
 * - `ERR_INTERNAL`: anything else (a bug; please report it).
 */
export type CacheErrorCode =
  | 'ERR_CORRUPT'
  | 'ERR_BAD_INPUT'
  | 'ERR_DECRYPT'
  | 'ERR_TIER'
  | 'ERR_IO'
  | 'ERR_NO_SPACE'
  | 'ERR_NO_MEMORY'
  | 'ERR_CRYPTO'
  | 'ERR_CLOSED'
  | 'ERR_NATIVE'
  | 'ERR_INTERNAL';

const KNOWN_CODES = new Set<string>([
  'ERR_CORRUPT', 'ERR_BAD_INPUT', 'ERR_DECRYPT', 'ERR_TIER', 'ERR_IO', 'ERR_NO_SPACE', 'ERR_NO_MEMORY',
  'ERR_CRYPTO', 'ERR_CLOSED', 'ERR_NATIVE', 'ERR_INTERNAL',
]);

/**
 * A failure of the cache itself: corrupt stored bytes, a wrong key, an I/O error, a closed handle.
 * `code` is stable across releases; `message` names the argument or resource involved.
 */
export class CacheError extends Error {
  /** What kind of failure this is (see {@link CacheErrorCode}); stable across releases, unlike the message. */
  readonly code: CacheErrorCode;

  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheError';
    this.code = code;
  }
}

// errno values of a full disk or quota, for errors that carry only the number (lmdb-js).
const ENOSPC = 28;
const EDQUOT = 122;

/**
 * The stable code for a failure from below: a known code is kept; a system error (Node's
 * `'ENOENT'`, `'EACCES'`... or a bare errno number) becomes `ERR_IO`, or `ERR_NO_SPACE` for a full
 * disk; anything else is `ERR_INTERNAL`. Codes are always strings, never errno numbers.
 */
export function cacheErrorCode(code: unknown): CacheErrorCode {
  if (typeof code === 'string' && KNOWN_CODES.has(code)) return code as CacheErrorCode;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === ENOSPC || code === EDQUOT) return 'ERR_NO_SPACE';
  if ((typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) || (typeof code === 'number' && Number.isInteger(code) && code > 0)) return 'ERR_IO';
  return 'ERR_INTERNAL';
}

/** Re-throws an error from the native addon or the OS as a CacheError with a JS stack. */
export function rethrowNative(err: unknown, context?: string): never {
  if (err instanceof CacheError || err instanceof TypeError || err instanceof RangeError) throw err;
  const e = err as { code?: unknown; message?: unknown };
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  throw new CacheError(cacheErrorCode(e?.code), context ? `${context}: ${msg}` : msg, { cause: err });
}

const SECRET = Symbol('secret');

/**
 * Marks a value that must never appear in a message (an encryption key): {@link invalidType} and
 * {@link outOfRange} then describe it by its type and size only.
 */
export function secret(value: unknown): object {
  return { [SECRET]: value };
}

function describeSecret(value: unknown): string {
  if (typeof value === 'string') return `a string of ${value.length} characters (not shown)`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes (not shown)`;
  if (value === null || value === undefined) return String(value);
  return `a value of type ${typeof value} (not shown)`;
}

const DESCRIBED = Symbol('described');

/** A value described in words ("an object holding a function"), for messages about what is inside a value. */
export function described(text: string): object {
  return { [DESCRIBED]: text };
}

function describe(value: unknown): string {
  if (value !== null && typeof value === 'object' && SECRET in value) return describeSecret((value as { [SECRET]: unknown })[SECRET]);
  if (value !== null && typeof value === 'object' && DESCRIBED in value) return (value as { [DESCRIBED]: string })[DESCRIBED];
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  const t = typeof value;
  if (t === 'string') {
    const s = value as string;
    return `${JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s)} of type string`;
  }
  if (t === 'number' || t === 'bigint' || t === 'boolean') return `${String(value)} of type ${t}`;
  if (t === 'function') return 'a function';
  const ctor = (value as object).constructor?.name;
  return ctor ? `an instance of ${ctor}` : 'an object';
}

/** A TypeError with `code: 'ERR_BAD_INPUT'` in the shape "Expected X for name but received Y". */
export function invalidType(name: string, expected: string, value: unknown): TypeError {
  const err = new TypeError(`Expected ${expected} for ${name} but received ${describe(value)}`);
  (err as TypeError & { code: string }).code = 'ERR_BAD_INPUT';
  return err;
}

/** A RangeError with `code: 'ERR_BAD_INPUT'` in the same shape. */
export function outOfRange(name: string, expected: string, value: unknown): RangeError {
  const err = new RangeError(`Expected ${expected} for ${name} but received ${describe(value)}`);
  (err as RangeError & { code: string }).code = 'ERR_BAD_INPUT';
  return err;
}

/** Rejects option names that are not known (catches misspellings like `chunksize`). */
export function checkOptionNames(name: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const err = new TypeError(
        `Unknown option ${JSON.stringify(key)} in ${name}; expected one of ${known.map((k) => JSON.stringify(k)).join(', ')}`,
      );
      (err as TypeError & { code: string }).code = 'ERR_BAD_INPUT';
      throw err;
    }
  }
}

/** Validates an integer option in [min, max]. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(name, `integer between ${min} and ${max}`, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `integer between ${min} and ${max}`, value);
  }
  return value;
}
