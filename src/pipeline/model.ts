// A model is a file or a directory of files. Its id is the hash of its content: for a file, its
// bytes; for a directory, every file's relative name, size and bytes, sorted by name (so the id
// never depends on the directory's own path or on the order readdir gives).
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { CacheError, checkOptionNames, invalidType } from '../errors.js';
import { hash, hashFile } from '../hash.js';
import { encodeKey } from '../keys.js';

/** A model handed to a pipeline: a file (`model.onnx`) or a directory (model + external data). */
export interface ModelInput {
  path: string;
  /** Free-form, JSON-like facts carried along the passes; part of the input id (a pass may read them). */
  attributes?: Record<string, unknown>;
}

/** One file of a model, as recorded in manifests and run records. */
export interface ModelFile {
  /** Relative path inside the model ('/'-separated); for a file model, its base name. */
  path: string;
  size: number;
  /** Tree hash (XXH3-128, see `hashFile`), 32 hex chars. */
  hash: string;
}

/** A model's files and content id. */
export interface ModelContent {
  kind: 'file' | 'dir';
  files: ModelFile[];
  id: string;
  size: number;
}

/** Checks a model argument: a path string or `{ path, attributes? }`. */
export function checkModelInput(name: string, model: unknown): ModelInput {
  if (typeof model === 'string') {
    if (model.length === 0) throw invalidType(name, 'a model path or { path, attributes? }', model);
    return { path: model };
  }
  if (model === null || typeof model !== 'object') throw invalidType(name, 'a model path or { path, attributes? }', model);
  checkOptionNames(name, model, ['path', 'attributes']);
  const m = model as ModelInput;
  if (typeof m.path !== 'string' || m.path.length === 0) throw invalidType(`${name}.path`, 'path of a model file or directory', m.path);
  if (m.attributes !== undefined && (m.attributes === null || typeof m.attributes !== 'object' || Array.isArray(m.attributes))) {
    throw invalidType(`${name}.attributes`, 'a plain object', m.attributes);
  }
  return m;
}

/** Every regular file under `dir`, as '/'-separated relative paths, sorted. Symlinks are followed. */
async function walkDir(dir: string, root: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    const st = entry.isSymbolicLink() ? await stat(full) : entry;
    if (st.isDirectory()) await walkDir(full, root, out);
    else if (st.isFile()) out.push(relative(root, full).split(sep).join('/'));
    else throw new CacheError('ERR_BAD_INPUT', `model directory ${root} holds ${full}, which is neither a file nor a directory`);
  }
}

/** The content id from a kind and its (sorted) files: one definition for local and shared models. */
export function contentId(kind: 'file' | 'dir', files: readonly ModelFile[]): string {
  // A file model's id is its bytes alone: renaming model.onnx does not change the model.
  const parts = kind === 'file' ? [kind, files[0].size, files[0].hash] : [kind, files.map((f) => [f.path, f.size, f.hash])];
  return hash(encodeKey('modelcache-model-v1', parts));
}

/** Lists and hashes the files of the model at `path`. */
export async function readModel(path: string): Promise<ModelContent> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new CacheError('ERR_BAD_INPUT', `model path ${path} cannot be read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  if (st.isFile()) {
    const file: ModelFile = { path: path.split(/[\\/]/).pop()!, size: st.size, hash: await hashFile(path) };
    return { kind: 'file', files: [file], id: contentId('file', [file]), size: st.size };
  }
  if (!st.isDirectory()) throw new CacheError('ERR_BAD_INPUT', `model path ${path} is neither a file nor a directory`);
  const names: string[] = [];
  await walkDir(path, path, names);
  if (names.length === 0) throw new CacheError('ERR_BAD_INPUT', `model directory ${path} is empty`);
  names.sort();
  const files = await Promise.all(
    names.map(async (rel) => {
      const full = join(path, ...rel.split('/'));
      const [s, h] = await Promise.all([stat(full), hashFile(full)]);
      return { path: rel, size: s.size, hash: h };
    }),
  );
  return { kind: 'dir', files, id: contentId('dir', files), size: files.reduce((n, f) => n + f.size, 0) };
}

/**
 * The content id of the model at `path` (a file or a directory).
 *
 * @example
 * await modelId('model.onnx') // '5f0c…' (32 hex chars)
 */
export async function modelId(path: string): Promise<string> {
  if (typeof path !== 'string' || path.length === 0) throw invalidType('path', 'path of a model file or directory', path);
  return (await readModel(path)).id;
}
