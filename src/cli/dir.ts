// The cache directory a command works on, opened only when it already holds a cache: looking
// never creates anything (a typo in --dir makes no cache), and a command that only reads opens the
// index read-only, so a read-only directory can be inspected.
import { accessSync, constants, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultCacheDir } from '../paths.js';
import { DiskTier } from '../store/disk/tier.js';
import type { GlobalOptions } from './action.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './output.js';

/** The cache directory a command works on (absolute, so messages are unambiguous). */
export function cacheDir(opts: GlobalOptions): string {
  if (opts.dir === '') throw new CliError('--dir must not be empty (leave it out for the default directory)', EXIT_USAGE);
  return resolve(opts.dir ?? defaultCacheDir());
}

/** Opens the cache at `dir` (`write`: to change it), or fails with one line without creating anything. */
export function openExisting(dir: string, write: boolean, command: string): DiskTier {
  if (!existsSync(join(dir, 'index'))) throw new CliError(`no cache at ${dir}`, EXIT_FAILURE);
  if (write) {
    try {
      accessSync(dir, constants.W_OK);
      accessSync(join(dir, 'index'), constants.W_OK);
    } catch (err) {
      throw new CliError(`cannot write to the cache at ${dir} (${(err as NodeJS.ErrnoException).code}): ${command} changes it; stats, ls and verify only read`, EXIT_FAILURE);
    }
  }
  return new DiskTier({ dir, readOnly: !write });
}

/** Runs `fn` with the cache of `opts` open, closing it after. */
export async function withCache<T>(opts: GlobalOptions, write: boolean, command: string, fn: (tier: DiskTier, dir: string) => Promise<T>): Promise<T> {
  const dir = cacheDir(opts);
  const tier = openExisting(dir, write, command);
  try {
    return await fn(tier, dir);
  } finally {
    await tier.close();
  }
}
