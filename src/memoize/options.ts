// tensorCache's options: validated completely when given (a bad codec level fails at
// `tensorCache(...)`, not at the first call), contradictions refused naming both options, and
// turned into the Cache a wrapped function stores into.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cache } from '../cache.js';
import { compress, type Codec } from '../codec.js';
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { DEFAULT_MAX_MEMORY_BYTES } from '../defaults.js';
import type { CacheDtype } from './batch.js';
import { checkIdentity, HINT_DEPENDS_ON } from './key.js';

/** Options of {@link tensorCache}. An instance's `tensorcache` property may override any of them. */
export interface TensorCacheOptions {
  /** Keep results on disk too. Without `dir`, a temporary directory removed at process exit. */
  persistent?: boolean;
  /** Disk cache directory (implies `persistent`; contradicts `persistent: false`). */
  dir?: string;
  /** Memory tier size. Default 1 GB. */
  maxMemoryBytes?: number;
  /** Disk tier size (needs `persistent` or `dir`). Default 10 GB. */
  maxDiskBytes?: number;
  /** Codec of the disk tier (needs `persistent` or `dir`): a name or `{ codec, level }`. Default zstd level 1 with byte-shuffle. */
  compression?: Codec | {
    /** Codec of the stored entries: `'zstd'`, `'lz4'` (faster to decode, larger) or `'none'`. */
    codec: Codec;
    /** Codec level (zstd -7..22, lz4 1..12), checked when `tensorCache` is called; default the codec's own (zstd 3, lz4 1). */
    level?: number;
  };
  /** Store float32 outputs as float16 or bfloat16 (returned as float32 again). */
  cacheDtype?: CacheDtype;
  /**
   * A fixed identity replacing the hash of the code and of the instance (constructor arguments or
   * state): code changes then do NOT invalidate cached results (a warning says so).
   */
  moduleHash?: string;
  /**
   * What the function reads besides its arguments, folded into the module hash (code is still
   * hashed): plain values (numbers, strings, arrays, plain objects, typed arrays, tensors),
   * `contentOf(path)` for a file (hashed by content), and sessions created by `modelcache/ort`
   * (keyed by their cache key: model bytes, options, runtime). A function is a TypeError.
   * `dependsOn: []` declares that the function reads nothing else.
   */
  dependsOn?: readonly unknown[];
  /**
   * Class and method forms: the instance's identity, replacing its constructor arguments (class
   * form) or its own enumerable data properties (method form). Called once per instance, at its
   * first call; it may return what `dependsOn` takes.
   */
  instanceKey?: (self: any) => unknown;
  /**
   * Plain-array arguments that are batch-aligned (one element per sample), by position (`0`) or
   * by member name of a plain-object argument (`'texts'`): `embed(texts: string[])` is then cached
   * per text. Tensors are always split per row; an undeclared array is a whole-call value.
   */
  rows?: readonly (number | string)[];
  /** false: call straight through, no caching. Default true. */
  enabled?: boolean;
  /** Class form: the method to wrap. Default 'forward'. */
  method?: string;
  /** Share an existing Cache instead of creating one (then no `dir`, `persistent`, sizes or `compression`). */
  cache?: Cache;
}

const OPTION_NAMES = [
  'persistent', 'dir', 'maxMemoryBytes', 'maxDiskBytes', 'compression', 'cacheDtype', 'moduleHash', 'dependsOn',
  'instanceKey', 'rows', 'enabled', 'method', 'cache',
] as const;

/** Options that only shape the Cache tensorCache builds: meaningless next to `cache`. */
const BUILDS_CACHE = ['persistent', 'dir', 'maxMemoryBytes', 'maxDiskBytes', 'compression'] as const;

function conflict(name: string, a: string, b: string, why: string, value: unknown): TypeError {
  return invalidType(`${name}.${a}`, `no ${a} together with ${b} (${why})`, value);
}

function checkCompression(name: string, c: unknown): void {
  const codec = typeof c === 'string' ? c : (c as { codec?: unknown } | null)?.codec;
  if (typeof c !== 'string' && (c === null || typeof c !== 'object')) throw invalidType(name, "'zstd', 'lz4', 'none' or { codec, level }", c);
  if (typeof c === 'object') checkOptionNames(name, c as object, ['codec', 'level']);
  if (codec !== 'zstd' && codec !== 'lz4' && codec !== 'none') throw invalidType(typeof c === 'string' ? name : `${name}.codec`, "'zstd', 'lz4' or 'none'", codec);
  const level = typeof c === 'object' ? (c as { level?: unknown }).level : undefined;
  // The codec's own rules for levels, applied now rather than at the first write.
  if (level !== undefined) compress(Buffer.alloc(0), { codec, level: level as number });
}

