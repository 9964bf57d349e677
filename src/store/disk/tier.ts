// Disk tier: an LMDB index with small values inline and large ones as content-addressed files,
// plus file entries (a folder of named files per entry, found from the key alone through a head
// file). Safe for several processes and for a writer killed at any instant: a record is committed
// only after its files are complete, every read is checked against recorded hashes, files are
// only ever unlinked (never rewritten), and a put is acknowledged once queued: the queue reaches
// the disk on the next turn, on flush(), or at exit.
import { stat } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { toBytes } from '../../bytes.js';
import { DEFAULT_ACCESS_FLUSH_MS, DEFAULT_INLINE_THRESHOLD, DEFAULT_MAX_DISK_BYTES, ORPHAN_GRACE_MS } from '../../defaults.js';
import { CacheError, checkInteger, checkOptionNames, invalidType } from '../../errors.js';
import { checkKey, checkNamespace, DEFAULT_NAMESPACE } from '../namespace.js';
import { checkKind, checkMeta } from '../meta.js';
import type { EntryInfo, FileSource, LocalFileEntry, NamespaceStats, PutFilesMeta, PutMeta, Tier, TierStats } from '../tier.js';
import { acquireLock, type LockResult } from '../work.js';
import { checkSources, verifyFiles } from './files.js';
import { checkCacheDir } from './layout.js';
import { FILES } from './record.js';
import { DiskReader, type DiskEntry, type DiskFile } from './read.js';
import { evictLru } from './evict.js';
import { fileOp, filesOp, valueOp } from './ops.js';
import { DiskStore } from './store.js';
import { collectOrphans, verifyDisk, type VerifyReport } from './verify.js';

/** Options of {@link DiskTier}. */
export interface DiskTierOptions {
  /** Cache directory (created with mode 0700). */
  dir: string;
  /** Upper bound of stored bytes; least recently used entries are evicted past it. Default: the one stored by the directory's owner, else 10 GB. */
  maxBytes?: number;
  /** Values up to this size live inside the LMDB index; larger ones are files. Default 64 KiB. */
  inlineThreshold?: number;
  /** fsync each file before it is published (survives power loss, costs latency). Default false. */
  durable?: boolean;
  /** How often batched access times and counters are written, in ms. Default 1000. */
  accessFlushMs?: number;
  /** Inspect only: no cleanup at open, writes refused (for tools such as `modelcache ls`). */
  readOnly?: boolean;
}

export type { VerifyProblem, VerifyReport } from './verify.js';
export type { DiskEntry, DiskFile } from './read.js';

/** An LMDB-indexed, byte-limited, multi-process-safe store of values and file entries on disk. */
export class DiskTier implements Tier {
  readonly name = 'disk';
  readonly encoded = true;
  /** The cache directory, resolved to an absolute path. */
  readonly dir: string;
  /** Values up to this many bytes are stored inside the index, larger ones as files (default 64 KiB). */
  readonly inlineThreshold: number;
  readonly #readOnly: boolean;
  readonly #store: DiskStore;
  readonly #reader: DiskReader;
  #closed = false;

  constructor(options: DiskTierOptions) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('DiskTier options', options, ['dir', 'maxBytes', 'inlineThreshold', 'durable', 'accessFlushMs', 'readOnly']);
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalidType('options.dir', 'non-empty string', options.dir);
    this.dir = resolve(options.dir);
    const explicitMax = options.maxBytes === undefined ? undefined : checkInteger('options.maxBytes', options.maxBytes, 0, Number.MAX_SAFE_INTEGER);
    this.inlineThreshold = options.inlineThreshold === undefined ? DEFAULT_INLINE_THRESHOLD : checkInteger('options.inlineThreshold', options.inlineThreshold, 0, 1 << 30);
    const flushMs = options.accessFlushMs === undefined ? DEFAULT_ACCESS_FLUSH_MS : checkInteger('options.accessFlushMs', options.accessFlushMs, 1, 3_600_000);
    for (const flag of ['durable', 'readOnly'] as const) {
      if (options[flag] !== undefined && typeof options[flag] !== 'boolean') throw invalidType(`options.${flag}`, 'boolean', options[flag]);
    }
    this.#readOnly = Boolean(options.readOnly);
    checkCacheDir(this.dir, !this.#readOnly);
    const store = (this.#store = DiskStore.acquire(this.dir, this.#readOnly));
    this.#reader = new DiskReader(store, this.#readOnly);
    if (explicitMax !== undefined) store.explicitMax = explicitMax;
    if (options.durable) store.durable = true;
    store.accessFlushMs = Math.min(store.accessFlushMs, flushMs);
    if (!this.#readOnly) store.cleanAtOpen(() => void collectOrphans(store, ORPHAN_GRACE_MS));
  }

  /** The size limit: the given one, else the one the directory's owner stored, else 10 GB. */
  get maxBytes(): number {
    const m = this.#store.maxBytes;
    return Number.isFinite(m) ? m : DEFAULT_MAX_DISK_BYTES;
  }

  #index() {
    return this.#store.index();
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheError('ERR_CLOSED', `disk tier at ${this.dir} is closed`);
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (this.#readOnly) throw new CacheError('ERR_BAD_INPUT', `disk tier at ${this.dir} was opened read-only`);
  }

  #ns(namespace: string | undefined): string {
    return namespace === undefined || namespace === DEFAULT_NAMESPACE ? DEFAULT_NAMESPACE : checkNamespace(namespace);
  }

  get #stats(): TierStats {
    return this.#store.stats;
  }

