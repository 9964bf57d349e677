// The `cache` field of the session options: validated when given (a misspelled name is an error
// that names it) and stripped before onnxruntime sees the options. Nothing here loads the storage
// stack: a Cache the caller passes is recognised by its class only when it is not a plain object.
import type { Cache } from '../cache.js';
import type { Cipher } from '../cipher.js';
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import type { Tier } from '../store/tier.js';

/** Which form the cache entry takes (see the README's Sessions section for the rule). */
export type EntryFormatOption = 'auto' | 'ort' | 'onnx';

/** How a session is cached: the object form of the `cache` field of {@link InferenceSessionFactory.create | InferenceSession.create}'s options. */
export interface SessionCacheOptions {
  /** Cache directory. Default: `MODELCACHE_DIR`, else the platform cache dir (`~/.cache/modelcache` on Linux). */
  dir?: string;
  /** An existing {@link Cache} that keeps the entries (its disk tier, and its shared tier if it has one), instead of `dir`. */
  cache?: Cache;
  /**
   * A shared tier (e.g. an `AzureBlobTier`) behind the disk tier of `dir`: entries found there are
   * downloaded (verified) and kept locally; entries built here are uploaded in the background.
   */
  shared?: Tier;
  /**
   * 'speed' (default): the entry holds the whole optimized model.
   * 'size': weightless; the entry holds the optimized graph and only the weights that differ from
   * the source model, the others are read from the source model at load time (so with
   * `encryption`, the unchanged weights stay readable in the source model only).
   */
  mode?: 'speed' | 'size';
  /**
   * The entry's form in mode 'speed': 'ort' (ORT format, loaded through onnxruntime's own
   * memory-mapped path), 'onnx' (optimized ONNX with external data and the pre-packed weights
   * saved beside it), or 'auto' (default: chosen per model at build time; 'onnx' where MatMul/Gemm
   * weights dominate and onnxruntime's load of it checks out, else 'ort').
   */
  format?: EntryFormatOption;
  /**
   * Encrypts entries at rest: `{ algorithm: 'aes-256-gcm', key }` or `{ encrypt, decrypt }` callbacks.
   * An entry that does not decrypt with it is rebuilt.
   */
  encryption?: Cipher;
  /** Size limit of the cache directory; least recently used entries are evicted past it. */
  maxBytes?: number;
  /**
   * A miss returns a plain session at once and saves the entry in a child process. `true`: `create`
   * resolves only once that save has ended (what `modelcache warm` and tests use). Default false.
   */
  wait?: boolean;
}

/** The validated `cache` option: where entries go and how. */
export interface CheckedCacheOptions {
  dir: string | undefined;
  cache: Cache | undefined;
  shared: Tier | undefined;
  mode: 'speed' | 'size';
  format: EntryFormatOption;
  encryption: Cipher | undefined;
  maxBytes: number | undefined;
  wait: boolean;
}

const NAMES = ['dir', 'cache', 'shared', 'mode', 'format', 'encryption', 'maxBytes', 'wait'] as const;
const EXPECTED = 'true, false, a Cache, or an object ({ dir, cache, shared, mode, format, encryption, maxBytes, wait })';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A Cache instance (its module is loaded already when the caller has one). */
async function checkCache(name: string, v: unknown): Promise<Cache> {
  const { Cache } = await import('../cache.js');
  if (!(v instanceof Cache)) throw invalidType(name, 'a Cache', v);
  return v;
}

/**
 * Validates the `cache` option. `false` turns caching off; `undefined` and `true` mean the
 * defaults; a Cache is `{ cache }`.
 */
export async function checkCacheOption(value: unknown): Promise<CheckedCacheOptions | false> {
  if (value === false) return false;
  let o: SessionCacheOptions;
  if (value === undefined || value === true) o = {};
  else if (isPlainObject(value)) o = value;
  else if (value !== null && typeof value === 'object' && !Array.isArray(value)) o = { cache: await checkCache('options.cache', value) };
  else throw invalidType('options.cache', EXPECTED, value);
  checkOptionNames('options.cache', o, NAMES);
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir.length === 0)) throw invalidType('options.cache.dir', 'non-empty string', o.dir);
  const cache = o.cache === undefined ? undefined : await checkCache('options.cache.cache', o.cache);
  if (cache !== undefined) {
    for (const k of ['dir', 'shared', 'encryption', 'maxBytes'] as const) {
      if (o[k] !== undefined) throw invalidType(`options.cache.${k}`, `no ${k} with an existing Cache (set it on that Cache)`, k === 'encryption' ? '(a cipher)' : o[k]);
    }
  }
  if (o.shared !== undefined && (o.shared === null || typeof o.shared !== 'object' || typeof (o.shared as Tier).get !== 'function')) {
    throw invalidType('options.cache.shared', 'a tier (e.g. an AzureBlobTier)', o.shared);
  }
  if (o.mode !== undefined && o.mode !== 'speed' && o.mode !== 'size') throw invalidType('options.cache.mode', "'speed' or 'size'", o.mode);
  if (o.format !== undefined && o.format !== 'auto' && o.format !== 'ort' && o.format !== 'onnx') throw invalidType('options.cache.format', "'auto', 'ort' or 'onnx'", o.format);
  if (o.format !== undefined && o.format !== 'auto' && o.mode === 'size') throw invalidType('options.cache.format', "'auto' in mode 'size' (its entry is always a weightless ONNX model)", o.format);
  if (o.encryption !== undefined) (await import('../cipher.js')).checkCipher('options.cache.encryption', o.encryption);
  if (o.maxBytes !== undefined) checkInteger('options.cache.maxBytes', o.maxBytes, 0, Number.MAX_SAFE_INTEGER);
  if (o.wait !== undefined && typeof o.wait !== 'boolean') throw invalidType('options.cache.wait', 'boolean', o.wait);
  return {
    dir: o.dir,
    cache,
    shared: o.shared,
    mode: o.mode ?? 'speed',
    format: o.format ?? 'auto',
    encryption: o.encryption,
    maxBytes: o.maxBytes,
    wait: o.wait ?? false,
  };
}
