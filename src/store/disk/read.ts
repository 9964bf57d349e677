// The read side of the disk tier: values (inline ones without a promise), file entries from
// their heads (no index), single-file values by path or map. A damaged entry is dropped and
// reported as a miss; a file missing because another process evicted (and maybe rewrote) it since
// the index was read is read again from a fresh snapshot before it counts as damage.
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { hashFile, treeHash, treeHashAsync } from '../../hash.js';
import { warn } from '../../log.js';
import { mapFile, type MappedFile } from '../../mmap.js';
import type { LocalFileEntry } from '../tier.js';
import { readHead } from './files.js';
import type { PutOp } from './queue.js';
import { BLOB, decodeRecord, FILES, INLINE, valueOffset, type DiskRecord } from './record.js';
import type { DiskStore } from './store.js';

/** A file-backed value as handed out by `DiskTier.getFile`. */
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

const TYPES = ['inline', 'blob', 'files'] as const;

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
      if (value.length !== raw.readDoubleLE(4) || treeHash(value) !== want) return this.damaged(ns, key, want, 'checksum mismatch');
      this.#store.stats.hits++;
      store.access.touch(ns, key);
      return value;
    }
    return this.#readBlob(ns, key, decodeRecord(raw));
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

  async #readBlob(ns: string, key: string, rec: DiskRecord, retried = false): Promise<Buffer | undefined> {
    let value: Buffer;
    try {
      value = await readFile(this.#store.layout.blobPath(rec.hash));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#store.fail('read', err);
      else {
        // Evicted (and maybe written again) by another process since our index read: read again
        // from a fresh snapshot; only a file missing twice under a current record is damage.
        const now = this.current(ns, key);
        if (now?.type === BLOB && !retried) return this.#readBlob(ns, key, now, true);
        if (now?.hash === rec.hash) return this.damaged(ns, key, rec.hash, 'file missing');
      }
      this.#store.stats.misses++;
      return undefined;
    }
    const sum = value.length >= 1 << 20 ? await treeHashAsync(value) : treeHash(value);
    if (value.length !== rec.size || sum !== rec.hash) return this.damaged(ns, key, rec.hash, `file does not match its record`);
    this.#store.stats.hits++;
    this.#store.access.touch(ns, key);
    return value;
  }

  /** The record of the key in a fresh snapshot (after other processes' writes). */
  current(ns: string, key: string): DiskRecord | undefined {
    const idx = this.#store.index();
    idx.refresh();
    return idx.recordSafe(ns, key);
  }

  /** Drops a damaged entry (only the version that was read: another process may have replaced it). */
  damaged(ns: string, key: string, hash: string | undefined, why: string): undefined {
    this.#store.stats.corrupt++;
    this.#store.stats.misses++;
    warn('ERR_CORRUPT', `dropped damaged cache entry ${ns}/${key} in ${this.#store.layout.dir}: ${why}`);
    if (!this.#readOnly) {
      try {
        this.#store.queue.deleteNow(ns, key, { hash });
      } catch (err) {
        this.#store.fail('delete of a damaged entry', err);
      }
    }
    return undefined;
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
    if ('damaged' in found) return this.damaged(ns, key, found.id, found.damaged);
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
    let rec = this.#store.index().record(ns, key);
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
            return this.damaged(ns, key, rec.hash, 'checksum mismatch');
          }
        }
        this.#store.stats.hits++;
        this.#store.access.touch(ns, key);
        return { path, size: rec.size, kind: rec.kind, meta: rec.meta, ...(mapped ? { mapped } : {}) };
      } catch (err) {
        mapped?.close();
        const code = (err as { code?: string }).code;
        if (code !== 'ERR_IO' && code !== 'ENOENT') {
          this.#store.fail('getFile', err);
          break;
        }
        // As in #readBlob: evicted (and maybe written again) since the index read.
        const now = this.current(ns, key);
        if (attempt > 0 && now?.hash === rec.hash) return this.damaged(ns, key, rec.hash, 'file missing');
        rec = now;
        if (attempt > 0) break;
      }
    }
    this.#store.stats.misses++;
    return undefined;
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
