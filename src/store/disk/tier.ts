// Disk tier: an LMDB index with small values inline and large ones as content-addressed files,
// plus file entries (a folder of named files per entry, found from the key alone through a head
// file). Safe for several processes and for a writer killed at any instant: a record is committed
// only after its files are complete, every read is checked against recorded hashes, files are
// only ever unlinked (never rewritten), and a put is acknowledged once queued: the queue reaches
// the disk on the next turn, on flush(), or at exit.
import { readFile, stat } from 'node:fs/promises';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve, sep, isAbsolute } from 'node:path';
import { toBytes } from '../../bytes.js';
import { DEFAULT_ACCESS_FLUSH_MS, DEFAULT_INLINE_THRESHOLD, ORPHAN_GRACE_MS } from '../../defaults.js';
import { CacheError, checkInteger, checkOptionNames, invalidType } from '../../errors.js';
import { hashFile, treeHash, treeHashAsync } from '../../hash.js';
import { warn } from '../../log.js';
import { mapFile, type MappedFile } from '../../mmap.js';
import { checkKey, checkNamespace, DEFAULT_NAMESPACE } from '../namespace.js';
import type { EntryInfo, FileSource, LocalFileEntry, NamespaceStats, PutFilesMeta, PutMeta, Tier, TierStats } from '../tier.js';
import { acquireLock, type LockResult } from '../work.js';
import { checkSources, prepareFiles, readHead, stageFile, verifyFiles, writeHead } from './files.js';
import { unlinkQuietly, writeNewFile } from './layout.js';
import { BLOB, decodeRecord, encodeRecord, FILES, INLINE, valueOffset, type DiskRecord } from './record.js';
import { DiskStore, type PutOp } from './store.js';
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

/** A file-backed value as handed out by {@link DiskTier.getFile}. */
export interface DiskFile {
  /** Absolute path of the immutable file. Valid until the entry is evicted or replaced. */
  path: string;
  size: number;
  kind: string;
  meta: Record<string, unknown> | undefined;
  /** Present with `{ map: true }`: a zero-copy map of the file (close it when done). */
  mapped?: MappedFile;
}

/** A listed entry (for `modelcache ls`). */
export interface DiskEntry {
  namespace: string;
  key: string;
  size: number;
  kind: string;
  /** 'inline': inside the index; 'blob': one file; 'files': a file entry. */
  type: 'inline' | 'blob' | 'files';
  inline: boolean;
  created: number;
  /** Last access, ms since epoch. */
  accessed: number;
  meta: Record<string, unknown> | undefined;
}

export type { VerifyProblem, VerifyReport } from './verify.js';

const TYPES = ['inline', 'blob', 'files'] as const;

/** An LMDB-indexed, byte-limited, multi-process-safe store of values and file entries on disk. */
export class DiskTier implements Tier {
  readonly name = 'disk';
  readonly encoded = true;
  readonly dir: string;
  readonly inlineThreshold: number;
  readonly #readOnly: boolean;
  readonly #store: DiskStore;
  #closed = false;

