// Who is alive: lock files and tmp files name their writer by host and pid, and only a reader on
// the same host can tell whether that pid still runs.
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** This host's name, made safe for file names (no '-', '/', spaces). */
export const HOST = hostname().replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 64) || 'host';

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `dir/name`, a work file or folder named `<host>-<pid>-<hex>...`, was left by a writer
 * that is gone: one of this host whose pid is dead, or anything older than `maxAgeMs` (a writer
 * on another host sharing the directory, a reused pid). A file already gone is not stale.
 */
export function isStaleWork(dir: string, name: string, maxAgeMs: number): boolean {
  try {
    if (Date.now() - statSync(join(dir, name)).mtimeMs > maxAgeMs) return true;
  } catch {
    return false;
  }
  const m = /^(.*)-(\d+)-[0-9a-f]+/.exec(name);
  if (!m) return false;
  const pid = Number(m[2]);
  return m[1] === HOST && pid !== process.pid && !isPidAlive(pid);
}
