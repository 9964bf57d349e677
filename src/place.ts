// Puts files into a folder the user named without harming what is already there: files land in a
// hidden staging folder first and are moved in only when all of them were written (and verified),
// nothing is ever replaced, and a failure removes exactly what this call created. Used by
// `modelcache shared get --out` and by pipeline exports.
import { copyFile, constants, link, lstat, mkdir, mkdtemp, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheError } from './errors.js';

const STAGING_PREFIX = '.modelcache-partial-';

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Moves `src` to `target`, failing (EEXIST) rather than replacing anything at `target`. */
async function moveExclusive(src: string, target: string, created: string[]): Promise<void> {
  if ((await lstat(src)).isDirectory()) {
    await mkdir(target); // exclusive: EEXIST if anything is there
    created.push(target);
    await rename(src, target); // onto our own empty folder
    return;
  }
  try {
    await link(src, target); // exclusive too
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw err;
    await copyFile(src, target, constants.COPYFILE_EXCL); // file systems without hard links
  }
  created.push(target);
  await unlink(src);
}

/**
 * Creates `dest` if needed, lets `fill` write into a staging folder inside it, then moves what
 * `fill` wrote into `dest`, the entry named `options.last` last (a commit marker). Refuses
 * (CacheError ERR_BAD_INPUT) to replace any existing entry of `dest`. When anything fails, removes
 * the staging folder, what was moved, and `dest` itself (with the parents it needed) only if this
 * call created it; `dest` as it was before is never touched.
 */
export async function placeInto(dest: string, fill: (staging: string) => Promise<void>, options: { last?: string } = {}): Promise<void> {
  let createdDest: string | undefined;
  try {
    createdDest = await mkdir(dest, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new CacheError('ERR_BAD_INPUT', `${dest} exists and is not a folder`);
    throw err;
  }
  const created: string[] = [];
  let staging: string | undefined;
  try {
    staging = await mkdtemp(join(dest, STAGING_PREFIX));
    await fill(staging);
    const names = (await readdir(staging)).sort((a, b) => Number(a === options.last) - Number(b === options.last));
    const taken = [];
    for (const name of names) if (await exists(join(dest, name))) taken.push(join(dest, name));
    if (taken.length > 0) throw new CacheError('ERR_BAD_INPUT', `${taken.join(', ')} already ${taken.length === 1 ? 'exists' : 'exist'}; nothing was replaced (choose another folder)`);
    for (const name of names) await moveExclusive(join(staging, name), join(dest, name), created);
    await rm(staging, { recursive: true, force: true });
  } catch (err) {
    if (staging !== undefined) await rm(staging, { recursive: true, force: true });
    for (const path of created.reverse()) await rm(path, { recursive: true, force: true });
    if (createdDest !== undefined) await rm(createdDest, { recursive: true, force: true });
    throw err;
  }
}
