// Fuzz target (scripts/fuzz-js.mjs) for parseManifest, the decoder of pipeline output manifests
// read from a shared container. Bad bytes must end in CacheError ERR_CORRUPT; a manifest that is
// accepted must be one that every consumer can materialize as a folder, checked here by an
// independent model of a case-insensitive file system, and must parse back to itself.
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { CacheError } from '../../dist/errors.js';
import { parseManifest } from '../../dist/pipeline/manifest.js';
import { EDGE_VALUES, materialize, mutateManifest } from './lib/json-manifest.mjs';

/** The id every seed carries (a real reader passes the id it looked up). */
export const ID = '0123456789abcdef0123456789abcdef';

function bug(what, input) {
  throw new Error(`${what}: ${input.toString('utf8').slice(0, 300)}`);
}

export function run(input) {
  let m;
  try {
    m = parseManifest(input.toString('utf8'), ID);
  } catch (err) {
    if (err instanceof CacheError && err.code === 'ERR_CORRUPT') return;
    throw err;
  }
  let total = 0;
  for (const f of m.files) {
    const inside = path.posix.resolve('/out', f.path);
    if (!inside.startsWith('/out/') || inside !== `/out/${f.path}`) bug(`accepted a path that leaves the folder (${f.path})`, input);
    if (/[\u0000-\u001f]/.test(f.path)) bug('accepted a control character in a path', input);
    if (!Number.isSafeInteger(f.size) || f.size < 0) bug(`accepted a file size of ${f.size}`, input);
    total += f.size;
  }
  if (m.size !== total) bug(`accepted a total size of ${m.size} for files of ${total} bytes`, input);
  const clash = materialize(m.files.map((f) => f.path));
  if (clash) bug(`accepted files that cannot all be created: ${clash}`, input);
  if (m.kind === 'file' && (m.files.length !== 1 || m.main !== m.files[0].path)) bug('accepted a file model whose main is not its file', input);
  if (!isDeepStrictEqual(parseManifest(JSON.stringify(m), ID), m)) bug('an accepted manifest does not parse back to itself', input);
}

const VALUES = [...EDGE_VALUES, ID, 'dir', 'file', 'u1-abc'];

/** Structure-aware mutation: one JSON node replaced, duplicated or deleted, or a clashing file added. */
export function mutate(input, r) {
  return mutateManifest(input, r, { values: VALUES, field: 'path' });
}