  // ---------------------------------------------------------------------------------- reads

  /** Reads a value: inline ones synchronously, file-backed ones with a promise. A damaged entry is dropped and missed. */
  get(key: string, namespace?: string): Buffer | undefined | Promise<Buffer | undefined> {
    this.#assertOpen();
    checkKey(key);
    return this.#reader.value(this.#ns(namespace), key);
  }

  /** Reads several keys: inline values synchronously, file-backed ones concurrently. */
  getMany(keys: readonly string[], namespace?: string): (Buffer | undefined)[] | Promise<(Buffer | undefined)[]> {
    this.#assertOpen();
    const ns = this.#ns(namespace);
    const out = new Array<Buffer | undefined>(keys.length);
    let files: Promise<void>[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const r = this.#reader.value(ns, checkKey(keys[i]));
      if (r instanceof Promise) (files ??= []).push(r.then((v) => void (out[i] = v)));
      else out[i] = r;
    }
    return files ? Promise.all(files).then(() => out) : out;
  }

  /** Whether `key` has an entry (a value or a file entry), queued writes included; synchronous, no hashing. */
  has(key: string, namespace?: string): boolean {
    this.#assertOpen();
    const ns = this.#ns(namespace);
    checkKey(key);
    return this.#store.queue.queued(ns, key) !== undefined || this.#index().hasEntry(ns, key);
  }

  /** Index metadata of an entry without reading its value. */
  info(key: string, namespace?: string): DiskEntry | undefined {
    this.#assertOpen();
    const ns = this.#ns(namespace);
    checkKey(key);
    return this.#reader.info(ns, key);
  }

  // --------------------------------------------------------------------------------- writes

