// Commits that fail on demand, for tests of a full disk: wraps the LMDB environment that the disk
// tier opens so that `transactionSync` throws as lmdb-js does when a commit fails.
import type * as Lmdb from '../../src/store/disk/lmdb.js';

/** The module of src/store/disk/lmdb.ts with commits failing while `failing(path)` is true. */
export function failingCommits(mod: typeof Lmdb, failing: (path: string) => boolean): typeof Lmdb {
  const openEnv = ((path: string, options?: { readOnly?: boolean }) => {
    const root = mod.openEnv(path, options);
    return new Proxy(root, {
      get(target, prop) {
        if (prop === 'transactionSync' && failing(path)) {
          return () => {
            throw Object.assign(new Error('Commit failed: MDB_ENOSPC'), { code: 28 });
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }) as typeof mod.openEnv;
  return { ...mod, openEnv };
}
