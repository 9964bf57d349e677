// A model is a file or a directory of files. Its id is the hash of its content: for a file, its
// bytes and those of every external data file it names (an ONNX model's weights beside it); for a
// directory, every file's relative name, size and bytes, sorted by name (so the id never depends
// on the model's own path or on the order readdir gives).
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { CacheError, checkOptionNames, invalidType } from '../errors.js';
import { hash, hashFile } from '../hash.js';
import { encodeKey } from '../keys.js';
import { externalPath } from '../onnx/external.js';
import { externalLocations } from '../ort/onnx.js';
import { externalLocationsOfFile } from '../onnx/scan.js';

/** A model handed to a pipeline: a file (`model.onnx`) or a directory (model + external data). */
export interface ModelInput {
  /** The model file (its external data files are found beside it, as onnxruntime finds them) or the folder of a folder model. */
  path: string;
  /** Free-form, JSON-like facts carried along the passes; part of the input id (a pass may read them). */
  attributes?: Record<string, unknown>;
}

/** One file of a model, as recorded in manifests and run records. */
export interface ModelFile {
  /** Relative path inside the model ('/'-separated); for a file model, relative to its folder. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Tree hash (XXH3-128, see `hashFile`), 32 hex chars. */
  hash: string;
}

/** A model's files and content id. */
export interface ModelContent {
  kind: 'file' | 'dir';
  /** Sorted by path. A file model lists its file and the external data files it names. */
  files: ModelFile[];
  /** A file model: the model file's path among `files`. */
  main?: string;
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

const byPath = (a: ModelFile, b: ModelFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The content id from a kind and its files: one definition for local and stored models. A file
 * model's id is its bytes (and its external data's names and bytes): renaming `model.onnx` does
 * not change the model, but moving its data does.
 */
export function contentId(kind: 'file' | 'dir', files: readonly ModelFile[], main?: string): string {
  if (kind === 'dir') return hash(encodeKey('modelcache-model-v1', [kind, files.map((f) => [f.path, f.size, f.hash])]));
  const model = files.length === 1 ? files[0] : files.find((f) => f.path === main);
  if (!model) throw new CacheError('ERR_BAD_INPUT', `file model ${String(main)} is not among its files`);
  if (files.length === 1) return hash(encodeKey('modelcache-model-v1', [kind, model.size, model.hash]));
  const data = files.filter((f) => f !== model).map((f) => [f.path, f.size, f.hash]);
  return hash(encodeKey('modelcache-model-v1', ['file+data', model.size, model.hash, data]));
}

// A protobuf message cannot be larger: a bigger file is not an ONNX model we could parse.
const MAX_ONNX_BYTES = 2 ** 31;

/**
 * The external data files named by `locations` (of the ONNX model `file`), relative to its folder
 * ('/'-separated): each must be a file inside that folder.
 */
export async function externalFilesAt(file: string, locations: readonly string[]): Promise<string[]> {
  const dir = dirname(file);
  const out: string[] = [];
  for (const location of locations) {
    const path = externalPath(dir, location); // refuses a location that leaves the folder
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) throw new CacheError('ERR_BAD_INPUT', `model ${file} names external data ${JSON.stringify(location)}, which is not a file beside it (${path})`);
    out.push(relative(dir, path).split(sep).join('/'));
  }
  return out;
}

/** The external data files that the ONNX model `bytes` (read from `file`) names (see {@link externalFilesAt}). */
export async function externalFiles(file: string, bytes: Uint8Array): Promise<string[]> {
  return externalFilesAt(file, externalLocations(bytes));
}

/** The external data files an `.onnx` file names (see {@link externalFilesAt}); other files, and files that do not parse as ONNX, name none. */
async function externalDataOf(file: string, size: number): Promise<string[]> {
  if (!/\.onnx$/i.test(file) || size >= MAX_ONNX_BYTES) return [];
  let locations: string[];
  try {
    // Only the protobuf headers are read: the tensors' bytes are skipped over, never copied.
    locations = externalLocationsOfFile(file);
  } catch (err) {
    if ((err as CacheError).code === 'ERR_CORRUPT') return []; // not ONNX that we can read: its bytes are all it is
    throw err;
  }
  return externalFilesAt(file, locations);
}

async function hashed(root: string, rel: string): Promise<ModelFile> {
  const full = join(root, ...rel.split('/'));
  const [s, h] = await Promise.all([stat(full), hashFile(full)]);
  return { path: rel, size: s.size, hash: h };
}

/** Lists and hashes the files of the model at `path` (a file's external data included). */
export async function readModel(path: string): Promise<ModelContent> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw new CacheError('ERR_BAD_INPUT', `model path ${path} cannot be read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
  }
  if (st.isFile()) {
    const main = basename(path);
    const names = [main, ...(await externalDataOf(path, st.size))];
    const files = (await Promise.all([...new Set(names)].map((n) => hashed(dirname(path), n)))).sort(byPath);
    return { kind: 'file', files, main, id: contentId('file', files, main), size: files.reduce((n, f) => n + f.size, 0) };
  }
  if (!st.isDirectory()) throw new CacheError('ERR_BAD_INPUT', `model path ${path} is neither a file nor a directory`);
  const names: string[] = [];
  await walkDir(path, path, names);
  if (names.length === 0) throw new CacheError('ERR_BAD_INPUT', `model directory ${path} is empty`);
  names.sort();
  const files = await Promise.all(names.map((rel) => hashed(path, rel)));
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