  constructor(options: DiskTierOptions) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('DiskTier options', options, ['dir', 'maxBytes', 'inlineThreshold', 'durable', 'accessFlushMs', 'readOnly']);
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalidType('options.dir', 'non-empty string', options.dir);
    this.dir = resolve(options.dir);
    const explicitMax = options.maxBytes === undefined ? undefined : checkInteger('options.maxBytes', options.maxBytes, 0, Number.MAX_SAFE_INTEGER);
    this.inlineThreshold = options.inlineThreshold === undefined ? DEFAULT_INLINE_THRESHOLD : checkInteger('options.inlineThreshold', options.inlineThreshold, 0, 1 << 30);
    const flushMs = options.accessFlushMs === undefined ? DEFAULT_ACCESS_FLUSH_MS : checkInteger('options.accessFlushMs', options.accessFlushMs, 1, 3_600_000);
    this.#readOnly = Boolean(options.readOnly);
    const store = (this.#store = DiskStore.acquire(this.dir));
    if (explicitMax !== undefined) store.explicitMax = explicitMax;
    if (options.durable) store.durable = true;
    store.accessFlushMs = Math.min(store.accessFlushMs, flushMs);
    if (!this.#readOnly) store.cleanAtOpen(() => void collectOrphans(store, ORPHAN_GRACE_MS));
  }

  /** The size limit: the given one, else the one the directory's owner stored, else 10 GB. */
  get maxBytes(): number {
    const m = this.#store.maxBytes;
    return Number.isFinite(m) ? m : 10e9;
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
    return this.#get(this.#ns(namespace), key);
  }

  #get(ns: string, key: string): Buffer | undefined | Promise<Buffer | undefined> {
    const store = this.#store;
    if (store.queuedCount > 0) {
      const op = store.queued(ns, key);
      if (op) return this.#fromQueue(op);
    }
    let raw: Buffer | undefined;
    try {
      raw = this.#index().recordView(ns, key);
    } catch (err) {
      store.fail('read', err);
      this.#stats.misses++;
      return undefined;
    }
    if (raw === undefined || raw[1] === FILES) {
      this.#stats.misses++;
      return undefined;
    }
    let off: number;
    try {
      off = valueOffset(raw);
    } catch (err) {
      return this.#damaged(ns, key, undefined, (err as Error).message);
    }
    if (raw[1] === INLINE) {
      const len = raw.length;
      const value = Buffer.allocUnsafe(len - off);
      raw.copy(value, 0, off, len);
      const want = raw.toString('hex', 20, 36);
      if (value.length !== raw.readDoubleLE(4) || treeHash(value) !== want) return this.#damaged(ns, key, want, 'checksum mismatch');
      this.#stats.hits++;
      store.touch(ns, key);
      return value;
    }
    return this.#readBlob(ns, key, decodeRecord(raw));
  }

  #fromQueue(op: PutOp): Buffer | undefined {
    if (op.type === FILES) {
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    this.#store.touch(op.ns, op.key);
    if (op.type === INLINE) return Buffer.from(op.record.subarray(valueOffset(op.record)));
    return readFileSync(op.blobFile!);
  }

  async #readBlob(ns: string, key: string, rec: DiskRecord, retried = false): Promise<Buffer | undefined> {
    let value: Buffer;
    try {
      value = await readFile(this.#store.layout.blobPath(rec.hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#store.fail('read', err);
      else {
        // Evicted (and maybe written again) by another process since our index read: read again
        // from a fresh snapshot; only a file missing twice under a current record is damage.
        const now = this.#current(ns, key);
        if (now?.type === BLOB && !retried) return this.#readBlob(ns, key, now, true);
        if (now?.hash === rec.hash) return this.#damaged(ns, key, rec.hash, 'file missing');
      }
      this.#stats.misses++;
      return undefined;
    }
    const sum = value.length >= 1 << 20 ? await treeHashAsync(value) : treeHash(value);
    if (value.length !== rec.size || sum !== rec.hash) return this.#damaged(ns, key, rec.hash, `file does not match its record`);
    this.#stats.hits++;
    this.#store.touch(ns, key);
    return value;
  }

