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

/** The entry every seed describes (a real reader passes the namespace and key it looked up). */
export const NS = 'pipeline.output';
export const KEY = '0123456789abcdef0123456789abcdef';

function bug(what, input) {
  throw new Error(`${what}: ${input.toString('utf8').slice(0, 300)}`);
}

/** Creates every file in an in-memory folder as a case-insensitive file system would; a problem or null. */
function materialize(files) {
  const nodes = new Map();
  for (const f of files) {
    const parts = f.name.normalize('NFC').toLowerCase().split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const want = i === parts.length ? 'file' : 'dir';
      const have = nodes.get(p);
      if (have === 'file' || (have === 'dir' && want === 'file')) return `${f.name} collides at ${p}`;
      nodes.set(p, want);
    }
  }
  return null;
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
  const clash = materialize(entry.files);
  if (clash) bug(`accepted files that cannot all be created: ${clash}`, input);
  if (!/^[0-9a-f]{32}$/.test(filesId(entry.files))) bug('a folder id that is no 32-hex name', input);
  const extra = typeof raw.upload === 'string' ? { upload: raw.upload } : {};
  if (!isDeepStrictEqual(parseManifest(encodeManifest(entry, extra), NS, KEY).entry, entry)) bug('an accepted description does not encode back to itself', input);
}

const VALUES = [
  -1, 0, 1, 1.5, 1e300, -1e18, 2 ** 53, Number.MAX_SAFE_INTEGER, '', '.', '..', 'a', 'A', 'a/b', 'A/b', '/abs', 'a\\b', 'a//b',
  'x'.repeat(256), 'caf\u00e9', 'cafe\u0301', 'nul\u0000', null, true, [], {}, KEY, NS, 'default', 'ab'.repeat(16),
];

/** Structure-aware mutation: replaces, duplicates or deletes one JSON node (falls back to the bytes). */
export function mutate(input, r) {
  let doc;
  try {
    doc = JSON.parse(input.toString('utf8'));
  } catch {
    return input;
  }
  const holders = [];
  const walk = (node) => {
    if (node === null || typeof node !== 'object') return;
    holders.push(node);
    for (const v of Object.values(node)) walk(v);
  };
  walk(doc);
  if (holders.length === 0) return input;
  const holder = r.pick(holders);
  const keys = Object.keys(holder);
  const key = keys.length ? r.pick(keys) : '0';
  switch (r.below(4)) {
    case 0:
    case 1:
      holder[key] = r.pick(VALUES);
      break;
    case 2:
      if (Array.isArray(holder) && holder.length) holder.push(structuredClone(r.pick(holder)));
      else delete holder[key];
      break;
    default: {
      // A second file under (or over) an existing name, or the same name in another case.
      const files = Array.isArray(doc?.files) ? doc.files.filter((f) => f && typeof f.name === 'string') : [];
      if (!files.length) break;
      const f = r.pick(files);
      const name = r.pick([`${f.name}/b`, f.name.toUpperCase(), f.name.split('/').slice(0, -1).join('/') || `${f.name}.x`]);
      doc.files.push({ ...f, name });
      if (typeof doc.size === 'number' && typeof f.size === 'number') doc.size += f.size;
    }
  }
  return Buffer.from(JSON.stringify(doc));
}
