// Where a pipeline caches: `cache.dir` (a path, a blob container URL, or a list of them) and the
// `{ accountName, containerName }` form, resolved to local directories and one shared store.
import { resolve } from 'node:path';
import { CacheError, checkOptionNames, invalidType } from '../errors.js';
import { defaultCacheDir } from '../paths.js';
import { AzureBlobTier, type AzureBlobTierOptions, type TokenCredentialLike } from '../store/azure/tier.js';

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
  /** A ready shared tier instead of the location options above. */
  sharedTier?: AzureBlobTier;
  /** Options of the shared tier the pipeline creates. */
  sharedOptions?: SharedTierTuning;
}

/** The resolved locations. */
export interface ResolvedLocation {
  localDirs: string[];
  shared?: { tier: AzureBlobTier; update: boolean; owned: boolean };
}

const TUNING = ['blockSize', 'maxSingleShotSize', 'concurrency', 'maxTries', 'tryTimeoutMs', 'retryDelayMs', 'cooldownMs', 'progress'];

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** Resolves `options.cache` of a Pipeline. */
export function resolveLocation(cache: unknown): ResolvedLocation {
  const name = 'options.cache';
  let opts: PipelineCacheOptions;
  if (cache === undefined) opts = {};
  else if (typeof cache === 'string' || Array.isArray(cache)) opts = { dir: cache as string | string[] };
  else if (cache !== null && typeof cache === 'object') {
    checkOptionNames(name, cache, ['dir', 'accountName', 'containerName', 'blobEndpoint', 'connectionString', 'credential', 'prefix', 'updateSharedCache', 'sharedTier', 'sharedOptions']);
    opts = cache as PipelineCacheOptions;
  } else throw invalidType(name, 'a directory, a list of directories and blob URLs, or { dir, accountName, containerName, updateSharedCache }', cache);

  const dirs = opts.dir === undefined ? [] : typeof opts.dir === 'string' ? [opts.dir] : opts.dir;
  if (!Array.isArray(dirs) || dirs.some((d) => typeof d !== 'string' || d.length === 0)) {
    throw invalidType(`${name}.dir`, 'a path or blob URL, or a list of them', opts.dir);
  }
  const urls = dirs.filter(isUrl);
  const localDirs = dirs.filter((d) => !isUrl(d)).map((d) => resolve(d));
  if (localDirs.length === 0) localDirs.push(resolve(defaultCacheDir()));

  if (opts.updateSharedCache !== undefined && typeof opts.updateSharedCache !== 'boolean') {
    throw invalidType(`${name}.updateSharedCache`, 'boolean', opts.updateSharedCache);
  }
  const tuning = opts.sharedOptions ?? {};
  if (tuning === null || typeof tuning !== 'object') throw invalidType(`${name}.sharedOptions`, 'object', tuning);
  checkOptionNames(`${name}.sharedOptions`, tuning, TUNING);

  const forms = [
    urls.length > 0 && `a blob URL in ${name}.dir`,
    opts.accountName !== undefined && `${name}.accountName`,
    opts.connectionString !== undefined && `${name}.connectionString`,
    opts.sharedTier !== undefined && `${name}.sharedTier`,
  ].filter(Boolean) as string[];
  if (urls.length > 1 || forms.length > 1) {
    throw new CacheError('ERR_BAD_INPUT', `${name} names more than one shared location (${urls.length > 1 ? urls.join(', ') : forms.join(', ')}); give one`);
  }
  if (opts.containerName !== undefined && opts.accountName === undefined && opts.connectionString === undefined) {
    throw new CacheError('ERR_BAD_INPUT', `${name}.containerName needs ${name}.accountName or ${name}.connectionString`);
  }
  const update = opts.updateSharedCache ?? true;
  const common = { ...tuning, ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}), ...(opts.credential ? { credential: opts.credential } : {}), update };

  if (opts.sharedTier !== undefined) {
    if (!(opts.sharedTier instanceof AzureBlobTier)) throw invalidType(`${name}.sharedTier`, 'an AzureBlobTier', opts.sharedTier);
    return { localDirs, shared: { tier: opts.sharedTier, update, owned: false } };
  }
  let tier: AzureBlobTier | undefined;
  if (urls.length === 1) tier = new AzureBlobTier({ containerUrl: urls[0], ...common });
  else if (opts.accountName !== undefined) {
    tier = new AzureBlobTier({ accountName: opts.accountName, containerName: opts.containerName as string, ...(opts.blobEndpoint ? { blobEndpoint: opts.blobEndpoint } : {}), ...common });
  } else if (opts.connectionString !== undefined) {
    tier = new AzureBlobTier({ connectionString: opts.connectionString, containerName: opts.containerName as string, ...common });
  }
  return tier ? { localDirs, shared: { tier, update, owned: true } } : { localDirs };
}
