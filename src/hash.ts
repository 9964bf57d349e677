// XXH3-128 hashing of buffers, batch rows and files (the basis of every cache key).
import { stat } from 'node:fs/promises';
import { type BytesLike, toBytes } from './bytes.js';
import { checkInteger, invalidType, rethrowNative } from './errors.js';
import { native } from './native.js';

/**
 * XXH3-128 of `data` as 32 lowercase hex characters (the canonical big-endian digest, as
 * `xxhsum -H2` prints it). Strings are hashed as UTF-8.
 *
 * @example
 * hash('hello') // '...32 hex chars...'
 */
export function hash(data: BytesLike): string {
  return native.hash(toBytes('data', data));
}

/** Like {@link hash}, off the main thread: use it for buffers of many megabytes. */
export async function hashAsync(data: BytesLike): Promise<string> {
  try {
    return await native.hashAsync(toBytes('data', data));
  } catch (err) {
    rethrowNative(err, 'hashAsync');
  }
}

/**
 * Hashes every row of a batch in one native call: `data` is `rows * rowBytes` bytes and the
 * result holds one 16-byte XXH3-128 digest per row (row r at `16 * r`).
 */
export function hashRows(data: BytesLike, rowBytes: number): Uint8Array {
  const bytes = toBytes('data', data);
  checkInteger('rowBytes', rowBytes, 1, Number.MAX_SAFE_INTEGER);
  if (bytes.byteLength % rowBytes !== 0) {
    throw invalidType('data', `a byte length that is a multiple of rowBytes (${rowBytes})`, `${bytes.byteLength} bytes`);
  }
  try {
    return native.hashRows(bytes, rowBytes);
  } catch (err) {
    rethrowNative(err, 'hashRows');
  }
}

/**
 * The digest {@link hashFile} would give for a file holding `data` (16 MiB leaves hashed in
 * parallel, then combined). Used to check stored values and files with one definition.
 */
export function treeHash(data: BytesLike): string {
  return native.treeHash(toBytes('data', data));
}

/** {@link treeHash} on the libuv pool. */
export async function treeHashAsync(data: BytesLike): Promise<string> {
  try {
    return await native.treeHashAsync(toBytes('data', data));
  } catch (err) {
    rethrowNative(err, 'treeHashAsync');
  }
}

/** Options of {@link hashFile}. */
export interface HashFileOptions {
  /** Called with bytes hashed so far and the file size, at most every 50 ms and once at the end. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Hashes a file on the libuv pool, reading it with `pread` (never through a memory map, so a
 * file truncated meanwhile cannot kill the process) and cutting it into 16 MiB leaves hashed in
 * parallel. The digest is XXH3-128 over ("modelcache-tree-v1", the u64 LE length, each leaf's
 * digest), so it never depends on the number of threads. It is not equal to
 * `hash(readFileSync(path))`.
 *
 * A file that changes while it is hashed (it gets shorter, or its size, mtime, ctime or inode
 * differ at the end) rejects with a {@link CacheError} `ERR_IO`: its digest would describe no
 * version of the file. Hash again once the writer is done.
 */
export async function hashFile(path: string, options: HashFileOptions = {}): Promise<string> {
  if (typeof path !== 'string' || path.length === 0) throw invalidType('path', 'non-empty string', path);
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalidType('options.onProgress', 'function', options.onProgress);
  }
  try {
    // stat first: a clear ENOENT/EISDIR message from Node rather than from the addon.
    const st = await stat(path);
    if (!st.isFile()) throw invalidType('path', 'path of a regular file', path);
    return await native.hashFile(path, options.onProgress);
  } catch (err) {
    rethrowNative(err, 'hashFile');
  }
}