/** Validates options named `name` (`options`, or `this.tensorcache` for an instance's overrides). */
export function checkOptions(name: string, o: unknown): TensorCacheOptions {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object') throw invalidType(name, 'object', o);
  checkOptionNames(name, o, OPTION_NAMES);
  const opts = o as TensorCacheOptions;
  if (opts.persistent !== undefined && typeof opts.persistent !== 'boolean') throw invalidType(`${name}.persistent`, 'boolean', opts.persistent);
  if (opts.dir !== undefined && (typeof opts.dir !== 'string' || opts.dir.length === 0)) throw invalidType(`${name}.dir`, 'non-empty string', opts.dir);
  if (opts.maxMemoryBytes !== undefined) checkInteger(`${name}.maxMemoryBytes`, opts.maxMemoryBytes, 0, Number.MAX_SAFE_INTEGER);
  if (opts.maxDiskBytes !== undefined) checkInteger(`${name}.maxDiskBytes`, opts.maxDiskBytes, 0, Number.MAX_SAFE_INTEGER);
  if (opts.compression !== undefined) checkCompression(`${name}.compression`, opts.compression);
  if (opts.cacheDtype !== undefined && opts.cacheDtype !== 'float16' && opts.cacheDtype !== 'bfloat16') {
    throw invalidType(`${name}.cacheDtype`, "'float16' or 'bfloat16'", opts.cacheDtype);
  }
  if (opts.moduleHash !== undefined && (typeof opts.moduleHash !== 'string' || opts.moduleHash.length === 0)) {
    throw invalidType(`${name}.moduleHash`, 'non-empty string', opts.moduleHash);
  }
  if (opts.dependsOn !== undefined) {
    if (!Array.isArray(opts.dependsOn)) throw invalidType(`${name}.dependsOn`, 'an array of dependencies', opts.dependsOn);
    opts.dependsOn.forEach((d, i) => checkIdentity(d, `${name}.dependsOn[${i}]`, HINT_DEPENDS_ON));
  }
  if (opts.instanceKey !== undefined && typeof opts.instanceKey !== 'function') throw invalidType(`${name}.instanceKey`, 'function (self) => identity', opts.instanceKey);
  if (opts.rows !== undefined) {
    if (!Array.isArray(opts.rows)) throw invalidType(`${name}.rows`, 'an array of argument positions and member names', opts.rows);
    opts.rows.forEach((r, i) => {
      const ok = (typeof r === 'number' && Number.isSafeInteger(r) && r >= 0) || (typeof r === 'string' && r.length > 0);
      if (!ok) throw invalidType(`${name}.rows[${i}]`, 'an argument position (integer >= 0) or a member name (non-empty string)', r);
    });
  }
  if (opts.enabled !== undefined && typeof opts.enabled !== 'boolean') throw invalidType(`${name}.enabled`, 'boolean', opts.enabled);
  if (opts.method !== undefined && (typeof opts.method !== 'string' || opts.method.length === 0)) throw invalidType(`${name}.method`, 'non-empty string', opts.method);
  if (opts.cache !== undefined && !(opts.cache instanceof Cache)) throw invalidType(`${name}.cache`, 'a Cache', opts.cache);

  // Options that would be silently ignored are refused, naming both.
  if (opts.cache !== undefined) {
    for (const k of BUILDS_CACHE) {
      if (opts[k] !== undefined) throw conflict(name, k, `${name}.cache`, 'it configures the Cache tensorCache would build; set it on the Cache you pass', opts[k]);
    }
  }
  if (opts.persistent === false && opts.dir !== undefined) throw conflict(name, 'dir', `${name}.persistent: false`, 'persistent: false keeps results in memory only', opts.dir);
  const persistent = opts.persistent === true || opts.dir !== undefined;
  if (opts.cache === undefined && !persistent) {
    for (const k of ['maxDiskBytes', 'compression'] as const) {
      if (opts[k] !== undefined) throw conflict(name, k, 'a memory-only cache', `it applies to the disk tier: set ${name}.persistent: true or ${name}.dir`, opts[k]);
    }
  }
  return opts;
}

const tempDirs: string[] = [];
let exitHook = false;
function temporaryDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelcache-tensors-'));
  tempDirs.push(dir);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

/** The Cache of a wrapped function or instance: the one given, or one made from the options. */
export function buildCache(opts: TensorCacheOptions): Cache {
  if (opts.cache) return opts.cache;
  const persistent = opts.persistent ?? opts.dir !== undefined;
  const codec = typeof opts.compression === 'string' ? { codec: opts.compression } : (opts.compression ?? { codec: 'zstd' as Codec, level: 1 });
  const cache = new Cache({
    dir: persistent ? (opts.dir ?? temporaryDir()) : false,
    maxMemoryBytes: opts.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES,
    ...(opts.maxDiskBytes !== undefined ? { maxDiskBytes: opts.maxDiskBytes } : {}),
    compression: codec,
  });
  return cache;
}

/**
 * The options of one instance: the decorator's, overridden by its `tensorcache` property. An
 * instance that brings its own `cache` drops the decorator's options for building one.
 */
export function mergeOptions(base: TensorCacheOptions, own: unknown): TensorCacheOptions {
  if (own === undefined) return base;
  const o = checkOptions('this.tensorcache', own);
  const merged: Record<string, unknown> = { ...base };
  if (o.cache !== undefined) for (const k of BUILDS_CACHE) delete merged[k];
  if (o.persistent === false) delete merged.dir;
  if (o.dir !== undefined || o.persistent !== undefined) delete merged.cache;
  Object.assign(merged, o);
  return checkOptions('options (with this.tensorcache)', merged);
}
