// The read side of the disk tier: values (inline ones without a promise), file entries from
// their heads (no index), single-file values by path or map. A damaged entry is dropped and
// reported as a miss; a file missing because another process evicted (and maybe put again) it
// since the index was read counts as damage only once the write lock confirms it.
import { readFileSync } from 'node:fs';
import { hashFile, treeHash, treeHashAsync } from '../../hash.js';
import { warn } from '../../log.js';
import { mapFile, type MappedFile } from '../../mmap.js';
import type { LocalFileEntry } from '../tier.js';
import { blobState, NotABlob, readBlobFile } from './blob.js';
import { readHead } from './files.js';
import { safeDecode, sameVersion, type PutOp, type Seen } from './queue.js';
import { BLOB, FILES, INLINE, valueOffset, type DiskRecord } from './record.js';
import type { DiskStore } from './store.js';

/** A file-backed value as handed out by `DiskTier.getFile`. */
export interface DiskFile {
  /** Absolute path of the immutable file. Valid until the entry is evicted or replaced. */
  path: string;
  /** Size of the file in bytes: the stored (encoded) value when a Cache wrote it. */
  size: number;
  /** The label given when it was stored; `''` when none. */
  kind: string;
  /** The JSON metadata given when it was stored, if any. */
  meta: Record<string, unknown> | undefined;
  /** Present with `{ map: true }`: a zero-copy map of the file (close it when done). */
  mapped?: MappedFile;
}

/** A listed entry (for `modelcache ls`). */
export interface DiskEntry {
  /** The namespace the entry belongs to. */
  namespace: string;
  /** The entry's key within its namespace. */
  key: string;
  /** Stored bytes (encoded value, or all files of a file entry): what counts against `maxBytes`. */
  size: number;
  /** The label given when it was stored (`'tensor'`, `'session'`, ...); `''` when none. */
  kind: string;
  /** 'inline': inside the index; 'blob': one file; 'files': a file entry. */
  type: 'inline' | 'blob' | 'files';
  /** `type === 'inline'`: the value lives inside the LMDB index rather than in a file of its own. */
  inline: boolean;
  /** When the entry was stored, ms since epoch. */
  created: number;
  /** Last access, ms since epoch. */
  accessed: number;
  /** The JSON metadata given when it was stored, if any. */
  meta: Record<string, unknown> | undefined;
}

const TYPES = ['inline', 'blob', 'files'] as const;
// Reads of a file that keeps being released and put again before a miss is given up on.
const ATTEMPTS = 4;

export class DiskReader {
  readonly #store: DiskStore;
  readonly #readOnly: boolean;

  constructor(store: DiskStore, readOnly: boolean) {
    this.#store = store;
    this.#readOnly = readOnly;
  }

  /** A value: inline ones synchronously, file-backed ones with a promise. A damaged entry is dropped and missed. */
  value(ns: string, key: string): Buffer | undefined | Promise<Buffer | undefined> {
    const store = this.#store;
    if (store.queue.queuedCount > 0) {
      const op = store.queue.queued(ns, key);
      if (op) return this.#fromQueue(op);
    }
    let raw: Buffer | undefined;
    try {
      raw = this.#store.index().recordView(ns, key);
    } catch (err) {
      store.fail('read', err);
      this.#store.stats.misses++;
      return undefined;
    }
    if (raw === undefined || raw[1] === FILES) {
      this.#store.stats.misses++;
      return undefined;
    }
    let off: number;
    try {
      off = valueOffset(raw);
    } catch (err) {
      return this.damaged(ns, key, undefined, (err as Error).message);
    }
    if (raw[1] === INLINE) {
      const len = raw.length;
      const value = Buffer.allocUnsafe(len - off);
      raw.copy(value, 0, off, len);
      const want = raw.toString('hex', 20, 36);
      if (value.length !== raw.readDoubleLE(4) || treeHash(value) !== want) return this.damaged(ns, key, { type: INLINE, hash: want }, 'checksum mismatch');
      this.#store.stats.hits++;
      store.access.touch(ns, key);
      return value;
    }
    const rec = safeDecode(raw);
    return rec ? this.#readBlob(ns, key, rec) : this.damaged(ns, key, undefined, 'index record is damaged');
  }