  /**
   * Queues a value; true once queued (it reaches the disk on the next turn, on flush(), or at
   * exit), false if it is larger than maxBytes or its file cannot be written. Reads see it at once.
   */
  put(key: string, value: Uint8Array, meta: PutMeta = {}): boolean {
    this.#assertWritable();
    checkKey(key);
    checkAttached(meta);
    const ns = this.#ns(meta.namespace);
    const bytes = toBytes('value', value);
    if (bytes.byteLength > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    const op = valueOp(this.#store, ns, key, bytes, meta, this.inlineThreshold);
    if (!op) return false;
    this.#store.queue.enqueue(op);
    return true;
  }

  /**
   * Publishes an existing file as the value of `key`: moved in when it is a work file of this
   * cache (a {@link workPath}), copied otherwise. Resolves once committed; false if refused.
   * @deprecated for new code: use {@link putFiles} (file entries).
   */
  async putFile(key: string, path: string, meta: PutMeta = {}): Promise<boolean> {
    this.#assertWritable();
    checkKey(key);
    checkAttached(meta);
    const ns = this.#ns(meta.namespace);
    if (typeof path !== 'string' || path.length === 0) throw invalidType('path', 'file path', path);
    try {
      const { size } = await stat(path);
      if (size > this.maxBytes) {
        this.#stats.rejected++;
        return false;
      }
      this.#store.queue.enqueue(await fileOp(this.#store, ns, key, path, size, meta));
      this.#store.queue.flushSync(); // committed when it resolves, as modelcache/ort expects of it
      return true;
    } catch (err) {
      this.#stats.rejected++;
      this.#store.fail('putFile', err);
      return false;
    }
  }

  /**
   * Stores a file entry: `files` (moved in with `move: true`, else copied) under their names in a
   * folder of their own; resolves true once queued, false if refused (too large, a write error).
   */
  async putFiles(key: string, files: readonly FileSource[], meta: PutFilesMeta = {}): Promise<boolean> {
    this.#assertWritable();
    checkKey(key);
    checkAttached(meta);
    const ns = this.#ns(meta.namespace);
    const sources = checkSources(files);
    const store = this.#store;
    let total = 0;
    for (const s of sources) total += 'data' in s ? s.data.byteLength : await stat(s.path).then((st) => st.size, () => 0);
    if (total > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    const op = await filesOp(store, ns, key, sources, meta);
    if (!op) return false;
    store.queue.enqueue(op);
    return true;
  }

  /**
   * The file entry of `key` with a path per file, found from its head (no index opened). Every
   * file is checked for presence and size; with `verify` (default true) against its hash too.
   * A damaged entry is dropped and missed. The access is recorded in the background.
   */
  async getFiles(key: string, namespace?: string, options: { verify?: boolean } = {}): Promise<LocalFileEntry | undefined> {
    const entry = this.fileEntry(key, namespace);
    if (!entry || options.verify === false) return entry;
    const problem = await verifyFiles(entry);
    if (!problem) return entry;
    this.#stats.hits--; // counted again as a miss
    return this.#reader.damaged(entry.namespace, key, { type: FILES, hash: basename(entry.dir) }, problem);
  }

  /** {@link getFiles} without hashing: synchronous, for hit paths that verify by other means. */
  fileEntry(key: string, namespace?: string): LocalFileEntry | undefined {
    this.#assertOpen();
    checkKey(key);
    return this.#reader.fileEntry(this.#ns(namespace), key);
  }

  // ------------------------------------------------------------------------------- deletes

  /** Deletes the entry of `key` (a value or a file entry); whether there was one. */
  delete(key: string, namespace?: string): boolean {
    this.#assertWritable();
    checkKey(key);
    return this.#store.queue.deleteNow(this.#ns(namespace), key);
  }

  /** Deletes every entry of `namespace`, here only; resolves to how many. */
  deleteNamespace(namespace: string): number {
    this.#assertWritable();
    return this.#store.queue.deleteRange(checkNamespace(namespace));
  }

  /** Deletes every entry of this directory (every namespace). */
  clear(): void {
    this.#assertWritable();
    this.#store.queue.deleteRange(undefined);
  }

  /** Evicts least recently used entries down to `maxBytes` (default: the tier's limit). */
  async prune(maxBytes = this.maxBytes): Promise<{
    /** Entries evicted. */
    evicted: number;
    /** Stored bytes they freed. */
    bytes: number;
  }> {
    this.#assertWritable();
    checkInteger('maxBytes', maxBytes, 0, Number.MAX_SAFE_INTEGER);
    this.#store.queue.flushSync();
    return evictLru(this.#store, maxBytes);
  }

  // ---------------------------------------------------------------------------- namespaces

  countEntries(namespace: string): number {
    this.#assertOpen();
    this.#store.queue.flushSync();
    return this.#index().counters(checkNamespace(namespace)).entries;
  }

  namespaces(): string[] {
    this.#assertOpen();
    this.#store.queue.flushSync();
    return [...this.#index().allCounters()].filter(([, c]) => c.entries > 0).map(([ns]) => ns);
  }

  *listEntries(namespace?: string): Generator<EntryInfo> {
    for (const e of this.list(namespace)) {
      yield { namespace: e.namespace, key: e.key, type: e.type === 'files' ? 'files' : 'value', size: e.size, kind: e.kind, created: e.created, ...(e.meta ? { meta: e.meta } : {}) };
    }
  }

  /** Entries (of one namespace, or all), least recently used first. */
  list(namespace?: string): DiskEntry[] {
    this.#assertOpen();
    return this.#reader.list(namespace === undefined ? undefined : checkNamespace(namespace));
  }

  // -------------------------------------------------------------------------- counters

  /** Counters of this process, with `bytes` and `entries` of the whole directory (all processes) after committing queued writes. */
  stats(): TierStats {
    if (this.#closed) return { ...this.#stats, bytes: 0, entries: 0, maxBytes: this.maxBytes };
    this.#store.queue.flushSync();
    const totals = this.#index().totals();
    return { ...this.#stats, bytes: totals.bytes, entries: totals.entries, maxBytes: this.maxBytes };
  }

  countAccess(namespace: string, hits: number, misses: number): void {
    if (!this.#readOnly && !this.#closed) this.#store.access.countAccess(namespace, hits, misses);
  }

  /** The persistent counters of every namespace (or of one), summed over runs and processes. */
  namespaceStats(namespace?: string): NamespaceStats[] {
    this.#assertOpen();
    this.#store.queue.flushSync();
    if (!this.#readOnly) this.#store.access.flush(true);
    const idx = this.#index();
    if (namespace !== undefined) return [{ namespace, ...idx.counters(checkNamespace(namespace)) }];
    return [...idx.allCounters()].map(([ns, c]) => ({ namespace: ns, ...c }));
  }

  // ------------------------------------------------------------------------- lifecycle

  /** Commits every queued write now. */
  async flush(): Promise<void> {
    if (this.#closed) return;
    this.#store.queue.flushSync();
    this.#store.access.flush();
  }

  /** Writes batched access times and counters to the index now. */
  async flushAccess(): Promise<void> {
    if (!this.#closed && !this.#readOnly) this.#store.access.flush(true);
  }

  /** A fresh path inside this cache's work folder (same filesystem as its entries). */
  workPath(suffix = ''): string {
    this.#store.layout.ensure();
    return this.#store.layout.workPath(suffix);
  }

  /** @deprecated alias of {@link workPath}. */
  tmpPath(suffix = ''): string {
    return this.workPath(suffix);
  }

  /** Takes the cross-process lock of `key` (bounded wait; see `acquireLock`). */
  async lock(key: string, namespace: string, options: { ready?: () => boolean | Promise<boolean>; maxWaitMs?: number } = {}): Promise<LockResult> {
    this.#assertWritable();
    const path = this.#store.layout.lockPath(checkNamespace(namespace), checkKey(key));
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return acquireLock(path, options);
  }

  /**
   * A file-backed value as a path (to load by path) or, with `map: true`, also as a zero-copy
   * map. Verified against its checksum unless `verify: false`. Inline values and misses give undefined.
   */
  async getFile(key: string, options: { map?: boolean; verify?: boolean; namespace?: string } = {}): Promise<DiskFile | undefined> {
    this.#assertOpen();
    checkKey(key);
    return this.#reader.getFile(this.#ns(options.namespace), key, options);
  }

  /**
   * Checks every entry (values, files, heads), the LRU index, the totals, and looks for orphans
   * and stale work files. With `repair`, fixes what it finds, re-checking each problem in the
   * transaction that fixes it.
   */
  async verify(options: { repair?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyReport> {
    this.#assertOpen();
    this.#store.queue.flushSync();
    this.#index();
    return verifyDisk(this.#store, { ...options, repair: Boolean(options.repair) && !this.#readOnly });
  }

  /** Removes unreferenced files older than `graceMs` (default a minute); resolves to how many. */
  async collectOrphans(options: { graceMs?: number } = {}): Promise<number> {
    this.#assertWritable();
    const grace = options.graceMs === undefined ? ORPHAN_GRACE_MS : checkInteger('options.graceMs', options.graceMs, 0, Number.MAX_SAFE_INTEGER);
    this.#index();
    return collectOrphans(this.#store, grace);
  }

  /** Resolves when work started in the background at open (orphan collection) has finished. */
  async settled(): Promise<void> {
    await this.#store.background;
  }

  /** Commits what is queued and releases this handle (the directory's index closes with the last one). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#store.release(this.#readOnly);
  }
}

/** What a put attaches (kind, meta), checked before anything is written. */
function checkAttached(meta: PutMeta): void {
  if (meta === null || typeof meta !== 'object') throw invalidType('meta', '{ namespace?, kind?, meta? }', meta);
  checkKind(meta.kind, 'meta.kind');
  checkMeta(meta.meta, 'meta.meta');
}

/** Whether `t` is a {@link DiskTier} (by its shape: the Cache uses tiers through the interface only). */
export function isDiskTier(t: Tier): t is DiskTier {
  return t.name === 'disk' && typeof (t as DiskTier).fileEntry === 'function' && typeof (t as DiskTier).dir === 'string';
}
