// Where a pipeline caches: a Cache of the caller's, or one built from `cache.dir` (a path, a blob
// container URL, or a list of them) and the `{ accountName, containerName }` forms: a disk tier
// in the first local directory, later directories opened read-only, and one shared tier.
import { resolve } from 'node:path';
import { Cache } from '../cache.js';
import { CacheError, checkOptionNames, invalidType } from '../errors.js';
import { defaultCacheDir } from '../paths.js';
import { AzureBlobTier, type AzureBlobTierOptions, type TokenCredentialLike } from '../store/azure/tier.js';
import { DiskTier } from '../store/disk/tier.js';
import type { Tier } from '../store/tier.js';

/** Tuning of the shared tier a pipeline creates (timeouts, block size, progress...). */
export type SharedTierTuning = Pick<
  AzureBlobTierOptions,
  'blockSize' | 'maxSingleShotSize' | 'concurrency' | 'maxTries' | 'tryTimeoutMs' | 'retryDelayMs' | 'cooldownMs' | 'progress'
>;

/**
 * Where a pipeline keeps its outputs.
 *
 * @example
 * { dir: ['.cache', 'https://acct.blob.core.windows.net/models'] }
 * { dir: '.cache', accountName: 'acct', containerName: 'models', updateSharedCache: false }
 */
export interface PipelineCacheOptions {
  /**
   * Local directories and at most one blob container URL
   * (`https://<account>.blob.core.windows.net/<container>[/<prefix>]`). The first local directory
   * is written; later ones are only read. Default: `MODELCACHE_DIR` or the platform cache dir.
   */
  dir?: string | readonly string[];
  /** Shared store in this storage account (with `containerName`). */
  accountName?: string;
  /** The blob container of the shared store, with `accountName` or `connectionString` (alone it is a CacheError `ERR_BAD_INPUT`). */
  containerName?: string;
  /** Endpoint of `accountName`'s blob service when it is not `https://<account>.blob.core.windows.net`. */
  blobEndpoint?: string;
  /** Shared store through a connection string (with `containerName`). */
  connectionString?: string;
  /** Credential for URL and account forms (default `DefaultAzureCredential`). */
  credential?: TokenCredentialLike;
  /** Folder inside the container. */
  prefix?: string;
  /** Upload outputs computed here to the shared store. Default true when a shared store is given. */
  updateSharedCache?: boolean;
  /** A ready shared tier with file entries (an AzureBlobTier) instead of the location options above; the pipeline does not close it. */
  shared?: Tier;
  /** Same as {@link shared}, for an AzureBlobTier. */
  sharedTier?: AzureBlobTier;
  /** Options of the shared tier the pipeline creates. */
  sharedOptions?: SharedTierTuning;
}

/** The storage of a pipeline. */
export interface PipelineStorage {
  cache: Cache;
  /** True when the pipeline built `cache` (and closes it). */
  owned: boolean;
  /** Further local directories, only read. */
  readOnly: Cache[];
  /** The shared tier of `cache`, if it has one. */
  shared: Tier | undefined;
  /** Outputs and evaluations made here are uploaded to the shared tier, and bad shared entries withdrawn. */
  update: boolean;
}

