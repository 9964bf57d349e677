// Public API of `modelcache`. Everything not exported here is internal.
export { CacheError, type CacheErrorCode } from './errors.js';
export { type BytesLike } from './bytes.js';
export { hash, hashAsync, hashRows, hashFile, treeHash, treeHashAsync, type HashFileOptions } from './hash.js';
export {
  compress,
  compressAsync,
  decompress,
  decompressAsync,
  inspectFrame,
  type Codec,
  type CompressOptions,
  type DecompressOptions,
  type FrameInfo,
} from './codec.js';
export { castFloat32ToFloat16, castFloat16ToFloat32, castFloat32ToBfloat16, castBfloat16ToFloat32 } from './cast.js';
export { mapFile, MappedFile } from './mmap.js';
export {
  encrypt,
  decrypt,
  encryptAsync,
  decryptAsync,
  type Cipher,
  type CipherKey,
  type CipherCallbacks,
  type CipherContext,
  type CipherOptions,
} from './cipher.js';
export { cacheKey, KEY_FORMAT_VERSION } from './keys.js';
export {
  Cache,
  type CacheOptions,
  type CachePutOptions,
  type CacheReadOptions,
  type CacheGetManyOptions,
  type ComputeOptions,
  type CacheStats,
  type CompressionOptions,
  type CacheFileEntry,
  type ComputeFiles,
  type GetFilesOptions,
} from './cache.js';
export type { LockingOptions } from './cache/lock.js';
export { MemoryTier, type MemoryTierOptions, type DisposeReason } from './store/memory.js';
export { DiskTier, type DiskTierOptions, type DiskFile, type DiskEntry, type VerifyReport, type VerifyProblem } from './store/disk/tier.js';
export type {
  Tier,
  TierStats,
  PutMeta,
  PutFilesMeta,
  EntryInfo,
  NamespaceStats,
  FileEntryInfo,
  LocalFileEntry,
  FileSource,
  StoredFile,
  ProgressCallback,
} from './store/tier.js';
export { DEFAULT_NAMESPACE, NAMESPACES, tensorNamespace, checkNamespace, checkKey, checkFileNames } from './store/namespace.js';
export type { LockResult, HeldLock } from './store/work.js';
export {
  AzureBlobTier,
  type AzureBlobTierOptions,
  type AzureTierStats,
  type BlobInfo,
  type RemoteFileEntry,
  type TokenCredentialLike,
  type TransferProgress,
} from './store/azure/tier.js';
export { defaultCacheDir } from './paths.js';
export { setLogger, type Logger } from './log.js';
export { tensorCache, tensorCacheOf, type TensorCacheHandle, type Memoized } from './memoize/decorator.js';
export { type TensorCacheOptions } from './memoize/options.js';
export { contentOf, type FileDependency } from './memoize/key.js';
export type { TensorLike, NumericTensor, StringTensor } from './tensor.js';
export type { MemoStats, CacheDtype } from './memoize/batch.js';
