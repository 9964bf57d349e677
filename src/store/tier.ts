// The one contract every storage tier implements: a few required operations on byte values, and
// optional capabilities a tier declares by having them (borrowed reads, file entries, namespaces,
// locks, counters, flush). `Cache` uses tiers through this interface only.
import type { LockResult } from './work.js';

/** What a caller may attach to an entry. */
export interface PutMeta {
  /** The entry's namespace (see `checkNamespace`). Default 'default'. */
  namespace?: string;
  /** A short label of what the entry is ('tensor', 'session', 'pass-output', ...). */
  kind?: string;
  /** Small JSON-serialisable metadata kept beside the entry. */
  meta?: Record<string, unknown>;
}

/**
 * Counters of one tier in this process, since it was opened (a disk tier: since the first handle
 * on its directory in this process). `bytes` and `entries` are current totals instead.
 */
export interface TierStats {
  /** Reads this tier answered with an entry. */
  hits: number;
  /** Reads of keys this tier does not hold, including entries found damaged (also counted in `corrupt`). */
  misses: number;
  /** Values and file entries stored (for a shared tier: blobs uploaded, files and manifests included). */
  puts: number;
  /** Puts refused (entry larger than the tier, or the tier failed softly). */
  rejected: number;
  /** Entries removed to keep the tier under `maxBytes`, least recently used first (0 for a shared tier: it never evicts). */
  evictions: number;
  /** Entries found damaged, dropped and reported as misses. */
  corrupt: number;
  /** Operations that failed inside the tier and were degraded to a miss / no-op. */
  errors: number;
  /**
   * Bytes held now: raw value lengths in a memory tier, stored (compressed, encrypted) bytes in a
   * disk tier. 0 for a shared tier, which does not count its container.
   */
  bytes: number;
  /** Entries held now (0 for a shared tier, which does not count them). */
  entries: number;
  /** The byte limit past which the tier evicts; 0 for a shared tier, which has none. */
  maxBytes: number;
}

/** Counters of one namespace, kept in a disk tier's index across runs and processes. */
export interface NamespaceStats {
  /** The namespace these counters belong to. */
  namespace: string;
  /** Entries the disk tier holds in it now. */
  entries: number;
  /** Stored (compressed, encrypted) bytes of those entries now. */
  bytes: number;
  /** Reads through a {@link Cache} that found the key in some tier, summed over every run and process. */
  hits: number;
  /** Reads through a {@link Cache} that found the key in no tier, summed over every run and process. */
  misses: number;
  /** Entries committed to the disk tier, over every run and process. */
  puts: number;
  /** Entries evicted from the disk tier to stay under its limit, over every run and process. */
  evictions: number;
}

/** An entry as listed by {@link Tier.listEntries}. */
export interface EntryInfo {
  /** The namespace the entry belongs to. */
  namespace: string;
  /** The entry's key within its namespace. */
  key: string;
  /** 'value': bytes; 'files': a file entry. */
  type: 'value' | 'files';
  /** Stored bytes (all files of a file entry). */
  size: number;
  /** The label given when it was stored (`'tensor'`, `'session'`, ...); `''` when none was, or the tier does not keep it (memory). */
  kind: string;
  /** ms since epoch (0 when the tier does not know). */
  created: number;
  /** The metadata given when it was stored, when the tier lists it (the disk tier does). */
  meta?: Record<string, unknown>;
}

/** One file of a file entry, as recorded. */
export interface StoredFile {
  /** Relative name, '/'-separated ('model.onnx', 'data/weights.bin'). */
  name: string;
  /** Size of the stored file in bytes (of the ciphertext, when the entry is encrypted). */
  size: number;
  /** `hashFile` digest of the stored bytes (32 hex). */
  hash: string;
}

/** A file entry as any tier describes it: its files, without saying where their bytes are. */
export interface FileEntryInfo {
  /** The namespace the entry belongs to. */
  namespace: string;
  /** The entry's key within its namespace. */
  key: string;
  /** The label given when it was stored (`'session'`, `'pass-output'`, ...); `''` when none. */
  kind: string;
  /** The JSON metadata given when it was stored, if any. */
  meta: Record<string, unknown> | undefined;
  /** When the entry was stored, ms since epoch. */
  created: number;
  /** Bytes of all files. */
  size: number;
  /** The files hold ciphertext (the Cache's cipher); read them through the Cache. */
  encrypted: boolean;
  /** Every file of the entry, by name. */
  files: StoredFile[];
}

/** A file entry of a local tier: every file at a path, inside one folder under its own name. */
export interface LocalFileEntry extends FileEntryInfo {
  /** The entry's folder: `join(dir, name)` is each file's path. Valid until the entry is evicted. */
  dir: string;
  /** Every file of the entry, by name, with where it is. */
  files: (StoredFile & {
    /** Absolute path of the stored file (`join(dir, name)`); read it, never change it: other readers share it. */
    path: string;
  })[];
}

/** A file to store in a file entry: an existing file, or bytes. */
export type FileSource =
  | {
      /** The file's name in the entry: relative, '/'-separated (`'model.onnx'`, `'data/weights.bin'`); a bad name is a TypeError. */
      name: string;
      /** Where the file is now; it is copied (or moved) when stored. */
      path: string;
      /** Move the file in instead of copying it (it must be the caller's own work file). */
      move?: boolean;
    }
  | {
      /** The file's name in the entry: relative, '/'-separated; a bad name is a TypeError. */
      name: string;
      /** The file's content. */
      data: Uint8Array;
    };

/** What a caller may attach to a file entry. */
export interface PutFilesMeta extends PutMeta {
  /** The files hold ciphertext. */
  encrypted?: boolean;
}

