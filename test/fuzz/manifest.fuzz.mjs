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

/** The entry every seed describes (a real reader passes the id it looked up). */
export const ID = '0123456789abcdef0123456789abcdef';
const NS = 'pipeline.output';

function bug(what, input) {
  throw new Error(`${what}: ${input.toString('utf8').slice(0, 300)}`);
}

/** Creates every file of `files` in an in-memory folder as macOS would; returns a problem or null. */
function materialize(files) {
  const nodes = new Map(); // case-folded path -> 'file' | 'dir'
  for (const f of files) {
    const parts = f.path.normalize('NFC').toLowerCase().split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const want = i === parts.length ? 'file' : 'dir';
      const have = nodes.get(p);
      if (have === 'file' || (have === 'dir' && want === 'file')) return `${f.path} collides at ${p}`;
      nodes.set(p, want);
    }
  }
  return null;
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
  const clash = materialize(m.files);
  if (clash) bug(`accepted files that cannot all be created: ${clash}`, input);
  if (m.kind === 'file' && !m.files.some((f) => f.path === m.main)) bug('accepted a file model whose main is not among its files', input);
  // Written back as the pipeline writes a local copy: the same output.
  const again = decode(encodeManifest({ ...d.entry, meta: outputMeta(m) })).output;
  if (!isDeepStrictEqual(again, m)) bug('an accepted output does not decode back to itself', input);
}

const VALUES = [
  -1, 0, 1, 1.5, 1e300, -1e18, 2 ** 53, Number.MAX_SAFE_INTEGER, '', '.', '..', 'a', 'A', 'a/b', 'A/b', 'a/b/c', '/etc/passwd',
  'a\\b', 'a//b', 'x'.repeat(256), 'caf\u00e9', 'cafe\u0301', 'nul\u0000', null, true, [], {}, ID, 'dir', 'file', 'model.onnx', 2, 'u1-abc',
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
  switch (r.below(5)) {
    case 0:
    case 1:
      holder[key] = r.pick(VALUES);
      break;
    case 2:
      if (Array.isArray(holder) && holder.length) holder.push(structuredClone(r.pick(holder)));
      else delete holder[key];
      break;
    case 3: {
      // A second file entry under (or over) an existing name, the a / a/b and A / a cases.
      const files = Array.isArray(doc?.files) ? doc.files.filter((f) => f && typeof f.name === 'string') : [];
      if (!files.length) break;
      const f = r.pick(files);
      const name2 = r.below(2) ? `${f.name}/${r.pick(['b', 'B', 'x/y'])}` : f.name.split('/').slice(0, -1).join('/') || f.name.toUpperCase();
      doc.files.push({ ...f, name: name2 });
      if (typeof doc.size === 'number' && typeof f.size === 'number') doc.size += f.size;
      break;
    }
    default:
      if (typeof holder[key] === 'number') holder[key] = holder[key] + r.pick([-1, 1, 2 ** 53, -(2 ** 53)]);
      else holder[key] = r.pick(VALUES);
  }
  return Buffer.from(JSON.stringify(doc));
}
