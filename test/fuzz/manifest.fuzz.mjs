// Fuzz target (scripts/fuzz-js.mjs) for the decoder of pipeline outputs read from a shared
// container: the manifest blob of a file entry (store/manifest.ts parseManifest) and the output
// description in its meta (pipeline/manifest.ts parseOutput). Bad bytes must end in CacheError
// ERR_CORRUPT; an output that is accepted must be one that every consumer can materialize as a
// folder, checked here by an independent model of a case-insensitive file system, and must
// decode to itself when written back as the pipeline writes it.
import { isDeepStrictEqual } from 'node:util';
import path from 'node:path';
import { CacheError } from '../../dist/errors.js';
import { outputMeta, parseOutput } from '../../dist/pipeline/manifest.js';
import { encodeManifest, parseManifest } from '../../dist/store/manifest.js';
import { EDGE_VALUES, materialize, mutateManifest } from './lib/json-manifest.mjs';

/** The entry every seed describes (a real reader passes the id it looked up). */
export const ID = '0123456789abcdef0123456789abcdef';
const NS = 'pipeline.output';

function bug(what, input) {
  throw new Error(`${what}: ${input.toString('utf8').slice(0, 300)}`);
}

function decode(bytes) {
  const { entry } = parseManifest(bytes, NS, ID);
  return { entry, output: parseOutput(entry) };
}

export function run(input) {
  let d;
  try {
    d = decode(input);
  } catch (err) {
    if (err instanceof CacheError && err.code === 'ERR_CORRUPT') return;
    throw err;
  }
  const m = d.output;
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
  if (m.kind === 'file' && !m.files.some((f) => f.path === m.main)) bug('accepted a file model whose main is not among its files', input);
  // Written back as the pipeline writes a local copy: the same output.
  const again = decode(encodeManifest({ ...d.entry, meta: outputMeta(m) })).output;
  if (!isDeepStrictEqual(again, m)) bug('an accepted output does not decode back to itself', input);
}

const VALUES = [...EDGE_VALUES, ID, 'dir', 'file', 'model.onnx', 2, 'u1-abc'];

/** Structure-aware mutation: one JSON node replaced, duplicated or deleted, or a clashing file added. */
export function mutate(input, r) {
  return mutateManifest(input, r, { values: VALUES, field: 'name' });
}
