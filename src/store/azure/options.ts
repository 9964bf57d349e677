// The options, counters and results of the shared tier's blob calls, and the names of the
// metadata every blob carries (its content hash and size, and a kind label).
import type { StoragePipelineOptions } from '@azure/storage-blob';
import { checkInteger, checkOptionNames, invalidType } from '../../errors.js';
import type { TierStats } from '../tier.js';
import { normalizePrefix, resolveTarget, type LocationOptions, type Target } from './location.js';

/** A transfer in progress, as given to {@link AzureBlobTierOptions.progress} callbacks. */
export interface TransferProgress {
  /** Which way the bytes go. */
  op: 'upload' | 'download';
  /** Blob name relative to the tier's prefix. */
  name: string;
  /** Bytes transferred so far. */
  loaded: number;
  /** Bytes of the whole blob. */
  total: number;
}

/** Options of {@link AzureBlobTier}. Give one of `containerUrl`, `connectionString` + `containerName`, or `accountName` + `containerName`. */
export interface AzureBlobTierOptions extends LocationOptions {
  /** Folder inside the container under which everything of this tier lives (e.g. `team-a/`). */
  prefix?: string;
  /** `false`: read only, never writes or deletes. Default true. */
  update?: boolean;
  /** Block size of parallel transfers. Default 8 MiB. */
  blockSize?: number;
  /**
   * Values (buffers) up to this size are uploaded in one request, as the SDK's `uploadData` does;
   * larger ones in parallel blocks. Files always go in parallel blocks above `blockSize`.
   * Default 256 MiB.
   */
  maxSingleShotSize?: number;
  /** Blocks in flight per transfer. Default 4. */
  concurrency?: number;
  /** Tries per request (the SDK's retry policy). Default 3. */
  maxTries?: number;
  /** Time limit of one try, ms. Default 60000. */
  tryTimeoutMs?: number;
  /** First retry delay, ms (doubles per retry, at most 2 s). Default 200. */
  retryDelayMs?: number;
  /** After a network failure, calls are skipped (as misses) for this long, ms. Default 10000. */
  cooldownMs?: number;
  /**
   * Progress of transfers of 16 MiB or more: `true` (default) draws a bar on a TTY stderr,
   * a function receives every update, `false` is silent.
   */
  progress?: boolean | ((event: TransferProgress) => void);
}

/** Counters of an {@link AzureBlobTier}: those of every tier plus transfer totals. */
export interface AzureTierStats extends TierStats {
  /** Bytes of blobs this process created (values, files and manifests). */
  bytesUploaded: number;
  /** Bytes of blobs this process downloaded (and verified). */
  bytesDownloaded: number;
  /** Blobs this process created. */
  uploads: number;
  /** Blobs this process downloaded. */
  downloads: number;
  /** Conditional creates that found the blob already there (a racing or earlier writer won). */
  lostRaces: number;
}

/** A blob as listed by {@link AzureBlobTier.list}. */
export interface BlobInfo {
  /** Name relative to the tier's prefix. */
  name: string;
  /** Size of the blob in bytes. */
  size: number;
  /** When the blob was last written, ms since epoch. */
  lastModified: number;
  /** The blob's ETag: the version of it, for conditional deletes (`ifMatch`). */
  etag: string;
  /** Tree hash recorded at upload (32 hex), if any. */
  hash?: string;
  /** The blob's metadata as stored (modelcache's own keys are `mchash`, `mcsize` and `mckind`). */
  metadata: Record<string, string>;
}

/** A verified blob read by {@link AzureBlobTier.readBlob}. */
export interface BlobRead {
  /** The blob's bytes, verified against the hash recorded at upload. */
  data: Buffer;
  /** The ETag of the version that was read. */
  etag: string;
  /** When that version was written, ms since epoch. */
  lastModified: number;
  /** The blob's metadata as stored. */
  metadata: Record<string, string>;
}

/** How a conditional write ended. 'created': ours; 'exists': a verified blob was already there. */
export type WriteOutcome = 'created' | 'exists' | 'failed' | 'read-only';

/** Per-call options of uploads and downloads. */
export interface TransferOptions {
  /** Called with bytes moved so far and the total. */
  onProgress?: (loaded: number, total: number) => void;
}

export const HASH_KEY = 'mchash';
export const SIZE_KEY = 'mcsize';
export const KIND_KEY = 'mckind';
export const PROGRESS_MIN = 16 << 20;
const KNOWN_OPTIONS = [
  'containerUrl', 'accountName', 'containerName', 'connectionString', 'blobEndpoint', 'credential', 'prefix', 'update',
  'blockSize', 'maxSingleShotSize', 'concurrency', 'maxTries', 'tryTimeoutMs', 'retryDelayMs', 'cooldownMs', 'progress',
];



/** Validated options of the blob store, with their defaults. */
export function parseStoreOptions(options: AzureBlobTierOptions) {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
  checkOptionNames('AzureBlobTier options', options, KNOWN_OPTIONS);
  const { target, urlPrefix } = resolveTarget(options);
  if (options.update !== undefined && typeof options.update !== 'boolean') throw invalidType('options.update', 'boolean', options.update);
  if (options.credential !== undefined && typeof options.credential?.getToken !== 'function') {
    throw invalidType('options.credential', 'a TokenCredential (e.g. new DefaultAzureCredential())', options.credential);
  }
  const int = (name: keyof AzureBlobTierOptions, dflt: number, min: number, max: number) =>
    options[name] === undefined ? dflt : checkInteger(`options.${name}`, options[name], min, max);
  const maxTries = int('maxTries', 3, 1, 20);
  const tryTimeoutInMs = int('tryTimeoutMs', 60_000, 100, 3_600_000);
  const retryDelayInMs = int('retryDelayMs', 200, 0, 60_000);
  if (options.progress !== undefined && typeof options.progress !== 'boolean' && typeof options.progress !== 'function') {
    throw invalidType('options.progress', 'boolean or function', options.progress);
  }
  const pipeline: StoragePipelineOptions = {
    retryOptions: { maxTries, tryTimeoutInMs, retryDelayInMs, maxRetryDelayInMs: Math.max(retryDelayInMs, 2000) },
    userAgentOptions: { userAgentPrefix: 'modelcache' },
  };
  return {
    target: target as Target,
    prefix: urlPrefix + normalizePrefix('options.prefix', options.prefix),
    update: options.update ?? true,
    blockSize: int('blockSize', 8 << 20, 64 << 10, 4000 * 1024 * 1024),
    maxSingleShotSize: int('maxSingleShotSize', 256 << 20, 0, 5000 * 1024 * 1024),
    concurrency: int('concurrency', 4, 1, 64),
    cooldownMs: int('cooldownMs', 10_000, 0, 3_600_000),
    progress: options.progress ?? true,
    pipeline,
  };
}
