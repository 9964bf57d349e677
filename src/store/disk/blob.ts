// Reading a blob file as hostile bytes: the path is never followed through a symbolic link, never
// waited on (a FIFO put in its place), and only a regular file of the recorded size is read, so
// a swapped path is a miss and never a hang or an endless read (/dev/zero).
import { constants, lstatSync } from 'node:fs';
import { open } from 'node:fs/promises';

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** A path that exists but is no blob of the recorded size: damage, never a race. */
export class NotABlob extends Error {}

function notABlob(path: string, what: string, size: number): NotABlob {
  return new NotABlob(`${path} is ${what}, not a regular file of ${size} bytes`);
}

/**
 * The bytes of the blob file at `path`, which must be a regular file of `size` bytes. A missing
 * file rejects with its ENOENT error; anything else at the path with {@link NotABlob}.
 */
export async function readBlobFile(path: string, size: number): Promise<Buffer> {
  let fh;
  try {
    fh = await open(path, FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw notABlob(path, 'a symbolic link', size);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw notABlob(path, 'a special file', size);
    if (st.size !== size) throw notABlob(path, `a file of ${st.size} bytes`, size);
    const out = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const { bytesRead } = await fh.read(out, off, size - off, off);
      if (bytesRead === 0) throw notABlob(path, `a file that ended after ${off} bytes`, size);
      off += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** What is at `path` (not following a link): the blob of `size` bytes, nothing, or something else (described). */
export function blobState(path: string, size: number): 'ok' | 'missing' | string {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message;
  }
  if (st.isSymbolicLink()) return notABlob(path, 'a symbolic link', size).message;
  if (!st.isFile()) return notABlob(path, 'a special file', size).message;
  return st.size === size ? 'ok' : notABlob(path, `a file of ${st.size} bytes`, size).message;
}
