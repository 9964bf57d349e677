// Where a disk tier keeps things, derived only from validated names and content ids:
//
//   <dir>/index/                  LMDB: records, LRU order, access times, totals, counters, refcounts
//   <dir>/blobs/<h0h1>/<h2h3>/<h> a value too large to inline, named by its tree hash (shared by
//                                 every record of that content, reference-counted)
//   <dir>/files/<i0i1>/<i>/...    the files of a file entry under their own names, in a folder
//                                 named by the entry's files id (content-addressed, refcounted)
//   <dir>/heads/<ns>/<k0k1>/<key> head of a file entry: its description, so that a hit finds the
//                                 files from the key alone, without opening the index
//   <dir>/locks/<ns>/<key>        cross-process per-key locks
//   <dir>/tmp/                    work files (`<host>-<pid>-<hex>`), open markers (`....open`)
//
// Files are only ever created whole (written in tmp/, renamed in) and unlinked, never rewritten:
// a live map of one can never fault.
import { accessSync, closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CacheError, cacheErrorCode } from '../../errors.js';
import { logDebug } from '../../log.js';
import { workName } from '../work.js';

export class Layout {
  readonly index: string;
  readonly blobs: string;
  readonly files: string;
  readonly heads: string;
  readonly locks: string;
  readonly tmp: string;

  constructor(readonly dir: string) {
    this.index = join(dir, 'index');
    this.blobs = join(dir, 'blobs');
    this.files = join(dir, 'files');
    this.heads = join(dir, 'heads');
    this.locks = join(dir, 'locks');
    this.tmp = join(dir, 'tmp');
  }

  /** Creates the folders a writer needs (0700). */
  ensure(): void {
    for (const d of [this.dir, this.index, this.blobs, this.files, this.heads, this.tmp]) mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  blobPath(hash: string): string {
    return join(this.blobs, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  entryDir(id: string): string {
    return join(this.files, id.slice(0, 2), id);
  }

  headPath(ns: string, key: string): string {
    return join(this.heads, ns, key.slice(0, 2), key);
  }

  lockPath(ns: string, key: string): string {
    return join(this.locks, ns, key);
  }

  /** A fresh path in tmp/ (same filesystem as the entries, so it can be renamed in). */
  workPath(suffix = ''): string {
    return join(this.tmp, workName(suffix));
  }
}

/**
 * Checks that `dir` can hold a cache: a directory (created 0700 when missing and `writable`), not
 * a file, not a dangling link, writable when `writable`. A CacheError naming `name` otherwise. A
 * full disk is no error here: the cache then works uncached (see lmdb.ts).
 */
export function checkCacheDir(dir: string, writable: boolean, name = 'options.dir'): void {
  const bad = (code: 'ERR_BAD_INPUT' | 'ERR_IO', what: string) => new CacheError(code, `${name} (${dir}) ${what}`);
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      if (isDanglingLink(dir)) throw bad('ERR_BAD_INPUT', 'is a symbolic link to nothing: expected a directory');
      if (!writable) return; // nothing to inspect: the caller says so
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        return;
      } catch (e) {
        const c = (e as NodeJS.ErrnoException).code;
        if (cacheErrorCode(c) === 'ERR_NO_SPACE') return;
        if (c === 'ENOTDIR' || c === 'EEXIST') throw bad('ERR_BAD_INPUT', 'cannot be created: a part of its path is a file');
        throw bad('ERR_IO', `cannot be created (${(e as Error).message})`);
      }
    }
    if (code === 'ENOTDIR') throw bad('ERR_BAD_INPUT', 'cannot be a directory: a part of its path is a file');
    throw bad('ERR_IO', `cannot be read (${(err as Error).message})`);
  }
  if (!st.isDirectory()) throw bad('ERR_BAD_INPUT', 'is a file: expected a directory');
  if (!writable) return;
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw bad('ERR_IO', `is not writable (${(err as NodeJS.ErrnoException).code}): open it with readOnly: true to read it`);
  }
}

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Writes `data` to a new file at `path` (mode 0600), fsynced when `durable`. */
export function writeNewFile(path: string, data: Uint8Array, durable: boolean): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    let off = 0;
    while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function unlinkQuietly(paths: Iterable<string | undefined>): void {
  for (const p of paths) {
    if (!p) continue;
    try {
      unlinkSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logDebug(`disk: cannot unlink ${p}: ${(err as Error).message}`);
    }
  }
}
