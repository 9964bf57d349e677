// Zero-copy read-only file maps for immutable, content-addressed files.
import { asBuffer } from './bytes.js';
import { CacheError, invalidType, rethrowNative } from './errors.js';
import { native, type NativeMappedFileHandle } from './native.js';

/**
 * A read-only memory map of a whole file, exposed as a Buffer without copying.
 *
 * Only map files that are never truncated or rewritten while mapped (modelcache maps only its
 * own content-addressed files). `close()` is idempotent: it detaches the Buffer at once (its
 * length becomes 0, so stale views read nothing) and unmaps once no async job still reads it.
 * If you never call it, the mapping is released when the Buffer is garbage-collected.
 */
export class MappedFile {
  readonly #handle: NativeMappedFileHandle;
  readonly #buffer: Buffer;
  readonly #path: string;
  #closed = false;

  /** @internal use {@link mapFile}. */
  constructor(handle: NativeMappedFileHandle, path: string) {
    this.#handle = handle;
    this.#path = path;
    this.#buffer = asBuffer(handle.buffer ?? new Uint8Array(0));
  }

  /** The file's bytes. Throws `ERR_CLOSED` after {@link close}. */
  get buffer(): Buffer {
    if (this.#closed) throw new CacheError('ERR_CLOSED', `mapped file ${this.#path} is closed`);
    return this.#buffer;
  }

  /** Size of the file in bytes (stays readable after close). */
  get byteLength(): number {
    return this.#buffer.byteLength;
  }

  /** False when the runtime refused external buffers and the bytes were copied instead. */
  get mapped(): boolean {
    return this.#handle.mapped;
  }

  /** True once {@link close} was called: {@link buffer} then throws. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Releases the mapping. Safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }

  /** Calls {@link close}, so that `using m = mapFile(path)` releases the map at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Maps `path` read-only. An empty file gives an empty buffer.
 *
 * What a map cannot protect against: if another process truncates the file while it is mapped,
 * reading the pages past the new end raises SIGBUS and kills this process (the kernel, not
 * modelcache, decides this; no error can be thrown instead). modelcache maps only its own
 * content-addressed cache files, which it never truncates or rewrites (new versions get new
 * names and old ones are unlinked, which leaves a live mapping intact), so the remaining risk is
 * someone else truncating a file inside the cache directory while a process maps it — for
 * instance `truncate` or an editor run on `blobs/` by hand. Files outside the cache (a user's
 * model) are read with `pread` instead (`hashFile`); map only files no one else rewrites.
 *
 * @example
 * const m = mapFile('model.onnx');
 * try { useBytes(m.buffer); } finally { m.close(); }
 */
export function mapFile(path: string): MappedFile {
  if (typeof path !== 'string' || path.length === 0) throw invalidType('path', 'non-empty string', path);
  let handle: NativeMappedFileHandle;
  try {
    handle = new native.MappedFileHandle(path);
  } catch (err) {
    rethrowNative(err, 'mapFile');
  }
  return new MappedFile(handle, path);
}
