// Disk tier: an LMDB index (key -> record, LRU order, totals) with small values inline and large
// ones as immutable files under blobs/, written to tmp/ and renamed into place. Safe for several
// processes and for a writer killed at any instant: a record is committed only after its file is
// complete, every read is checked against the recorded tree hash, and files are only ever
// unlinked (never truncated or rewritten), so a live mmap of one can never fault.
import { randomBytes } from 'node:crypto';
import {
  chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readdirSync,
  renameSync, rmSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { readFile, rename, copyFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import { toBytes } from '../bytes.js';
import { CacheError, checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { hashFile, treeHash, treeHashAsync } from '../hash.js';
import { logDebug, warn } from '../log.js';
import { HOST, isStaleWork } from '../proc.js';
import { mapFile, type MappedFile } from '../mmap.js';
import { decodeRecord, encodeRecord, type DiskRecord } from './record.js';
import { emptyStats, type PutMeta, type Tier, type TierStats } from './tier.js';

/** Options of {@link DiskTier}. */
export interface DiskTierOptions {
  /** Cache directory (created with mode 0700). */
  dir: string;
  /** Upper bound of stored bytes; least recently used entries are evicted past it. Default 10 GB. */
  maxBytes?: number;
  /** Values up to this size live inside the LMDB index; larger ones are files. Default 64 KiB. */
  inlineThreshold?: number;
  /** fsync each file before it is published (survives power loss, costs latency). Default false. */
  durable?: boolean;
  /** How often batched access times are written, in ms. Default 1000. */
  accessFlushMs?: number;
  /** Inspect only: no tmp cleanup at open, puts refused (for tools such as `modelcache ls`). */
  readOnly?: boolean;
}

/** A file-backed entry as handed out by {@link DiskTier.getFile}. */
export interface DiskFile {
  /** Absolute path of the immutable file. Valid until the entry is evicted or replaced. */
  path: string;
  size: number;
  kind: string;
  meta: Record<string, unknown> | undefined;
  /** Present with `{ map: true }`: a zero-copy map of the file (close it when done). */
  mapped?: MappedFile;
}

/** One problem found by {@link DiskTier.verify}. */
export interface VerifyProblem {
  key?: string;
  path?: string;
  problem: 'missing-file' | 'checksum' | 'missing-value' | 'bad-record' | 'lru-mismatch' | 'totals' | 'orphan-file' | 'stale-tmp';
  detail?: string;
}

export interface VerifyReport {
  entries: number;
  bytes: number;
  problems: VerifyProblem[];
  repaired: number;
}

/** A listed entry (for `modelcache ls`). */
export interface DiskEntry {
  key: string;
  size: number;
  kind: string;
  inline: boolean;
  created: number;
  /** Last access, ms since epoch. */
  accessed: number;
  meta: Record<string, unknown> | undefined;
}

const LAYOUT_VERSION = 1;
const TOTALS_KEY = 'totals';
const STALE_TMP_MS = 24 * 3600_000;
const EVICT_TARGET = 0.95;
const ORPHAN_GRACE_MS = 60_000;

// tmp/ names are <host>-<pid>-<random>: only this host can tell whether a writer is alive.

let lastStamp = 0;
/** Unique, increasing access stamps (µs since epoch) within this process. */
function nextStamp(): number {
  lastStamp = Math.max(Date.now() * 1000, lastStamp + 1);
  return lastStamp;
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || !/^[0-9a-zA-Z_.-]{1,200}$/.test(key)) {
    throw invalidType('key', 'string of 1-200 characters from [0-9a-zA-Z_.-] (e.g. a cacheKey())', key);
  }
  return key;
}

/** An LMDB-indexed, byte-limited, multi-process-safe store of values on disk. */
export class DiskTier implements Tier {
  readonly name = 'disk';
  readonly encoded = true;
  readonly dir: string;
  readonly maxBytes: number;
  readonly inlineThreshold: number;
  readonly #readOnly: boolean;
  readonly #durable: boolean;
  readonly #root: RootDatabase;
  readonly #entries: Database<Buffer, string>;
  readonly #values: Database<Buffer, string>;
  readonly #lru: Database<Buffer, [number, string]>;
  readonly #meta: Database<Buffer, string>;
  readonly #blobs: string;
  readonly #tmp: string;
  readonly #stats: TierStats;
  // key -> stamp of the last access not yet written to the index
  readonly #pendingAccess = new Map<string, number>();
  readonly #flushTimer: NodeJS.Timeout;
  #closed = false;
  #evicting: Promise<void> | undefined;
  #marker: string | undefined;
  #background: Promise<void> | undefined;

  constructor(options: DiskTierOptions) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('DiskTier options', options, ['dir', 'maxBytes', 'inlineThreshold', 'durable', 'accessFlushMs', 'readOnly']);
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalidType('options.dir', 'non-empty string', options.dir);
    this.dir = options.dir;
    const explicitMax = options.maxBytes === undefined ? undefined : checkInteger('options.maxBytes', options.maxBytes, 0, Number.MAX_SAFE_INTEGER);
    this.inlineThreshold = options.inlineThreshold === undefined ? 64 * 1024 : checkInteger('options.inlineThreshold', options.inlineThreshold, 0, 1 << 30);
    this.#durable = options.durable === undefined ? false : Boolean(options.durable);
    this.#readOnly = Boolean(options.readOnly);
    const flushMs = options.accessFlushMs === undefined ? 1000 : checkInteger('options.accessFlushMs', options.accessFlushMs, 1, 3_600_000);

    this.#blobs = join(this.dir, 'blobs');
    this.#tmp = join(this.dir, 'tmp');
    for (const d of [this.dir, this.#blobs, this.#tmp, join(this.dir, 'index')]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    // eventTurnBatching off: with it, lmdb-js opens each batch with a write of its own whose
    // promise nobody holds, so a failed commit (ENOSPC) would end the process on an unhandled
    // rejection. Every write here goes through #txn anyway.
    this.#root = openLmdb({ path: join(this.dir, 'index'), maxDbs: 8, encoding: 'binary', noMemInit: false, eventTurnBatching: false });
    this.#entries = this.#root.openDB({ name: 'entries', encoding: 'binary' });
    this.#values = this.#root.openDB({ name: 'values', encoding: 'binary' });
    this.#lru = this.#root.openDB({ name: 'lru', encoding: 'binary', keyEncoding: 'ordered-binary' }) as unknown as Database<Buffer, [number, string]>;
    this.#meta = this.#root.openDB({ name: 'meta', encoding: 'binary' });
    for (const f of ['data.mdb', 'lock.mdb']) {
      try {
        chmodSync(join(this.dir, 'index', f), 0o600);
      } catch {
        /* created by another process with its own umask; not fatal */
      }
    }
    this.#checkLayout();
    // The limit is stored so that tools opening the cache without one (the CLI) see the owner's.
    const stored = this.#meta.get('maxBytes');
    this.maxBytes = explicitMax ?? (stored ? Number(stored.toString()) : 10e9);
    if (explicitMax !== undefined && stored?.toString() !== String(explicitMax)) {
      this.#meta.putSync('maxBytes', Buffer.from(String(explicitMax)));
    }
    this.#stats = emptyStats(this.maxBytes);
    if (!this.#readOnly) {
      // Each open process keeps a marker in tmp/; a marker of a dead process means it crashed,
      // possibly between publishing a file and indexing it: collect such orphans in the background.
      const crashed = this.#cleanStaleTmp() > 0;
      this.#marker = this.tmpPath('.open');
      try {
        closeSync(openSync(this.#marker, 'wx', 0o600));
      } catch {
        this.#marker = undefined; // a full disk: the cache still works, only crash detection is off
      }
      if (crashed) {
        this.#background = new Promise<void>((resolve) => setImmediate(resolve))
          .then(() => (this.#closed ? 0 : this.collectOrphans()))
          .then(() => undefined, (err) => this.#fail('orphan collection', err));
      }
    }
    this.#flushTimer = setInterval(() => void this.flushAccess(), flushMs);
    this.#flushTimer.unref();
  }

  #checkLayout(): void {
    const v = this.#meta.get('layout');
    if (v === undefined) {
      this.#meta.putSync('layout', Buffer.from(String(LAYOUT_VERSION)));
    } else if (v.toString() !== String(LAYOUT_VERSION)) {
      throw new CacheError('ERR_BAD_INPUT', `cache at ${this.dir} has layout version ${v.toString()}; this modelcache reads version ${LAYOUT_VERSION}`);
    }
  }

  /**
   * Whether a tmp/ file was left by a writer that is gone: one of this host whose pid is dead, or
   * any file older than a day (a writer on another host sharing the directory, a reused pid).
   */
  #isStaleTmp(name: string): boolean {
    return isStaleWork(this.#tmp, name, STALE_TMP_MS);
  }


  /** Removes stale tmp files; returns how many. */
  #cleanStaleTmp(): number {
    let removed = 0;
    for (const name of safeReaddir(this.#tmp)) {
      if (!this.#isStaleTmp(name)) continue;
      try {
        rmSync(join(this.#tmp, name), { force: true, recursive: true });
        removed++;
        logDebug(`disk: removed stale tmp file ${name}`);
      } catch {
        /* raced with another cleaner */
      }
    }
    return removed;
  }

  /** A fresh path inside this cache's tmp/ (same filesystem as blobs/, so it can be renamed in). */
  tmpPath(suffix = ''): string {
    return join(this.#tmp, `${HOST}-${process.pid}-${randomBytes(8).toString('hex')}${suffix}`);
  }

  #filePath(key: string, file: string): string {
    return join(this.#blobs, key.slice(0, 2), key.slice(2, 4), file);
  }

  #readRecord(key: string): DiskRecord | undefined {
    const raw = this.#entries.getBinaryFast(key);
    if (raw === undefined) return undefined;
    return decodeRecord(raw);
  }

  #readTotals(): { bytes: number; entries: number } {
    const t = this.#meta.getBinaryFast(TOTALS_KEY);
    if (!t || t.length !== 16) return { bytes: 0, entries: 0 };
    return { bytes: t.readDoubleLE(0), entries: t.readDoubleLE(8) };
  }

  #writeTotals(bytes: number, entries: number): void {
    const b = Buffer.allocUnsafe(16);
    b.writeDoubleLE(Math.max(0, bytes), 0);
    b.writeDoubleLE(Math.max(0, entries), 8);
    this.#meta.put(TOTALS_KEY, b);
  }

  /** Inside a write transaction: removes an entry and its LRU key; returns its file path, if any. */
  #removeInTxn(key: string, rec: DiskRecord, totals: { bytes: number; entries: number }): string | undefined {
    this.#entries.remove(key);
    this.#lru.remove([rec.stamp, key]);
    if (rec.inline) this.#values.remove(key);
    totals.bytes -= rec.size;
    totals.entries -= 1;
    return rec.inline ? undefined : this.#filePath(key, rec.file);
  }

  #unlinkQuietly(paths: Iterable<string | undefined>): void {
    for (const p of paths) {
      if (!p) continue;
      try {
        unlinkSync(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logDebug(`disk: cannot unlink ${p}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Runs a write transaction. When its commit fails (disk full, I/O error), lmdb-js rejects with
   * an error whose `commitError` is a second promise, rejected with the cause: it is handled
   * here, or Node would end the process on an unhandled rejection.
   */
  #txn<T>(fn: () => T): Promise<T> {
    return this.#root.transaction(fn).catch((err: unknown) => {
      const cause = (err as { commitError?: Promise<unknown> } | undefined)?.commitError;
      if (cause && typeof cause.catch === 'function') cause.catch((e: unknown) => logDebug(`disk: commit failed: ${(e as Error)?.message ?? e}`));
      throw err;
    });
  }

  #fail(op: string, err: unknown): void {
    this.#stats.errors++;
    warn('ERR_TIER', `disk tier ${op} failed in ${this.dir} (${(err as Error)?.message ?? err}); continuing without it`);
  }

  #corrupt(key: string, rec: DiskRecord, why: string): void {
    this.#stats.corrupt++;
    warn('ERR_CORRUPT', `dropped damaged cache entry ${key} in ${this.dir}: ${why}`);
    // Delete only if the record is still the one we read: another process may have replaced it.
    void this.#txn(() => {
      const cur = this.#readRecord(key);
      if (!cur || cur.checksum !== rec.checksum || cur.file !== rec.file) return undefined;
      const totals = this.#readTotals();
      const path = this.#removeInTxn(key, cur, totals);
      this.#writeTotals(totals.bytes, totals.entries);
      return path;
    })
      .then((path) => this.#unlinkQuietly([path]))
      .catch((err) => this.#fail('delete of a damaged entry', err));
  }

  /**
   * After the file of `rec` was not found: whether the index still points at it, read from a
   * fresh snapshot (the one `rec` came from may predate the eviction or replacement, here or in
   * another process, that unlinked the file).
   */
  #stillIndexed(key: string, rec: DiskRecord): boolean {
    this.#root.resetReadTxn();
    const cur = this.#readRecordSafe(key);
    return cur !== undefined && cur.file === rec.file;
  }

  #touch(key: string): void {
    this.#pendingAccess.set(key, nextStamp());
    if (this.#pendingAccess.size >= 4096) void this.flushAccess();
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheError('ERR_CLOSED', `disk tier at ${this.dir} is closed`);
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (this.#readOnly) throw new CacheError('ERR_BAD_INPUT', `disk tier at ${this.dir} was opened read-only`);
  }

  /**
   * Reads a value. Inline values answer synchronously; file-backed ones with a promise.
   * A damaged entry is dropped and reported as a miss.
   */
  get(key: string): Buffer | undefined | Promise<Buffer | undefined> {
    this.#assertOpen();
    checkKey(key);
    let rec: DiskRecord | undefined;
    try {
      rec = this.#readRecord(key);
    } catch (err) {
      if (err instanceof CacheError && err.code === 'ERR_CORRUPT') {
        this.#stats.corrupt++;
        void this.#txn(() => this.#entries.remove(key)).catch(() => {});
      } else this.#fail('read', err);
      this.#stats.misses++;
      return undefined;
    }
    if (rec === undefined) {
      this.#stats.misses++;
      return undefined;
    }
    if (rec.inline) return this.#finishInline(key, rec);
    return this.#readFileEntry(key, rec);
  }

  #finishInline(key: string, rec: DiskRecord): Buffer | undefined {
    const value = this.#values.getBinary(key);
    if (value === undefined || value.length !== rec.size || treeHash(value) !== rec.checksum) {
      this.#corrupt(key, rec, value === undefined ? 'inline value missing' : 'checksum mismatch');
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    this.#touch(key);
    return value;
  }

  async #readFileEntry(key: string, rec: DiskRecord): Promise<Buffer | undefined> {
    const path = this.#filePath(key, rec.file);
    let value: Buffer;
    try {
      value = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Evicted or replaced by another process between our index read and the open: a miss.
        if (this.#stillIndexed(key, rec)) this.#corrupt(key, rec, 'file missing');
      } else this.#fail('read', err);
      this.#stats.misses++;
      return undefined;
    }
    if (value.length !== rec.size || (await treeHashAsync(value)) !== rec.checksum) {
      this.#corrupt(key, rec, value.length !== rec.size ? `file is ${value.length} bytes, expected ${rec.size}` : 'checksum mismatch');
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    this.#touch(key);
    return value;
  }

  /** Reads several keys: inline values synchronously, file-backed ones concurrently. */
  getMany(keys: readonly string[]): (Buffer | undefined)[] | Promise<(Buffer | undefined)[]> {
    const out = new Array<Buffer | undefined>(keys.length);
    let files: Promise<void>[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const r = this.get(keys[i]);
      if (r instanceof Promise) (files ??= []).push(r.then((v) => void (out[i] = v)));
      else out[i] = r;
    }
    return files ? Promise.all(files).then(() => out) : out;
  }

  /**
   * A file-backed entry as a path (to load by path) or, with `map: true`, also as a zero-copy
   * map. The file is verified against its checksum unless `verify: false`. Inline entries and
   * misses give undefined.
   */
  async getFile(key: string, options: { map?: boolean; verify?: boolean } = {}): Promise<DiskFile | undefined> {
    this.#assertOpen();
    checkKey(key);
    const rec = this.#readRecord(key);
    if (rec === undefined || rec.inline) {
      this.#stats.misses++;
      return undefined;
    }
    const path = this.#filePath(key, rec.file);
    let mapped: MappedFile | undefined;
    try {
      if (options.map) mapped = mapFile(path);
      if (options.verify !== false) {
        const sum = mapped ? await treeHashAsync(mapped.buffer) : await hashFile(path);
        const size = mapped ? mapped.byteLength : (await stat(path)).size;
        if (sum !== rec.checksum || size !== rec.size) {
          mapped?.close();
          this.#corrupt(key, rec, 'checksum mismatch');
          this.#stats.misses++;
          return undefined;
        }
      }
    } catch (err) {
      mapped?.close();
      const code = (err as { code?: string }).code;
      if (code === 'ERR_IO' || code === 'ENOENT') {
        if (this.#stillIndexed(key, rec)) this.#corrupt(key, rec, 'file missing');
      } else this.#fail('getFile', err);
      this.#stats.misses++;
      return undefined;
    }
    this.#stats.hits++;
    this.#touch(key);
    return { path, size: rec.size, kind: rec.kind, meta: rec.meta, ...(mapped ? { mapped } : {}) };
  }

  has(key: string): boolean {
    this.#assertOpen();
    return this.#entries.doesExist(checkKey(key));
  }

  /** Index metadata of an entry without reading its value. */
  info(key: string): DiskEntry | undefined {
    this.#assertOpen();
    const rec = this.#readRecord(checkKey(key));
    return rec && this.#entryOf(key, rec);
  }

  #entryOf(key: string, rec: DiskRecord): DiskEntry {
    const pending = this.#pendingAccess.get(key);
    return {
      key, size: rec.size, kind: rec.kind, inline: rec.inline, created: rec.created,
      accessed: Math.floor((pending ?? rec.stamp) / 1000), meta: rec.meta,
    };
  }

  /** Stores a value; resolves false if it is larger than maxBytes or the disk refused it. */
  async put(key: string, value: Uint8Array, meta: PutMeta = {}): Promise<boolean> {
    this.#assertWritable();
    checkKey(key);
    const bytes = toBytes('value', value);
    if (bytes.byteLength > this.maxBytes) {
      this.#stats.rejected++;
      return false;
    }
    try {
      const checksum = bytes.byteLength >= 1 << 20 ? await treeHashAsync(bytes) : treeHash(bytes);
      if (bytes.byteLength <= this.inlineThreshold) {
        return await this.#commit(key, { inline: true, size: bytes.byteLength, checksum, meta }, bytes);
      }
      const file = this.#newFileName(key, checksum);
      const dest = this.#filePath(key, file);
      const tmp = this.tmpPath();
      try {
        const fd = openSync(tmp, 'wx', 0o600);
        try {
          let off = 0;
          while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
          if (this.#durable) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        mkdirSync(join(this.#blobs, key.slice(0, 2), key.slice(2, 4)), { recursive: true, mode: 0o700 });
        renameSync(tmp, dest);
      } catch (err) {
        this.#unlinkQuietly([tmp]);
        throw err;
      }
      return await this.#commitFile(key, dest, { inline: false, size: bytes.byteLength, checksum, meta, file });
    } catch (err) {
      this.#stats.rejected++;
      this.#fail('put', err);
      return false;
    }
  }

  /**
   * Publishes an existing file as the value of `key` (moved in when it is on the same
   * filesystem, e.g. a {@link tmpPath}; copied otherwise). Resolves false if refused.
   */
  async putFile(key: string, path: string, meta: PutMeta = {}): Promise<boolean> {
    this.#assertWritable();
    checkKey(key);
    if (typeof path !== 'string') throw invalidType('path', 'string', path);
    try {
      const { size } = await stat(path);
      if (size > this.maxBytes) {
        this.#stats.rejected++;
        return false;
      }
      const checksum = await hashFile(path);
      const file = this.#newFileName(key, checksum);
      const dest = this.#filePath(key, file);
      mkdirSync(join(this.#blobs, key.slice(0, 2), key.slice(2, 4)), { recursive: true, mode: 0o700 });
      if (path.startsWith(this.#tmp)) {
        await rename(path, dest);
      } else {
        const tmp = this.tmpPath();
        try {
          await copyFile(path, tmp);
          chmodSync(tmp, 0o600);
          await rename(tmp, dest);
        } catch (err) {
          // A partial copy on a full disk would keep it full.
          this.#unlinkQuietly([tmp]);
          throw err;
        }
      }
      return await this.#commitFile(key, dest, { inline: false, size, checksum, meta, file });
    } catch (err) {
      this.#stats.rejected++;
      this.#fail('putFile', err);
      return false;
    }
  }

  /**
   * The name of a new file-backed value: a fresh one per write, so a file belongs to exactly one
   * record and unlinking the file of a replaced, evicted or damaged record never takes away the
   * file of a newer one (the same key and content written again, here or in another process).
   * Shaped `<key>-<16 hex>` like before, as verify's orphan check expects.
   */
  #newFileName(key: string, checksum: string): string {
    return `${key}-${checksum.slice(0, 8)}${randomBytes(4).toString('hex')}`;
  }

  /** Commits a file already moved into blobs/; if the commit fails, the file is unreferenced. */
  async #commitFile(key: string, dest: string, e: { inline: false; size: number; checksum: string; meta: PutMeta; file: string }): Promise<boolean> {
    try {
      return await this.#commit(key, e);
    } catch (err) {
      this.#unlinkQuietly([dest]);
      throw err;
    }
  }

  async #commit(
    key: string,
    e: { inline: boolean; size: number; checksum: string; meta: PutMeta; file?: string },
    inlineValue?: Uint8Array,
  ): Promise<boolean> {
    const stamp = nextStamp();
    const rec: DiskRecord = {
      inline: e.inline, size: e.size, stamp, created: Date.now(), checksum: e.checksum,
      kind: e.meta.kind ?? '', file: e.file ?? '', meta: e.meta.meta,
    };
    const encoded = encodeRecord(rec);
    const replaced = await this.#txn(() => {
      const totals = this.#readTotals();
      const prev = this.#readRecordSafe(key);
      let old: string | undefined;
      if (prev) {
        old = this.#removeInTxn(key, prev, totals); // every write has a fresh file name
      }
      this.#entries.put(key, encoded);
      this.#lru.put([stamp, key], Buffer.alloc(0));
      if (inlineValue) this.#values.put(key, Buffer.from(inlineValue.buffer, inlineValue.byteOffset, inlineValue.byteLength));
      totals.bytes += rec.size;
      totals.entries += 1;
      this.#writeTotals(totals.bytes, totals.entries);
      return { old, over: totals.bytes > this.maxBytes };
    });
    this.#pendingAccess.delete(key);
    this.#unlinkQuietly([replaced.old]);
    this.#stats.puts++;
    // The entry is stored: a failed eviction is counted, not reported as a failed put.
    if (replaced.over) await this.#evictTo(Math.floor(this.maxBytes * EVICT_TARGET), key).catch((err) => this.#fail('eviction', err));
    return true;
  }

  #readRecordSafe(key: string): DiskRecord | undefined {
    try {
      return this.#readRecord(key);
    } catch {
      // A damaged record is replaced by the caller's write; treat it as absent (its LRU key leaks
      // until verify --repair, but the entry itself is gone).
      return undefined;
    }
  }

  /** Writes batched access times to the index (also done on a timer and before eviction). */
  async flushAccess(): Promise<void> {
    if (this.#pendingAccess.size === 0 || this.#closed) return;
    const pending = [...this.#pendingAccess];
    this.#pendingAccess.clear();
    try {
      await this.#txn(() => {
        for (const [key, stamp] of pending) {
          const rec = this.#readRecordSafe(key);
          if (!rec || rec.stamp >= stamp) continue;
          this.#lru.remove([rec.stamp, key]);
          rec.stamp = stamp;
          this.#lru.put([stamp, key], Buffer.alloc(0));
          this.#entries.put(key, encodeRecord(rec));
        }
      });
    } catch (err) {
      this.#fail('access-time update', err);
    }
  }

  /**
   * Evicts least recently used entries until at most `target` bytes remain. `keep` (the entry a
   * put just stored) is never evicted: a value that fits the tier is never thrown away by its own
   * put; the others go first, and the tier still ends at or under maxBytes.
   */
  async #evictTo(target: number, keep?: string): Promise<{ evicted: number; bytes: number }> {
    // One eviction at a time per process; a put that finds one running waits for it, then rechecks.
    while (this.#evicting) await this.#evicting;
    let evicted = 0;
    let freedBytes = 0;
    const run = (async () => {
      await this.flushAccess();
      const files = await this.#txn(() => {
        const totals = this.#readTotals();
        const paths: (string | undefined)[] = [];
        if (totals.bytes <= target) return paths;
        // Collect first, then delete: no writes to the LRU db while a cursor walks it.
        const victims: [[number, string], DiskRecord | undefined][] = [];
        let freed = 0;
        for (const { key } of this.#lru.getRange({})) {
          if (totals.bytes - freed <= target) break;
          const [stamp, k] = key as [number, string];
          const rec = this.#readRecordSafe(k);
          if (!rec || rec.stamp !== stamp) victims.push([[stamp, k], undefined]); // stale LRU key
          else if (k !== keep) {
            victims.push([[stamp, k], rec]);
            freed += rec.size;
          }
        }
        for (const [lruKey, rec] of victims) {
          if (!rec) this.#lru.remove(lruKey);
          else {
            paths.push(this.#removeInTxn(lruKey[1], rec, totals));
            evicted++;
            freedBytes += rec.size;
          }
        }
        this.#writeTotals(totals.bytes, totals.entries);
        return paths;
      });
      this.#unlinkQuietly(files);
      this.#stats.evictions += evicted;
    })();
    this.#evicting = run.finally(() => {
      this.#evicting = undefined;
    });
    await this.#evicting;
    return { evicted, bytes: freedBytes };
  }

  /** Evicts least recently used entries down to `maxBytes` (default: the tier's limit). */
  async prune(maxBytes = this.maxBytes): Promise<{ evicted: number; bytes: number }> {
    this.#assertWritable();
    checkInteger('maxBytes', maxBytes, 0, Number.MAX_SAFE_INTEGER);
    return this.#evictTo(maxBytes);
  }

  async delete(key: string): Promise<boolean> {
    this.#assertWritable();
    checkKey(key);
    this.#pendingAccess.delete(key);
    const path = await this.#txn(() => {
      const rec = this.#readRecordSafe(key);
      if (!rec) {
        // Absent, or a damaged record: remove whatever is stored under the key.
        return this.#entries.removeSync(key) ? (this.#values.removeSync(key), '') : null;
      }
      const totals = this.#readTotals();
      const p = this.#removeInTxn(key, rec, totals);
      this.#writeTotals(totals.bytes, totals.entries);
      return p ?? '';
    });
    if (path === null) return false;
    this.#unlinkQuietly([path]);
    return true;
  }

  async clear(): Promise<void> {
    this.#assertWritable();
    this.#pendingAccess.clear();
    // Unlink only the files of the entries removed here: a put racing from another process
    // keeps its file and its record.
    const files = await this.#txn(() => {
      const paths: string[] = [];
      for (const { key, value } of this.#entries.getRange({})) {
        try {
          const rec = decodeRecord(value as Buffer);
          if (!rec.inline) paths.push(this.#filePath(key as string, rec.file));
        } catch {
          /* a damaged record has no trustworthy file name; verify --repair collects orphans */
        }
      }
      this.#entries.clearSync();
      this.#values.clearSync();
      this.#lru.clearSync();
      this.#writeTotals(0, 0);
      return paths;
    });
    this.#unlinkQuietly(files);
  }

  /** Entries in the index, most recently used last. */
  *list(): Generator<DiskEntry> {
    this.#assertOpen();
    for (const { key } of this.#lru.getRange({})) {
      const [stamp, k] = key as [number, string];
      const rec = this.#readRecordSafe(k);
      if (rec && rec.stamp === stamp) yield this.#entryOf(k, rec);
    }
  }

  stats(): TierStats {
    const totals = this.#closed ? { bytes: 0, entries: 0 } : this.#readTotals();
    return { ...this.#stats, bytes: totals.bytes, entries: totals.entries };
  }

  /**
   * Checks every entry (value present, size and checksum), the LRU index, the totals, and looks
   * for orphan files in blobs/ and stale files in tmp/. With `repair`, fixes what it finds:
   * drops bad entries, rebuilds LRU keys and totals, removes orphans older than a minute.
   */
  async verify(options: { repair?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<VerifyReport> {
    this.#assertOpen();
    await this.flushAccess();
    const problems: VerifyProblem[] = [];
    const bad = new Map<string, DiskRecord | undefined>();
    const liveFiles = new Set<string>();
    const lruOf = new Map<string, number>();
    let entries = 0;
    let bytes = 0;
    const total = this.#entries.getCount();
    let done = 0;
    for (const { key } of this.#lru.getRange({})) {
      const [stamp, k] = key as [number, string];
      lruOf.set(`${k}\0${stamp}`, stamp);
    }
    for (const { key: k } of this.#entries.getRange({})) {
      const key = k as string;
      done++;
      options.onProgress?.(done, total);
      let rec: DiskRecord;
      try {
        rec = decodeRecord(this.#entries.getBinary(key)!);
      } catch (err) {
        problems.push({ key, problem: 'bad-record', detail: (err as Error).message });
        bad.set(key, undefined);
        continue;
      }
      entries++;
      bytes += rec.size;
      if (!lruOf.has(`${key}\0${rec.stamp}`)) problems.push({ key, problem: 'lru-mismatch', detail: 'entry has no LRU key' });
      else lruOf.delete(`${key}\0${rec.stamp}`);
      if (rec.inline) {
        const v = this.#values.getBinary(key);
        if (v === undefined) {
          problems.push({ key, problem: 'missing-value' });
          bad.set(key, rec);
        } else if (v.length !== rec.size || treeHash(v) !== rec.checksum) {
          problems.push({ key, problem: 'checksum' });
          bad.set(key, rec);
        }
        continue;
      }
      const path = this.#filePath(key, rec.file);
      liveFiles.add(path);
      try {
        const st = await stat(path);
        if (st.size !== rec.size || (await hashFile(path)) !== rec.checksum) {
          problems.push({ key, path, problem: 'checksum' });
          bad.set(key, rec);
        }
      } catch {
        problems.push({ key, path, problem: 'missing-file' });
        bad.set(key, rec);
      }
    }
    for (const stale of lruOf.keys()) problems.push({ key: stale.split('\0')[0], problem: 'lru-mismatch', detail: 'LRU key without entry' });
    const totals = this.#readTotals();
    if (totals.bytes !== bytes || totals.entries !== entries) {
      problems.push({ problem: 'totals', detail: `index says ${totals.entries} entries / ${totals.bytes} bytes, found ${entries} / ${bytes}` });
    }
    const orphans = this.#listOrphans(ORPHAN_GRACE_MS, liveFiles);
    for (const p of orphans) problems.push({ path: p, problem: 'orphan-file' });
    for (const name of safeReaddir(this.#tmp)) {
      if (this.#isStaleTmp(name)) problems.push({ path: join(this.#tmp, name), problem: 'stale-tmp' });
    }

    let repaired = 0;
    if (options.repair && problems.length > 0 && !this.#readOnly) {
      const fixed = await this.#repair(bad, orphans);
      // Index problems are all fixed by the rebuild; files may have vanished in between (also fixed).
      const indexProblems = problems.filter((p) => p.problem === 'lru-mismatch' || p.problem === 'totals').length;
      repaired = bad.size + indexProblems + fixed.orphans + Math.min(fixed.tmp, problems.filter((p) => p.problem === 'stale-tmp').length);
    }
    return { entries, bytes, problems, repaired };
  }

  /** Drops bad entries, rebuilds LRU keys and totals, removes old orphans and stale tmp files. */
  async #repair(bad: Map<string, DiskRecord | undefined>, orphans: string[]): Promise<{ orphans: number; tmp: number }> {
    const files = await this.#txn(() => {
      const paths: (string | undefined)[] = [];
      for (const [key, rec] of bad) {
        this.#entries.remove(key);
        this.#values.remove(key);
        if (rec && !rec.inline) paths.push(this.#filePath(key, rec.file));
      }
      // Rebuild the LRU index and the totals from the entries that remain.
      this.#lru.clearSync();
      let bytes = 0;
      let entries = 0;
      for (const { key, value } of this.#entries.getRange({})) {
        const rec = decodeRecord(value as Buffer);
        this.#lru.put([rec.stamp, key as string], Buffer.alloc(0));
        bytes += rec.size;
        entries++;
      }
      this.#writeTotals(bytes, entries);
      return paths;
    });
    this.#unlinkQuietly(files);
    return { orphans: this.#unlinkOrphans(orphans), tmp: this.#cleanStaleTmp() };
  }

  /** Unlinks files of blobs/ that no record points at (re-checked here, from a fresh snapshot). */
  #unlinkOrphans(paths: string[]): number {
    this.#root.resetReadTxn();
    let removed = 0;
    for (const p of paths) {
      const f = p.slice(p.lastIndexOf('/') + 1);
      const rec = this.#readRecordSafe(f.slice(0, f.lastIndexOf('-')));
      if (rec && !rec.inline && rec.file === f) continue; // indexed since it was listed
      try {
        unlinkSync(p);
        removed++;
      } catch {
        /* gone already */
      }
    }
    return removed;
  }

  /** Files under blobs/ older than `graceMs` that no record points at. */
  #listOrphans(graceMs: number, indexed?: Set<string>): string[] {
    const out: string[] = [];
    for (const a of safeReaddir(this.#blobs)) {
      for (const b of safeReaddir(join(this.#blobs, a))) {
        for (const f of safeReaddir(join(this.#blobs, a, b))) {
          const p = join(this.#blobs, a, b, f);
          // A young unindexed file is most likely a put in flight (file first, record second).
          if (!isOlderThan(p, graceMs)) continue;
          if (indexed ? !indexed.has(p) : !this.#isIndexed(f)) out.push(p);
        }
      }
    }
    return out;
  }

  #isIndexed(file: string): boolean {
    const rec = this.#readRecordSafe(file.slice(0, file.lastIndexOf('-')));
    return rec !== undefined && !rec.inline && rec.file === file;
  }

  /**
   * Removes files in blobs/ that no entry points at and that are older than `graceMs` (default
   * a minute, so puts in flight elsewhere keep theirs). A writer killed between publishing its
   * file and committing its record leaves one; this runs by itself when a cache is opened after
   * such a crash, and `verify --repair` does it too. Resolves to the number of files removed.
   */
  async collectOrphans(options: { graceMs?: number } = {}): Promise<number> {
    this.#assertWritable();
    const grace = options.graceMs === undefined ? ORPHAN_GRACE_MS : checkInteger('options.graceMs', options.graceMs, 0, Number.MAX_SAFE_INTEGER);
    this.#root.resetReadTxn();
    const removed = this.#unlinkOrphans(this.#listOrphans(grace));
    if (removed > 0) logDebug(`disk: removed ${removed} orphan file(s) in ${this.dir}`);
    return removed;
  }

  /** Resolves when work started in the background at open (orphan collection) has finished. */
  async settled(): Promise<void> {
    await this.#background;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#flushTimer);
    await this.#background;
    while (this.#evicting) await this.#evicting;
    await this.flushAccess();
    this.#closed = true;
    if (this.#marker) this.#unlinkQuietly([this.#marker]);
    await this.#root.close();
  }
}

function isOlderThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > ms;
  } catch {
    return false;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
