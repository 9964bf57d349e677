// The `cache` field of the session options: validated (a misspelled name is an error that names
// it), resolved to a disk tier, and stripped before onnxruntime sees the options.
import { resolve } from 'node:path';
import { Cache } from '../cache.js';
import { checkCipher, type Cipher } from '../cipher.js';
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { defaultCacheDir } from '../paths.js';
import { DiskTier } from '../store/disk/tier.js';

/** How a session is cached: the `cache` field of {@link InferenceSession.create}'s options. */
export interface SessionCacheOptions {
  /** Cache directory. Default: `MODELCACHE_DIR`, else the platform cache dir (`~/.cache/modelcache` on Linux). */
  dir?: string;
  /** An existing {@link Cache} whose disk tier holds the entries (instead of `dir`). */
  cache?: Cache;
  /**
   * 'speed' (default): the entry is the whole optimized model, loaded zero-copy from a memory map.
   * 'size': weightless; the entry holds the optimized graph and only the weights that differ from
   * the source model, the others are read from the source model at load time.
   */
  mode?: 'speed' | 'size';
  /**
   * Encrypts entries at rest: `{ algorithm: 'aes-256-gcm', key }` or `{ encrypt, decrypt }` callbacks.
   * An entry that does not decrypt with it is rebuilt. (Only the session entries: the small file
   * memo entries hold hashes, never model bytes.)
   */
  encryption?: Cipher;
  /** Size limit of the cache directory; least recently used entries are evicted past it. */
  maxBytes?: number;
}

const NAMES = ['dir', 'cache', 'mode', 'encryption', 'maxBytes'] as const;

/** Validated cache options; `undefined` when caching is off. */
export interface ResolvedCacheOptions {
  disk: DiskTier | undefined;
  mode: 'speed' | 'size';
  encryption: Cipher | undefined;
}

/** Validates the `cache` option. `false` turns caching off; `undefined` and `true` mean defaults. */
export function checkCacheOption(value: unknown): SessionCacheOptions | false {
  if (value === false) return false;
  if (value === undefined || value === true) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Cache) {
    throw invalidType('options.cache', 'an object ({ dir, cache, mode, encryption, maxBytes }) or false', value);
  }
  checkOptionNames('options.cache', value, NAMES);
  const o = value as SessionCacheOptions;
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir.length === 0)) throw invalidType('options.cache.dir', 'non-empty string', o.dir);
  if (o.cache !== undefined && !(o.cache instanceof Cache)) throw invalidType('options.cache.cache', 'a Cache', o.cache);
  if (o.cache !== undefined && o.dir !== undefined) {
    throw invalidType('options.cache', 'either dir or cache, not both', 'both');
  }
  if (o.mode !== undefined && o.mode !== 'speed' && o.mode !== 'size') throw invalidType('options.cache.mode', "'speed' or 'size'", o.mode);
  if (o.encryption !== undefined) checkCipher('options.cache.encryption', o.encryption);
  if (o.maxBytes !== undefined) {
    checkInteger('options.cache.maxBytes', o.maxBytes, 0, Number.MAX_SAFE_INTEGER);
    if (o.cache !== undefined) throw invalidType('options.cache.maxBytes', 'no maxBytes with an existing cache (set it on that Cache)', o.maxBytes);
  }
  return o;
}

// One disk tier per directory and limit for the whole process: opening the index is not free, and
// every session of a process shares the directory's LRU.
const tiers = new Map<string, DiskTier>();

/** The disk tier the entries go to (opened once per directory per process). */
export function resolveCache(o: SessionCacheOptions): ResolvedCacheOptions {
  const mode = o.mode ?? 'speed';
  const encryption = o.encryption;
  if (o.cache) return { disk: o.cache.disk, mode, encryption };
  const dir = resolve(o.dir ?? defaultCacheDir());
  const id = `${dir}\0${o.maxBytes ?? ''}`;
  let disk = tiers.get(id);
  if (!disk) {
    disk = new DiskTier({ dir, ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}) });
    tiers.set(id, disk);
  }
  return { disk, mode, encryption };
}
