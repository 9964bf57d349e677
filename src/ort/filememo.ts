// Content hashes of files without re-reading them: a memo of (device, inode, size, mtime, ctime)
// -> hash, kept as small entries in the cache's own disk tier, so a hit on an unchanged 400 MB model
// costs a stat and an index read. Any change to those five values (a rewrite, a touch, a rename over
// the file, even `touch -r` resetting mtime, which still moves ctime) means a re-hash.
import { statSync, type BigIntStats } from 'node:fs';
import { cacheKey } from '../keys.js';
import { hashFile } from '../hash.js';
import { logDebug } from '../log.js';
import type { DiskTier } from '../store/disk/tier.js';

const NAMESPACE = 'modelcache/ort/file-memo';
const MEMO_VERSION = 1;
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
  readonly #disk: DiskTier;

  constructor(disk: DiskTier) {
    this.#disk = disk;
  }

  #key(purpose: string, v: FileVersion): string {
    return cacheKey(NAMESPACE, MEMO_VERSION, purpose, v.dev, v.ino, v.size, v.mtimeNs, v.ctimeNs);
  }

  #read(key: string): FileFacts | undefined {
    try {
      const raw = this.#disk.get(key);
      // Memo values are tiny and stored inline: the disk tier answers them synchronously.
      if (!Buffer.isBuffer(raw)) return undefined;
      const v = JSON.parse(raw.toString('utf8')) as FileFacts;
      return typeof v?.hash === 'string' && typeof v.size === 'number' ? v : undefined;
    } catch (err) {
      logDebug(`ort: file memo read failed: ${(err as Error).message}`);
      return undefined;
    }
  }

  async #write(key: string, facts: FileFacts): Promise<void> {
    try {
      await this.#disk.put(key, Buffer.from(JSON.stringify(facts), 'utf8'), { kind: MEMO_KIND });
    } catch (err) {
      logDebug(`ort: file memo write failed: ${(err as Error).message}`);
    }
  }

  /**
   * The content hash of `path` (and `derive`'s facts about its content, stored under `purpose`),
   * from the memo when the file version is unchanged, else by hashing (and deriving) once more.
   */
  async facts(path: string, purpose = 'hash', derive?: (path: string) => Record<string, unknown>): Promise<MemoResult> {
    const before = fileVersion(statSync(path, { bigint: true }));
    const key = this.#key(purpose, before);
    const known = this.#read(key);
    if (known) return { ...known, memo: true, version: before };

    const hash = await hashFile(path);
    const extra = derive?.(path);
    const after = fileVersion(statSync(path, { bigint: true }));
    const facts: FileFacts = { hash, size: Number(after.size), ...(extra ? { extra } : {}) };
    // Changed while we read it, or possibly about to change within its timestamp tick: use, don't keep.
    if (sameVersion(before, after) && !isRacy(after, nowNs())) {
      await this.#write(key, facts);
    }
    return { ...facts, memo: false, version: after };
  }

  /** Whether `path` (an immutable cache file) was verified in this exact version. */
  isVerified(path: string): boolean {
    try {
      const v = fileVersion(statSync(path, { bigint: true }));
      return this.#read(this.#key('verified', v)) !== undefined;
    } catch {
      return false;
    }
  }

  /** Records that `path` was checked against its checksum (`hash`) in its current version. */
  async markVerified(path: string, hash = 'verified'): Promise<void> {
    try {
      const st = statSync(path, { bigint: true });
      await this.#write(this.#key('verified', fileVersion(st)), { hash, size: Number(st.size) });
    } catch (err) {
      logDebug(`ort: cannot mark ${path} verified: ${(err as Error).message}`);
    }
  }
}

/** Wall-clock time in ns since the epoch (the clock file timestamps use). */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