  #fromQueue(op: PutOp): Buffer | undefined {
    if (op.type === FILES) {
      this.#store.stats.misses++;
      return undefined;
    }
    this.#store.stats.hits++;
    this.#store.access.touch(op.ns, op.key);
    if (op.type === INLINE) return Buffer.from(op.record.subarray(valueOffset(op.record)));
    return readFileSync(op.blobFile!);
  }

  async #readBlob(ns: string, key: string, rec: DiskRecord, attempt = 0): Promise<Buffer | undefined> {
    const path = this.#store.layout.blobPath(rec.hash);
    let value: Buffer;
    try {
      value = await readBlobFile(path, rec.size);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Read again as it is now: a file-backed value, or the same bytes inline.
        return this.#missing(ns, key, rec, attempt, async (r, a) => (r.type === BLOB ? this.#readBlob(ns, key, r, a) : this.value(ns, key)));
      }
      if (err instanceof NotABlob) return this.damaged(ns, key, rec, err.message);
      this.#store.fail('read', err);
      this.#store.stats.misses++;
      return undefined;
    }
    const sum = value.length >= 1 << 20 ? await treeHashAsync(value) : treeHash(value);
    if (sum !== rec.hash) return this.damaged(ns, key, rec, `file does not match its record`);
    this.#store.stats.hits++;
    this.#store.access.touch(ns, key);
    return value;
  }

  /**
   * The file of `rec` was missing. Since our index read, another process may have evicted the
   * entry, released its file and put the same content again (a new file), or put it inline (the
   * same content id, no file): only under the write lock, while no process places or removes a
   * file, is a file missing under its record damage. Otherwise the read is retried with the
   * record as it is now (`retry` gets whatever type it has), a few times, then missed.
   */
  #missing<T>(ns: string, key: string, rec: DiskRecord, attempt: number, retry: (rec: DiskRecord, attempt: number) => Promise<T | undefined>): Promise<T | undefined> | undefined {
    const path = this.#store.layout.blobPath(rec.hash);
    const verdict = this.#judge(ns, key, rec, () => blobState(path, rec.size) === 'missing');
    if (verdict === 'dropped') return this.#report(ns, key, 'file missing');
    if (attempt + 1 < ATTEMPTS) {
      const now = verdict === 'intact' ? rec : this.current(ns, key);
      if (now) return retry(now, attempt + 1);
    }
    this.#store.stats.misses++;
    return undefined;
  }

  /**
   * Whether the entry `key` (the version `seen`) is still damaged as `stillDamaged()` says, judged
   * under the write lock and dropped if so. A read-only tier cannot take the lock: it judges from a
   * fresh snapshot and drops nothing.
   */
  #judge(ns: string, key: string, seen: Seen | undefined, stillDamaged?: () => boolean): 'dropped' | 'changed' | 'intact' {
    if (this.#readOnly) {
      const now = this.current(ns, key);
      if (!now || (seen !== undefined && !sameVersion(now, seen))) return 'changed';
      return !stillDamaged || stillDamaged() ? 'dropped' : 'intact';
    }
    try {
      return this.#store.queue.dropDamaged(ns, key, seen, stillDamaged);
    } catch (err) {
      this.#store.fail('delete of a damaged entry', err);
      return 'changed';
    }
  }

  /** The record of the key in a fresh snapshot (after other processes' writes). */
  current(ns: string, key: string): DiskRecord | undefined {
    const idx = this.#store.index();
    idx.refresh();
    return idx.recordSafe(ns, key);
  }

  #report(ns: string, key: string, why: string): undefined {
    this.#store.stats.corrupt++;
    this.#store.stats.misses++;
    warn('ERR_CORRUPT', `dropped damaged cache entry ${ns}/${key} in ${this.#store.layout.dir}: ${why}`);
    return undefined;
  }

  /** Reports and drops a damaged entry (only the version `seen`, when known: another process may have replaced it). */
  damaged(ns: string, key: string, seen: Seen | undefined, why: string): undefined {
    this.#judge(ns, key, seen);
    return this.#report(ns, key, why);
  }

  /** {@link getFiles} without hashing: synchronous, for hit paths that verify by other means. */
  fileEntry(ns: string, key: string): LocalFileEntry | undefined {
    // Queued and not committed yet: its head is written by the commit.
    if (this.#store.queue.queuedCount > 0 && this.#store.queue.queued(ns, key)?.type === FILES) this.#store.queue.flushSync();
    let found = readHead(this.#store.layout, ns, key);
    // A file missing: evicted since the head was read, or being replaced; read the head again.
    if (found && 'damaged' in found && found.id !== undefined) found = readHead(this.#store.layout, ns, key);
    if (!found) {
      this.#store.stats.misses++;
      return undefined;
    }
    if ('damaged' in found) {
      if (found.id === undefined) return this.damaged(ns, key, undefined, found.damaged);
      // Judged again under the write lock, as a missing blob is (see #missing).
      let latest: ReturnType<typeof readHead> = found;
      const verdict = this.#judge(ns, key, { type: FILES, hash: found.id }, () => {
        latest = readHead(this.#store.layout, ns, key);
        return latest !== undefined && 'damaged' in latest;
      });
      if (verdict === 'dropped') return this.#report(ns, key, found.damaged);
      if (verdict !== 'intact' || !latest || 'damaged' in latest) {
        this.#store.stats.misses++;
        return undefined;
      }
      found = latest;
    }
    this.#store.stats.hits++;
    this.#store.access.touch(ns, key);
    return found.entry;
  }

  /**
   * A file-backed value as a path (to load by path) or, with `map: true`, also as a zero-copy
   * map. Verified against its checksum unless `verify: false`. Inline values and misses give undefined.
   */
  async getFile(ns: string, key: string, options: { map?: boolean; verify?: boolean }): Promise<DiskFile | undefined> {
    this.#store.queue.flushSync();
    let rec: DiskRecord | undefined;
    try {
      rec = this.#store.index().record(ns, key);
    } catch (err) {
      return this.damaged(ns, key, undefined, (err as Error).message);
    }
    if (rec?.type !== BLOB) {
      this.#store.stats.misses++;
      return undefined;
    }
    return this.#getFile(ns, key, rec, options, 0);
  }

  async #getFile(ns: string, key: string, rec: DiskRecord, options: { map?: boolean; verify?: boolean }, attempt: number): Promise<DiskFile | undefined> {
    const path = this.#store.layout.blobPath(rec.hash);
    const retry = async (r: DiskRecord, a: number) => {
      if (r.type === BLOB) return this.#getFile(ns, key, r, options, a);
      this.#store.stats.misses++; // inline now: no file to hand out
      return undefined;
    };
    // Checked before it is opened: a FIFO or a link to a device in its place is damage, not a wait.
    const state = blobState(path, rec.size);
    if (state === 'missing') return this.#missing(ns, key, rec, attempt, retry);
    if (state !== 'ok') return this.damaged(ns, key, rec, state);
    let mapped: MappedFile | undefined;
    try {
      if (options.map) mapped = mapFile(path);
      if (options.verify !== false) {
        const sum = mapped ? await treeHashAsync(mapped.buffer) : await hashFile(path);
        if (sum !== rec.hash || (mapped && mapped.byteLength !== rec.size)) {
          mapped?.close();
          return this.damaged(ns, key, rec, 'checksum mismatch');
        }
      }
    } catch (err) {
      mapped?.close();
      // Maybe gone between the check and the open (released, maybe put again): as a missing file.
      if ((err as { code?: string }).code === 'ERR_IO' && attempt + 1 < ATTEMPTS) return this.#missing(ns, key, rec, attempt, retry);
      this.#store.fail('getFile', err);
      this.#store.stats.misses++;
      return undefined;
    }
    this.#store.stats.hits++;
    this.#store.access.touch(ns, key);
    return { path, size: rec.size, kind: rec.kind, meta: rec.meta, ...(mapped ? { mapped } : {}) };
  }

  /** Index metadata of an entry without reading its value. */
  info(ns: string, key: string): DiskEntry | undefined {
    this.#store.queue.flushSync();
    const rec = this.#store.index().record(ns, key);
    return rec && this.#entryOf(ns, key, rec);
  }

  /** Entries (of one namespace, or all), least recently used first. */
  list(ns: string | undefined): DiskEntry[] {
    this.#store.queue.flushSync();
    this.#store.access.flush();
    const idx = this.#store.index();
    const found: DiskEntry[] = [];
    for (const [stamp, n, key] of idx.lru()) {
      if (ns !== undefined && n !== ns) continue;
      const rec = idx.stamp(n, key) === stamp ? idx.recordSafe(n, key) : undefined;
      if (rec) found.push(this.#entryOf(n, key, rec));
    }
    return found;
  }

  #entryOf(ns: string, key: string, rec: DiskRecord): DiskEntry {
    const stamp = this.#store.access.pending(ns, key) ?? this.#store.index().stamp(ns, key) ?? rec.created * 1000;
    return {
      namespace: ns, key, size: rec.size, kind: rec.kind, type: TYPES[rec.type], inline: rec.type === INLINE,
      created: rec.created, accessed: Math.floor(stamp / 1000), meta: rec.meta,
    };
  }
}
