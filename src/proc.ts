// Who is alive: lock files and tmp files name their writer by host and pid, and only a reader on
// the same host can tell whether that pid still runs.
import { hostname } from 'node:os';

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