  /** The record of the key in a fresh snapshot (after other processes' writes). */
  #current(ns: string, key: string): DiskRecord | undefined {
    const idx = this.#index();
    idx.refresh();
    return idx.recordSafe(ns, key);
  }

  /** Drops a damaged entry (only the version that was read: another process may have replaced it). */
  #damaged(ns: string, key: string, hash: string | undefined, why: string): undefined {
    this.#stats.corrupt++;
    this.#stats.misses++;
    warn('ERR_CORRUPT', `dropped damaged cache entry ${ns}/${key} in ${this.dir}: ${why}`);
    if (!this.#readOnly) {
      try {
        this.#deleteSync(ns, key, { hash });
      } catch (err) {
        this.#store.fail('delete of a damaged entry', err);
      }
    }
    return undefined;
  }

  /** Reads several keys: inline values synchronously, file-backed ones concurrently. */
  getMany(keys: readonly string[], namespace?: string): (Buffer | undefined)[] | Promise<(Buffer | undefined)[]> {
    this.#assertOpen();
    const ns = this.#ns(namespace);
    const out = new Array<Buffer | undefined>(keys.length);
    let files: Promise<void>[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const r = this.#get(ns, checkKey(keys[i]));
      if (r instanceof Promise) (files ??= []).push(r.then((v) => void (out[i] = v)));
      else out[i] = r;
    }
    return files ? Promise.all(files).then(() => out) : out;
  }

  has(key: string, namespace?: string): boolean {
    this.#assertOpen();
    const ns = this.#ns(namespace);
    checkKey(key);
    return this.#store.queued(ns, key) !== undefined || this.#index().hasEntry(ns, key);
  }

  /** Index metadata of an entry without reading its value. */
  info(key: string, namespace?: string): DiskEntry | undefined {
    this.#assertOpen();
    const ns = this.#ns(namespace);
    checkKey(key);
    this.#store.flushSync();
    const rec = this.#index().record(ns, key);
    return rec && this.#entryOf(ns, key, rec);
  }

  #entryOf(ns: string, key: string, rec: DiskRecord): DiskEntry {
    const stamp = this.#store.pendingStamp(ns, key) ?? this.#index().stamp(ns, key) ?? rec.created * 1000;
    return {
      namespace: ns, key, size: rec.size, kind: rec.kind, type: TYPES[rec.type], inline: rec.type === INLINE,
      created: rec.created, accessed: Math.floor(stamp / 1000), meta: rec.meta,
    };
  }

  // --------------------------------------------------------------------------------- writes

  /**
   * Queues a value; true once queued (it reaches the disk on the next turn, on flush(), or at
   * exit), false if it is larger than maxBytes or its file cannot be written. Reads see it at once.
   */
  put(key: string, value: Uint8Array, meta: PutMeta = {}): boolean {
    this.#assertWritable();
    checkKey(key);
    const ns = this.#ns(meta.namespace);
    const bytes = toBytes('value', value);
    if (bytes.byteLength > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    const hash = treeHash(bytes);
    const type = bytes.byteLength <= this.inlineThreshold ? INLINE : BLOB;
    const record = encodeRecord({ type, size: bytes.byteLength, created: Date.now(), hash, kind: meta.kind ?? '', meta: meta.meta }, type === INLINE ? bytes : undefined);
    const op: PutOp = { ns, key, type, record, size: bytes.byteLength, hash };
    if (type === BLOB) {
      // Written now, so that the caller's buffer is not kept (and the bytes survive an exit).
      const layout = this.#store.layout;
      try {
        layout.ensure();
        op.blobFile = layout.workPath();
        writeNewFile(op.blobFile, bytes, this.#store.durable);
      } catch (err) {
        unlinkQuietly([op.blobFile]); // a partial file would keep a full disk full
        this.#stats.rejected++;
        this.#store.fail('put', err);
        return false;
      }
    }
    this.#store.enqueue(op);
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
    const ns = this.#ns(meta.namespace);
    if (typeof path !== 'string' || path.length === 0) throw invalidType('path', 'file path', path);
    try {
      const { size } = await stat(path);
      if (size > this.maxBytes) {
        this.#stats.rejected++;
        return false;
      }
      const hash = await hashFile(path);
      const blobFile = await stageFile(this.#store.layout, path, this.#isWorkFile(path));
      const record = encodeRecord({ type: BLOB, size, created: Date.now(), hash, kind: meta.kind ?? '', meta: meta.meta });
      this.#store.enqueue({ ns, key, type: BLOB, record, size, hash, blobFile });
      this.#store.flushSync(); // committed when it resolves, as modelcache/ort expects of it
      return true;
    } catch (err) {
      this.#stats.rejected++;
      this.#store.fail('putFile', err);
      return false;
    }
  }

  /** Whether `path` is directly inside this cache's tmp/ (compared as resolved paths, by folder). */
  #isWorkFile(path: string): boolean {
    const rel = relative(this.#store.layout.tmp, resolve(path));
    return rel.length > 0 && !rel.startsWith('..') && !isAbsolute(rel) && !rel.includes(sep) && dirname(resolve(path)) === this.#store.layout.tmp;
  }

  /**
   * Stores a file entry: `files` (moved in with `move: true`, else copied) under their names in a
   * folder of their own; resolves true once queued, false if refused (too large, a write error).
   */
  async putFiles(key: string, files: readonly FileSource[], meta: PutFilesMeta = {}): Promise<boolean> {
    this.#assertWritable();
    checkKey(key);
    const ns = this.#ns(meta.namespace);
    const sources = checkSources(files);
    const store = this.#store;
    let total = 0;
    for (const s of sources) total += 'data' in s ? s.data.byteLength : await stat(s.path).then((st) => st.size, () => 0);
    if (total > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    let prepared;
    try {
      prepared = await prepareFiles(store.layout, sources, store.durable);
    } catch (err) {
      this.#stats.rejected++;
      store.fail('putFiles', err);
      return false;
    }
    const { work, size, id } = prepared;
    const info = { namespace: ns, key, kind: meta.kind ?? '', meta: meta.meta, created: Date.now(), size, encrypted: Boolean(meta.encrypted), files: prepared.files };
    let head: string;
    try {
      head = writeHead(store.layout, info, store.durable);
    } catch (err) {
      this.#stats.rejected++;
      store.fail('putFiles', err);
      store.discardWork(work);
      return false;
    }
    const record = encodeRecord({ type: FILES, size, created: info.created, hash: id, kind: info.kind, meta: info.meta });
    store.enqueue({ ns, key, type: FILES, record, size, hash: id, work, head });
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
    return this.#damaged(entry.namespace, key, undefined, problem);
  }

  /** {@link getFiles} without hashing: synchronous, for hit paths that verify by other means. */
  fileEntry(key: string, namespace?: string): LocalFileEntry | undefined {
    this.#assertOpen();
    checkKey(key);
    const ns = this.#ns(namespace);
    let found = readHead(this.#store.layout, ns, key);
    // A file missing: evicted since the head was read, or being replaced; read the head again.
    if (found && 'damaged' in found && found.id !== undefined) found = readHead(this.#store.layout, ns, key);
    if (!found) {
      this.#stats.misses++;
      return undefined;
    }
    if ('damaged' in found) return this.#damaged(ns, key, found.id, found.damaged);
    this.#stats.hits++;
    this.#store.touch(ns, key);
    return found.entry;
  }

  // ------------------------------------------------------------------------------- deletes

  /** Deletes the entry of `key` (a value or a file entry); whether there was one. */
  delete(key: string, namespace?: string): boolean {
    this.#assertWritable();
    checkKey(key);
    return this.#deleteSync(this.#ns(namespace), key);
  }

  /**
   * Deletes `key` now: a caller's delete (its queued write too), or a damaged entry (only the
   * version whose hash is `damagedHash`, when known; its files go at once, whoever else refers to
   * that content: damaged bytes must not be reused by the next put of the same content).
   */
  #deleteSync(ns: string, key: string, damaged?: { hash: string | undefined }): boolean {
    const store = this.#store;
    const queued = !damaged && store.dropQueued(ns, key);
    const idx = this.#index();
    const freed: string[] = [];
    const trash: string[] = [];
    const found = idx.txn(() => {
      const raw = idx.recordView(ns, key);
      if (raw === undefined) return false;
      let rec: DiskRecord | undefined;
      try {
        rec = decodeRecord(raw);
      } catch {
        /* a damaged record: removed whatever it says */
      }
      if (damaged?.hash !== undefined && rec !== undefined && rec.hash !== damaged.hash) return false;
      store.removeInTxn(idx, ns, key, rec, freed);
      if (damaged && rec && rec.type !== INLINE) store.removeContentInTxn(rec.hash, trash);
      return true;
    });
    store.removeTrees(trash);
    store.releaseFreed(freed);
    return found || queued;
  }

  /** Deletes every entry of `namespace`, here only; resolves to how many. */
  deleteNamespace(namespace: string): number {
    this.#assertWritable();
    return this.#store.deleteRange(checkNamespace(namespace));
  }

  /** Deletes every entry of this directory (every namespace). */
  clear(): void {
    this.#assertWritable();
    this.#store.deleteRange(undefined);
  }

  /** Evicts least recently used entries down to `maxBytes` (default: the tier's limit). */
  async prune(maxBytes = this.maxBytes): Promise<{ evicted: number; bytes: number }> {
    this.#assertWritable();
    checkInteger('maxBytes', maxBytes, 0, Number.MAX_SAFE_INTEGER);
    this.#store.flushSync();
    return this.#store.evict(maxBytes);
  }

  // ---------------------------------------------------------------------------- namespaces

  countEntries(namespace: string): number {
    this.#assertOpen();
    this.#store.flushSync();
    return this.#index().counters(checkNamespace(namespace)).entries;
  }

  namespaces(): string[] {
    this.#assertOpen();
    this.#store.flushSync();
    return [...this.#index().allCounters()].filter(([, c]) => c.entries > 0).map(([ns]) => ns);
  }

  *listEntries(namespace?: string): Generator<EntryInfo> {
    for (const e of this.list(namespace)) {
      yield { namespace: e.namespace, key: e.key, type: e.type === 'files' ? 'files' : 'value', size: e.size, kind: e.kind, created: e.created, ...(e.meta ? { meta: e.meta } : {}) };
    }
  }

  /** Entries (of one namespace, or all), least recently used first. */
  *list(namespace?: string): Generator<DiskEntry> {
    this.#assertOpen();
    const ns = namespace === undefined ? undefined : checkNamespace(namespace);
    this.#store.flushSync();
    this.#store.flushAccess();
    const idx = this.#index();
    const found: DiskEntry[] = [];
    for (const [stamp, n, key] of idx.lru()) {
      if (ns !== undefined && n !== ns) continue;
      const rec = idx.stamp(n, key) === stamp ? idx.recordSafe(n, key) : undefined;
      if (rec) found.push(this.#entryOf(n, key, rec));
    }
    yield* found;
  }

  // -------------------------------------------------------------------------- counters

  stats(): TierStats {
    if (this.#closed) return { ...this.#stats, bytes: 0, entries: 0, maxBytes: this.maxBytes };
    this.#store.flushSync();
    const totals = this.#index().totals();
    return { ...this.#stats, bytes: totals.bytes, entries: totals.entries, maxBytes: this.maxBytes };
  }

  countAccess(namespace: string, hits: number, misses: number): void {
    if (!this.#readOnly && !this.#closed) this.#store.countAccess(namespace, hits, misses);
  }

  /** The persistent counters of every namespace (or of one), summed over runs and processes. */
  namespaceStats(namespace?: string): NamespaceStats[] {
    this.#assertOpen();
    this.#store.flushSync();
    if (!this.#readOnly) this.#store.flushAccess(true);
    const idx = this.#index();
    if (namespace !== undefined) return [{ namespace, ...idx.counters(checkNamespace(namespace)) }];
    return [...idx.allCounters()].map(([ns, c]) => ({ namespace: ns, ...c }));
  }

  // ------------------------------------------------------------------------- lifecycle

  /** Commits every queued write now. */
  async flush(): Promise<void> {
    if (this.#closed) return;
    this.#store.flushSync();
    this.#store.flushAccess();
  }

  /** Writes batched access times and counters to the index now. */
  async flushAccess(): Promise<void> {
    if (!this.#closed && !this.#readOnly) this.#store.flushAccess(true);
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
    const ns = this.#ns(options.namespace);
    this.#store.flushSync();
    let rec = this.#index().record(ns, key);
    for (let attempt = 0; rec !== undefined && rec.type === BLOB; attempt++) {
      const path = this.#store.layout.blobPath(rec.hash);
      let mapped: MappedFile | undefined;
      try {
        if (options.map) mapped = mapFile(path);
        if (options.verify !== false) {
          const sum = mapped ? await treeHashAsync(mapped.buffer) : await hashFile(path);
          const size = mapped ? mapped.byteLength : (await stat(path)).size;
          if (sum !== rec.hash || size !== rec.size) {
            mapped?.close();
            return this.#damaged(ns, key, rec.hash, 'checksum mismatch');
          }
        }
        this.#stats.hits++;
        this.#store.touch(ns, key);
        return { path, size: rec.size, kind: rec.kind, meta: rec.meta, ...(mapped ? { mapped } : {}) };
      } catch (err) {
        mapped?.close();
        const code = (err as { code?: string }).code;
        if (code !== 'ERR_IO' && code !== 'ENOENT') {
          this.#store.fail('getFile', err);
          break;
        }
        // As in #readBlob: evicted (and maybe written again) since the index read.
        const now = this.#current(ns, key);
        if (attempt > 0 && now?.hash === rec.hash) return this.#damaged(ns, key, rec.hash, 'file missing');
        rec = now;
        if (attempt > 0) break;
      }
    }
    this.#stats.misses++;
    return undefined;
  }

  /**
   * Checks every entry (values, files, heads), the LRU index, the totals, and looks for orphans
   * and stale work files. With `repair`, fixes what it finds, re-checking each problem in the
   * transaction that fixes it.
   */
  async verify(options: { repair?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyReport> {
    this.#assertOpen();
    this.#store.flushSync();
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
    await this.#store.release();
  }
}

/** Whether `t` is a {@link DiskTier} (by its shape: the Cache uses tiers through the interface only). */
export function isDiskTier(t: Tier): t is DiskTier {
  return t.name === 'disk' && typeof (t as DiskTier).fileEntry === 'function' && typeof (t as DiskTier).dir === 'string';
}
