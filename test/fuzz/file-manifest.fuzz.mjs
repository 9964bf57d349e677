// Fuzz target (scripts/fuzz-js.mjs) for the description of a file entry (store/manifest): the disk
// tier's head files and the shared tier's manifest blobs, bytes anyone with access to the cache
// directory or the container may have written. Bad bytes must end in CacheError ERR_CORRUPT; an
// accepted description must name only files that stay inside the entry's folder and can all be
// created there (also on a case-insensitive file system), with sizes that are safe integers
// summing to its size, a folder named by 32 hex, and it must encode back to itself.
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { CacheError } from '../../dist/errors.js';
import { encodeManifest, filesId, parseManifest } from '../../dist/store/manifest.js';
import { EDGE_VALUES, materialize, mutateManifest } from './lib/json-manifest.mjs';

/** The entry every seed describes (a real reader passes the namespace and key it looked up). */
export const NS = 'pipeline.output';
export const KEY = '0123456789abcdef0123456789abcdef';

function bug(what, input) {
  throw new Error(`${what}: ${input.toString('utf8').slice(0, 300)}`);
}

export function run(input) {
  let parsed;
  try {
    parsed = parseManifest(input, NS, KEY);
  } catch (err) {
    if (err instanceof CacheError && err.code === 'ERR_CORRUPT') return;
    throw err;
  }
  const { entry, raw } = parsed;
  if (entry.namespace !== NS || entry.key !== KEY) bug('accepted another entry', input);
  let total = 0;
  for (const f of entry.files) {
    const inside = path.posix.resolve('/entry', f.name);
    if (inside !== `/entry/${f.name}`) bug(`accepted a name that leaves the folder (${f.name})`, input);
    if (/[\u0000]/.test(f.name) || f.name.includes('\\')) bug(`accepted ${JSON.stringify(f.name)}`, input);
    if (!Number.isSafeInteger(f.size) || f.size < 0) bug(`accepted a file size of ${f.size}`, input);
    if (!/^[0-9a-f]{32}$/.test(f.hash)) bug(`accepted a file hash ${f.hash}`, input);
    total += f.size;
  }
  if (!Number.isSafeInteger(total) || entry.size !== total) bug(`accepted a size of ${entry.size} for files of ${total} bytes`, input);
  if (!Number.isFinite(entry.created)) bug(`accepted a creation time of ${entry.created}`, input);
  const clash = materialize(entry.files.map((f) => f.name));
  if (clash) bug(`accepted files that cannot all be created: ${clash}`, input);
  if (!/^[0-9a-f]{32}$/.test(filesId(entry.files))) bug('a folder id that is no 32-hex name', input);
  const extra = typeof raw.upload === 'string' ? { upload: raw.upload } : {};
  if (!isDeepStrictEqual(parseManifest(encodeManifest(entry, extra), NS, KEY).entry, entry)) bug('an accepted description does not encode back to itself', input);
}

const VALUES = [...EDGE_VALUES, KEY, NS, 'default', 'ab'.repeat(16)];

/** Structure-aware mutation: one JSON node replaced, duplicated or deleted, or a clashing file added. */
export function mutate(input, r) {
  return mutateManifest(input, r, { values: VALUES, field: 'name' });
}
