// The read side of a disk tier's file entries for hit paths that must not load the tier itself
// (its index, write queue and lmdb-js): the entry of a key from its head at the key-derived path,
// with the same checks as `DiskTier.fileEntry`. No counters, no access record, no repair: a
// caller that finds nothing, or something damaged, asks the tier (which drops what is damaged),
// and records accesses through it.
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
