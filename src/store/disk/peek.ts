// The read side of a disk tier's file entries for hit paths that must not load the tier itself
// (its index, write queue and lmdb-js): the entry of a key from its head at the key-derived path,
// with the same checks as `DiskTier.fileEntry`. No counters, no access record, no repair: a
// caller that finds nothing, or something damaged, asks the tier (which drops what is damaged),
// and records accesses through it, or, from a process too short-lived for that, by touching the
// head (eviction reads a head's modification time as an access: queue.ts).
import { utimesSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LocalFileEntry } from '../tier.js';
import { isKey, isNamespace } from '../namespace.js';
import { readHead } from './files.js';
import { Layout } from './layout.js';

/** What a peek found: the entry, a reason it is damaged, or nothing (undefined). */
export type Peeked = { entry: LocalFileEntry } | { damaged: string };

/** The file entry `namespace`/`key` of the disk tier at `dir`, read from its head alone. */
export function peekFileEntry(dir: string, namespace: string, key: string): Peeked | undefined {
  if (!isNamespace(namespace) || !isKey(key)) return undefined;
  const found = readHead(new Layout(resolve(dir)), namespace, key);
  if (!found) return undefined;
  return 'entry' in found ? { entry: found.entry } : { damaged: found.damaged };
}

/**
 * Marks an access to the file entry `namespace`/`key` without the index: its head's modification
 * time is set to now, which eviction takes for a later access than the one recorded. One syscall,
 * so that a process that exits right after its hit (a CLI, a serverless call) still keeps its entry
 * warm. Advisory: a failure (read-only directory, entry gone) changes nothing.
 */
export function touchFileEntry(dir: string, namespace: string, key: string): void {
  if (!isNamespace(namespace) || !isKey(key)) return;
  const now = new Date();
  try {
    utimesSync(new Layout(resolve(dir)).headPath(namespace, key), now, now);
  } catch {
    /* advisory */
  }
}