const TUNING = ['blockSize', 'maxSingleShotSize', 'concurrency', 'maxTries', 'tryTimeoutMs', 'retryDelayMs', 'cooldownMs', 'progress'];
const NAME = 'options.cache';

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** A tier lent to the pipeline's Cache: everything but `close` (its owner closes it). */
function borrowed(tier: Tier): Tier {
  return new Proxy(tier, {
    get(target, key) {
      if (key === 'close') return async () => {};
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function checkSharedTier(name: string, tier: unknown): Tier {
  const t = tier as Tier | null;
  if (t === null || typeof t !== 'object' || !t.shared || typeof t.lookupFiles !== 'function' || typeof t.downloadFiles !== 'function' || typeof t.uploadFiles !== 'function') {
    throw invalidType(name, 'a shared tier with file entries (an AzureBlobTier)', tier);
  }
  return t;
}

/** Checks a Cache the caller gives: pass outputs are files that passes read by path. */
function fromCache(cache: Cache, maxLocalBytes: number | undefined): PipelineStorage {
  if (maxLocalBytes !== undefined) throw invalidType('options.maxLocalBytes', `nothing when ${NAME} is a Cache (set maxDiskBytes on the Cache)`, maxLocalBytes);
  if (!cache.disk) throw invalidType(NAME, 'a Cache with a disk tier (dir): pass outputs are files that passes read by path', 'a Cache without one');
  if (cache.encrypted) throw invalidType(NAME, 'a Cache without encryption: pass outputs are files that passes and onnxruntime read by path', 'a Cache with encryption');
  const shared = cache.tiers.find((t) => t.shared);
  return { cache, owned: false, readOnly: [], shared, update: shared !== undefined && shared.update !== false };
}

/** Resolves `options.cache` of a Pipeline (`maxLocalBytes`: the disk tier's limit, when given). */
export function resolveStorage(cache: unknown, maxLocalBytes?: number): PipelineStorage {
  if (cache instanceof Cache) return fromCache(cache, maxLocalBytes);
  let opts: PipelineCacheOptions;
  if (cache === undefined) opts = {};
  else if (typeof cache === 'string' || Array.isArray(cache)) opts = { dir: cache as string | string[] };
  else if (cache !== null && typeof cache === 'object') {
    checkOptionNames(NAME, cache, ['dir', 'accountName', 'containerName', 'blobEndpoint', 'connectionString', 'credential', 'prefix', 'updateSharedCache', 'shared', 'sharedTier', 'sharedOptions']);
    opts = cache as PipelineCacheOptions;
  } else throw invalidType(NAME, 'a Cache, a directory, a list of directories and blob URLs, or { dir, accountName, containerName, updateSharedCache }', cache);

  const dirs = opts.dir === undefined ? [] : typeof opts.dir === 'string' ? [opts.dir] : opts.dir;
  if (!Array.isArray(dirs) || dirs.some((d) => typeof d !== 'string' || d.length === 0)) {
    throw invalidType(`${NAME}.dir`, 'a path or blob URL, or a list of them', opts.dir);
  }
  const urls = dirs.filter(isUrl);
  const localDirs = dirs.filter((d) => !isUrl(d)).map((d) => resolve(d));
  if (localDirs.length === 0) localDirs.push(resolve(defaultCacheDir()));

  if (opts.updateSharedCache !== undefined && typeof opts.updateSharedCache !== 'boolean') {
    throw invalidType(`${NAME}.updateSharedCache`, 'boolean', opts.updateSharedCache);
  }
  const tuning = opts.sharedOptions ?? {};
  if (tuning === null || typeof tuning !== 'object') throw invalidType(`${NAME}.sharedOptions`, 'object', tuning);
  checkOptionNames(`${NAME}.sharedOptions`, tuning, TUNING);

  const forms = [
    urls.length > 0 && `a blob URL in ${NAME}.dir`,
    opts.accountName !== undefined && `${NAME}.accountName`,
    opts.connectionString !== undefined && `${NAME}.connectionString`,
    opts.sharedTier !== undefined && `${NAME}.sharedTier`,
    opts.shared !== undefined && `${NAME}.shared`,
  ].filter(Boolean) as string[];
  if (urls.length > 1 || forms.length > 1) {
    throw new CacheError('ERR_BAD_INPUT', `${NAME} names more than one shared location (${urls.length > 1 ? urls.join(', ') : forms.join(', ')}); give one`);
  }
  if (opts.containerName !== undefined && opts.accountName === undefined && opts.connectionString === undefined) {
    throw new CacheError('ERR_BAD_INPUT', `${NAME}.containerName needs ${NAME}.accountName or ${NAME}.connectionString`);
  }
  const update = opts.updateSharedCache ?? true;
  const common = { ...tuning, ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}), ...(opts.credential ? { credential: opts.credential } : {}), update };

  let shared: Tier | undefined;
  if (opts.sharedTier !== undefined) {
    if (!(opts.sharedTier instanceof AzureBlobTier)) throw invalidType(`${NAME}.sharedTier`, 'an AzureBlobTier', opts.sharedTier);
    // Read-only use of a tier that may write: a twin that cannot (a borrowed tier is never closed here).
    shared = update || !opts.sharedTier.update ? borrowed(opts.sharedTier) : opts.sharedTier.readOnlyTwin();
  } else if (opts.shared !== undefined) shared = borrowed(checkSharedTier(`${NAME}.shared`, opts.shared));
  else if (urls.length === 1) shared = new AzureBlobTier({ containerUrl: urls[0], ...common });
  else if (opts.accountName !== undefined) {
    shared = new AzureBlobTier({ accountName: opts.accountName, containerName: opts.containerName as string, ...(opts.blobEndpoint ? { blobEndpoint: opts.blobEndpoint } : {}), ...common });
  } else if (opts.connectionString !== undefined) {
    shared = new AzureBlobTier({ connectionString: opts.connectionString, containerName: opts.containerName as string, ...common });
  }
  // Records and evaluations are small and read once per run: no memory tier.
  const built = new Cache({ dir: localDirs[0], maxMemoryBytes: 0, ...(maxLocalBytes !== undefined ? { maxDiskBytes: maxLocalBytes } : {}), ...(shared ? { shared } : {}) });
  const readOnly = localDirs.slice(1).map((dir) => new Cache({ tiers: [new DiskTier({ dir, readOnly: true })] }));
  return { cache: built, owned: true, readOnly, shared, update: shared !== undefined && update && shared.update !== false };
}