/** Progress callback of transfers: bytes so far and the total. */
export type ProgressCallback = (loaded: number, total: number) => void;

/**
 * A store of opaque byte values by namespace and key. Methods may answer synchronously or with a
 * promise; callers await either. Values returned are the caller's to keep and mutate.
 */
export interface Tier {
  /** Short name of the tier (`'memory'`, `'disk'`, `'azure'`): how stats, entry listings and warnings name it. */
  readonly name: string;
  /** True when the tier holds encoded frames (disk, shared); false when it holds raw values (memory). */
  readonly encoded: boolean;
  /**
   * True for a tier shared over the network (blob storage): the Cache uploads to it in the
   * background (`flush()` waits) instead of making `put` wait for it.
   */
  readonly shared?: boolean;
  /** `false` for a tier that only reads (a shared tier opened with `update: false`): it never stores, uploads or deletes. */
  readonly update?: boolean;
  /**
   * The stored value of `key` in `namespace` (default `'default'`), or undefined. A damaged entry
   * is dropped and reported as a miss, and a tier that fails to read answers undefined with a
   * warning: a read never fails because of what is stored. A bad key is a TypeError; a closed disk
   * or shared tier throws CacheError `ERR_CLOSED`.
   */
  get(key: string, namespace?: string): Buffer | undefined | Promise<Buffer | undefined>;
  /** {@link Tier.get} of several keys of one namespace, in order; misses are undefined. */
  getMany(keys: readonly string[], namespace?: string): (Buffer | undefined)[] | Promise<(Buffer | undefined)[]>;
  /** Resolves true when stored, false when refused (too large or failed softly). */
  put(key: string, value: Uint8Array, meta?: PutMeta): boolean | Promise<boolean>;
  /** Whether the tier holds `key` (a value or a file entry), without reading it or counting a hit. */
  has(key: string, namespace?: string): boolean | Promise<boolean>;
  /** Deletes the entry (value or file entry) of `key`. */
  delete(key: string, namespace?: string): boolean | Promise<boolean>;
  /** A snapshot of the tier's counters. */
  stats(): TierStats;
  /**
   * Releases the tier: a disk tier commits its queued writes first; a memory tier drops its
   * entries. Later reads and writes throw CacheError `ERR_CLOSED` (a memory tier simply starts empty).
   */
  close(): void | Promise<void>;

  // ------------------------------------------------------------------ optional capabilities

  /**
   * Borrowed reads: the tier's own buffers, no copy. The caller reads them at once and never
   * mutates or keeps them.
   */
  getManyBorrowed?(keys: readonly string[], namespace?: string): (Buffer | undefined)[];
  /** Stores a buffer the caller hands over and will not touch again (no defensive copy). */
  putOwned?(key: string, value: Buffer, namespace?: string): boolean;
  /** Whether the tier holds every key of `keys` now, answered synchronously (no read, no hit counted). */
  hasAll?(keys: readonly string[], namespace?: string): boolean;

  /** Entries of `namespace` (of every namespace when omitted). */
  listEntries?(namespace?: string): Iterable<EntryInfo> | AsyncIterable<EntryInfo>;
  /** How many entries `namespace` holds. */
  countEntries?(namespace: string): number | Promise<number>;
  /** Deletes every entry of `namespace`; resolves to how many. */
  deleteNamespace?(namespace: string): number | Promise<number>;
  /** The namespaces that hold entries. */
  namespaces?(): string[] | Promise<string[]>;
  /**
   * Deletes every entry. Only local tiers have it: no library call clears a shared tier (its
   * owner does, by a separately named method such as `AzureBlobTier.deleteAllEntries`).
   */
  clear?(): void | Promise<void>;
  /** Resolves when everything acknowledged so far is stored (committed, uploaded). */
  flush?(): void | Promise<void>;

  /** Local file entries: stores files under `key` (the tier's write queue holds them when it resolves). */
  putFiles?(key: string, files: readonly FileSource[], meta?: PutFilesMeta): Promise<boolean>;
  /** Local file entries: the entry with a path per file; verified against the recorded hashes unless `verify: false`. */
  getFiles?(key: string, namespace?: string, options?: { verify?: boolean }): Promise<LocalFileEntry | undefined>;
  /** Shared file entries: uploads a local entry, files first and its manifest last. */
  uploadFiles?(entry: LocalFileEntry): Promise<boolean>;
  /** Shared file entries: the entry's manifest, without downloading a file. */
  lookupFiles?(key: string, namespace?: string): Promise<FileEntryInfo | undefined>;
  /** Shared file entries: downloads (and verifies) the files of `entry` into `dir`, under their names. */
  downloadFiles?(entry: FileEntryInfo, dir: string, options?: { onProgress?: ProgressCallback }): Promise<boolean>;
  /** A fresh path inside the tier's work folder (same filesystem as its entries), for files to move in. */
  workPath?(suffix?: string): string;

  /** The cross-process lock of one key: waits (bounded) while another process holds it. */
  lock?(key: string, namespace: string, options: { ready?: () => boolean | Promise<boolean>; maxWaitMs?: number }): Promise<LockResult>;

  /** Adds hits and misses of a namespace to the persistent counters (batched, written in the background). */
  countAccess?(namespace: string, hits: number, misses: number): void;
  /** The persistent counters of every namespace (or of one). */
  namespaceStats?(namespace?: string): NamespaceStats[];
}

export function emptyStats(maxBytes: number): TierStats {
  return { hits: 0, misses: 0, puts: 0, rejected: 0, evictions: 0, corrupt: 0, errors: 0, bytes: 0, entries: 0, maxBytes };
}
