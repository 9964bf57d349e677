// What the fuzz targets of JSON manifests share (pipeline manifests, file-entry descriptions): a
// model of creating every listed file on a case-insensitive file system, and a structure-aware
// mutation of one JSON node. Not a target itself (targets are test/fuzz/*.fuzz.mjs).

/** Values a mutation puts into a JSON node: edge numbers, path tricks, wrong types. */
export const EDGE_VALUES = [
  -1, 0, 1, 1.5, 1e300, -1e18, 2 ** 53, Number.MAX_SAFE_INTEGER, '', '.', '..', 'a', 'A', 'a/b', 'A/b', 'a/b/c', '/etc/passwd',
  'a\\b', 'a//b', 'x'.repeat(256), 'caf\u00e9', 'cafe\u0301', 'nul\u0000', null, true, [], {},
];

/** Creates every path in an in-memory folder as a case-insensitive file system would; a problem or null. */
export function materialize(paths) {
  const nodes = new Map(); // case-folded path -> 'file' | 'dir'
  for (const name of paths) {
    const parts = name.normalize('NFC').toLowerCase().split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const want = i === parts.length ? 'file' : 'dir';
      const have = nodes.get(p);
      if (have === 'file' || (have === 'dir' && want === 'file')) return `${name} collides at ${p}`;
      nodes.set(p, want);
    }
  }
  return null;
}

/**
 * Structure-aware mutation of a JSON manifest: replaces, duplicates or deletes one node, or adds a
 * second file under (or over, or in another case than) an existing one, the `a` / `a/b` case.
 * `field` is the name of a file's path in the manifest ('path' or 'name'). Falls back to the bytes.
 */
export function mutateManifest(input, r, { values, field }) {
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
      holder[key] = r.pick(values);
      break;
    case 2:
      if (Array.isArray(holder) && holder.length) holder.push(structuredClone(r.pick(holder)));
      else delete holder[key];
      break;
    case 3: {
      const files = Array.isArray(doc?.files) ? doc.files.filter((f) => f && typeof f[field] === 'string') : [];
      if (!files.length) break;
      const f = r.pick(files);
      const name = f[field];
      const other = r.below(2) ? `${name}/${r.pick(['b', 'B', 'x/y'])}` : name.split('/').slice(0, -1).join('/') || name.toUpperCase();
      doc.files.push({ ...f, [field]: other });
      if (typeof doc.size === 'number' && typeof f.size === 'number') doc.size += f.size;
      break;
    }
    default:
      if (typeof holder[key] === 'number') holder[key] = holder[key] + r.pick([-1, 1, 2 ** 53, -(2 ** 53)]);
      else holder[key] = r.pick(values);
  }
  return Buffer.from(JSON.stringify(doc));
}
