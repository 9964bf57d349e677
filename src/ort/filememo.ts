// Content hashes of files without re-reading them: a memo of (device, inode, size, mtime, ctime)
// -> hash, kept as small file entries (namespace `ort.memo`, the facts in the entry's head) in the
// session cache, so a hit on an unchanged 400 MB model costs a stat and the read of one head, with
// no index opened. Any change to those five values (a rewrite, a touch, a rename over the file,
// even `touch -r` resetting mtime, which still moves ctime) means a re-hash.
import { statSync, type BigIntStats } from 'node:fs';
import { cacheKey } from '../keys.js';
import { hashFile } from '../hash.js';
import { NAMESPACES } from '../store/namespace.js';
import type { Cache } from '../cache.js';
import { storeOfCache, type SessionStore } from './store.js';

const KEY_NAMESPACE = 'modelcache/ort/file-memo';
const MEMO_VERSION = 2;
/** Kind of the memo entries in the disk tier (so `modelcache ls --kind` can tell them apart). */
export const MEMO_KIND = 'ort-memo';

/**
 * A file whose mtime or ctime is this close to the time it was hashed may still be written to
 * within the same timestamp tick: its hash is used but not remembered, as git does for "racily
 * clean" index entries. Filesystems with nanosecond timestamps tick with the kernel's coarse clock
 * (at most 10 ms); those that store whole seconds (FAT, HFS+, ext3) get two seconds.
 */
const RACY_FINE_NS = 100_000_000n;
const RACY_COARSE_NS = 2_000_000_000n;

/** The stat fields that identify a file version. */
export interface FileVersion {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export function fileVersion(st: BigIntStats): FileVersion {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

function isRacy(v: FileVersion, now: bigint): boolean {
  const coarse = v.mtimeNs % 1_000_000_000n === 0n && v.ctimeNs % 1_000_000_000n === 0n;
  const window = coarse ? RACY_COARSE_NS : RACY_FINE_NS;
  return now - v.mtimeNs < window || now - v.ctimeNs < window;
}

/** What the memo knows about a file version. */
export interface FileFacts {
  /** hashFile() digest of the file's content. */
  hash: string;
  size: number;
  /** Facts derived from the content by a caller (e.g. the ONNX external data locations). */
  extra?: Record<string, unknown>;
}

/** Result of {@link FileMemo.facts}. */
export interface MemoResult extends FileFacts {
  /** True when the memo answered (the file was not read). */
  memo: boolean;
  version: FileVersion;
}

/** Remembers file hashes (and facts derived from the content) by file version. */
export class FileMemo {
  readonly #store: SessionStore;

  constructor(store: SessionStore) {
    this.#store = store;
  }

  /** The memo kept in a Cache (its disk tier). */
  static of(cache: Cache): FileMemo {
    return new FileMemo(storeOfCache(cache));
  }

  #key(purpose: string, v: FileVersion): string {
    return cacheKey(KEY_NAMESPACE, MEMO_VERSION, purpose, v.dev, v.ino, v.size, v.mtimeNs, v.ctimeNs);
  }

  #read(key: string): FileFacts | undefined {
    const found = this.#store.peek(NAMESPACES.fileMemo, key);
    const v = found && 'entry' in found ? (found.entry.meta as Partial<FileFacts> | undefined) : undefined;
    if (typeof v?.hash !== 'string' || typeof v.size !== 'number') return undefined;
    const extra = v.extra !== null && typeof v.extra === 'object' && !Array.isArray(v.extra) ? v.extra : undefined;
    return { hash: v.hash, size: v.size, ...(extra ? { extra } : {}) };
  }

  /** Remembers `facts` in the background (the facts live in the head; the file holds them too, for tools). */
  #write(key: string, facts: FileFacts): void {
    const json = Buffer.from(JSON.stringify(facts), 'utf8');
    this.#store.put(NAMESPACES.fileMemo, key, [{ name: 'facts.json', data: json }], { kind: MEMO_KIND, meta: facts as unknown as Record<string, unknown> });
  }

  /**
   * The content hash of `path` (and `derive`'s facts about its content, stored under `purpose`),
   * from the memo when the file version is unchanged, else by hashing (and deriving) once more.
   */
  async facts(path: string, purpose = 'hash', derive?: (path: string) => Record<string, unknown> | Promise<Record<string, unknown>>): Promise<MemoResult> {
    const before = fileVersion(statSync(path, { bigint: true }));
    const key = this.#key(purpose, before);
    const known = this.#read(key);
    if (known) return { ...known, memo: true, version: before };

    const hash = await hashFile(path);
    const extra = await derive?.(path);
    const after = fileVersion(statSync(path, { bigint: true }));
    const facts: FileFacts = { hash, size: Number(after.size), ...(extra ? { extra } : {}) };
    // Changed while we read it, or possibly about to change within its timestamp tick: use, don't keep.
    if (sameVersion(before, after) && !isRacy(after, nowNs())) this.#write(key, facts);
    return { ...facts, memo: false, version: after };
  }

  /** Whether the memo knows `path` in its current version under `purpose` (a stat and a peek; false when it cannot be read). */
  knows(path: string, purpose = 'hash'): boolean {
    try {
      return this.#read(this.#key(purpose, fileVersion(statSync(path, { bigint: true })))) !== undefined;
    } catch {
      return false;
    }
  }

  /** Whether `path` (an immutable cache file) was verified in this exact version. */
  isVerified(path: string): boolean {
    return this.knows(path, 'verified');
  }

  /** Records (in the background) that `path` was checked against its recorded hash in its current version. */
  markVerified(path: string, hash = 'verified'): void {
    try {
      const st = statSync(path, { bigint: true });
      this.#write(this.#key('verified', fileVersion(st)), { hash, size: Number(st.size) });
    } catch {
      /* evicted meanwhile: nothing to remember */
    }
  }
}

/** Wall-clock time in ns since the epoch (the clock file timestamps use). */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
