// The options of a Cache and the tiers they describe: explicit tiers, or a memory tier and a disk
// tier from sizes and a directory, with an optional shared tier behind them.
import type { Cipher } from '../cipher.js';
import type { Codec } from '../codec.js';
import { DEFAULT_MAX_DISK_BYTES, DEFAULT_MAX_MEMORY_BYTES, DEFAULT_MAX_VALUE_BYTES } from '../defaults.js';
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { defaultCacheDir } from '../paths.js';
import { DiskTier } from '../store/disk/tier.js';
import { MemoryTier } from '../store/memory.js';
import type { Tier } from '../store/tier.js';
import type { CompressionOptions } from './codec.js';

/** Options of `Cache`. */
export interface CacheOptions {
  /** Explicit tiers, fastest first. When given, `dir`, `maxMemoryBytes` and `maxDiskBytes` are not used. */
  tiers?: Tier[];
  /** Disk tier directory; `false` for memory only. Default: `MODELCACHE_DIR` or the platform cache dir. */
  dir?: string | false;
  /** Memory tier size (0 turns it off). Default 1 GB. */
  maxMemoryBytes?: number;
  /** Disk tier size. Default 10 GB. */
  maxDiskBytes?: number;
  /** Frame codec for encoded tiers: a codec name, options, or `false` for 'none'. Default zstd level 3. */
  compression?: Codec | CompressionOptions | false;
  /** Encrypts values and file entries in encoded tiers: `{ algorithm: 'aes-256-gcm', key }` or `{ encrypt, decrypt }`. */
  encryption?: Cipher;
  /**
   * A shared tier behind memory and disk (e.g. an AzureBlobTier): reads fall through to it, its
   * hits are kept locally, and local puts are uploaded to it in the background (`flush()` waits).
   */
  shared?: Tier;
  /**
   * The largest raw value this cache stores in encoded tiers and decodes from them: a stored frame
   * that claims more is corrupt (a miss) before anything is allocated, so a small hostile blob
   * cannot make a read allocate gigabytes. Default: 1 GB, or the memory tier's limit when larger.
   */
  maxValueBytes?: number;
  /** How long `getOrCompute` waits for another process computing the same key before computing itself, ms. Default 10 minutes. */
  lockWaitMs?: number;
}

const NAMES = ['tiers', 'dir', 'maxMemoryBytes', 'maxDiskBytes', 'compression', 'encryption', 'shared', 'lockWaitMs', 'maxValueBytes'];

/** Validates the options and builds the tiers they describe, fastest first. */
export function buildTiers(options: CacheOptions): { tiers: Tier[]; maxValueBytes: number } {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
  checkOptionNames('Cache options', options, NAMES);
  const shared = sharedTier(options.shared);
  const maxValue = options.maxValueBytes === undefined ? undefined : checkInteger('options.maxValueBytes', options.maxValueBytes, 1, Number.MAX_SAFE_INTEGER);
  const withLimit = (tiers: Tier[]) => {
    const memory = tiers.find((t) => !t.encoded)?.stats().maxBytes ?? 0;
    return { tiers, maxValueBytes: maxValue ?? Math.max(DEFAULT_MAX_VALUE_BYTES, memory) };
  };
  if (options.tiers !== undefined) {
    if (!Array.isArray(options.tiers) || options.tiers.some((t) => !t || typeof t.get !== 'function')) {
      throw invalidType('options.tiers', 'array of tiers', options.tiers);
    }
    return withLimit([...options.tiers, ...shared]);
  }
  const tiers: Tier[] = [];
  const mem = options.maxMemoryBytes === undefined ? DEFAULT_MAX_MEMORY_BYTES : checkInteger('options.maxMemoryBytes', options.maxMemoryBytes, 0, Number.MAX_SAFE_INTEGER);
  if (mem > 0) tiers.push(new MemoryTier({ maxBytes: mem }));
  if (options.dir !== false) {
    const dir = options.dir ?? defaultCacheDir();
    if (typeof dir !== 'string' || dir.length === 0) throw invalidType('options.dir', 'non-empty string or false', dir);
    const maxBytes = options.maxDiskBytes === undefined ? DEFAULT_MAX_DISK_BYTES : checkInteger('options.maxDiskBytes', options.maxDiskBytes, 0, Number.MAX_SAFE_INTEGER);
    tiers.push(new DiskTier({ dir, maxBytes }));
  }
  return withLimit([...tiers, ...shared]);
}

function sharedTier(shared: unknown): Tier[] {
  if (shared === undefined) return [];
  if (shared === null || typeof shared !== 'object' || typeof (shared as Tier).get !== 'function') {
    throw invalidType('options.shared', 'a tier (e.g. an AzureBlobTier)', shared);
  }
  return [shared as Tier];
}
