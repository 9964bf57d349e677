// What a model is, by content: the hash of its bytes and of every external data file it names
// (found beside the model, or given in memory through `options.externalData`), with the file memo
// answering for files that did not change (the ONNX reader is loaded only when it does not).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { toBytes } from '../bytes.js';
import { CacheError } from '../errors.js';
import { treeHashAsync } from '../hash.js';
import type { ModelArg } from './args.js';
import type { FileMemo } from './filememo.js';
import { flattenExtra, type ModelIdentity } from './key.js';

/** One external data file of a model: on disk (`path`) or given in memory (`bytes`). */
export interface ExternalFile {
  location: string;
  path?: string;
  bytes?: Uint8Array;
}

export interface Source {
  identity: ModelIdentity;
  /** Where each external data location was found. */
  external: ExternalFile[];
  /** Display name for metadata and messages. */
  label: string;
}

/** User-supplied in-memory external data files (`externalData: [{ path, data }]`). */
function inMemoryExternal(options: Record<string, unknown>): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const list = options.externalData;
  if (!Array.isArray(list)) return out;
  for (const e of list) {
    if (e && typeof e === 'object' && typeof e.path === 'string' && e.data !== undefined && typeof e.data !== 'string') {
      out.set(e.path, toBytes(`options.externalData[${JSON.stringify(e.path)}].data`, e.data));
    }
  }
  return out;
}

/** The model's identity: content hashes of it and of its external data files. */
export async function identify(model: ModelArg, options: Record<string, unknown>, memo: FileMemo): Promise<Source> {
  let hash: string;
  let size: number;
  let locations: string[];
  let baseDir: string;
  if ('path' in model) {
    // Headers only, by positioned reads: never a mapping of a file its owner may truncate meanwhile.
    const facts = await memo.facts(model.path, 'onnx-model', async (p) => ({ external: (await import('../onnx/scan.js')).externalLocationsOfFile(p) }));
    hash = facts.hash;
    size = facts.size;
    const ext = facts.extra?.external;
    locations = Array.isArray(ext) ? ext.filter((x): x is string => typeof x === 'string') : [];
    baseDir = dirname(resolve(model.path));
  } else {
    hash = await treeHashAsync(model.bytes);
    size = model.bytes.byteLength;
    locations = (await import('./onnx.js')).externalLocations(model.bytes);
    const folder = flattenExtra(options.extra)['session.model_external_initializers_file_folder_path'];
    baseDir = typeof folder === 'string' ? resolve(folder) : process.cwd();
  }
  const inMemory = inMemoryExternal(options);
  const external: ExternalFile[] = [];
  const hashes: [string, string][] = [];
  for (const location of [...locations].sort()) {
    const bytes = inMemory.get(location);
    if (bytes) {
      external.push({ location, bytes });
      hashes.push([location, await treeHashAsync(bytes)]);
      continue;
    }
    const path = isAbsolute(location) ? location : join(baseDir, location);
    if (!existsSync(path)) throw new CacheError('ERR_BAD_INPUT', `external data file ${JSON.stringify(location)} of the model was not found at ${path}`);
    const f = await memo.facts(path, 'hash');
    external.push({ location, path });
    hashes.push([location, f.hash]);
    size += f.size;
  }
  const label = 'path' in model ? resolve(model.path) : `<${model.bytes.byteLength} bytes>`;
  return { identity: { hash, size, external: hashes }, external, label };
}
