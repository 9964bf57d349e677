// The manifest of a pass output: its files with their hashes, attributes and the run that made
// it. Locally it sits beside the files; in the shared store it is the commit point, written last.
import { CacheError } from '../errors.js';
import type { ModelFile } from './model.js';
import type { RunRecord } from './records.js';

/** Format of manifests; a reader skips manifests of another format (a miss, never a misread). */
export const MANIFEST_FORMAT = 1;

export interface OutputManifest {
  format: number;
  /** The output id. */
  id: string;
  kind: 'file' | 'dir';
  /** For a file model: its name. */
  main?: string;
  files: ModelFile[];
  /** Total bytes of the files. */
  size: number;
  attributes: Record<string, unknown>;
  /** The run that produced the output. */
  run: RunRecord;
  /** In the shared store: the folder under `outputs/<id>/` holding the files. */
  upload?: string;
  created: number;
}

const HEX32 = /^[0-9a-f]{32}$/;

function bad(what: string): never {
  throw new CacheError('ERR_CORRUPT', `output manifest is invalid: ${what}`);
}

/** Only names that stay inside the model folder: no '..', no absolute paths, no empty segments. */
export function isSafeRelativePath(p: string): boolean {
  return typeof p === 'string' && p.length > 0 && p.length < 1024 && !p.startsWith('/') && !p.includes('\\') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** Parses and checks a manifest (the bytes may come from anywhere: every field is checked). */
export function parseManifest(text: string, expectedId: string): OutputManifest {
  let m: OutputManifest;
  try {
    m = JSON.parse(text) as OutputManifest;
  } catch {
    bad('not JSON');
  }
  if (m === null || typeof m !== 'object') bad('not an object');
  if (m.format !== MANIFEST_FORMAT) bad(`format ${String(m.format)}, this modelcache reads ${MANIFEST_FORMAT}`);
  if (m.id !== expectedId) bad(`id ${String(m.id)} where ${expectedId} was expected`);
  if (m.kind !== 'file' && m.kind !== 'dir') bad('kind');
  if (!Array.isArray(m.files) || m.files.length === 0) bad('files');
  for (const f of m.files) {
    if (!f || !isSafeRelativePath(f.path) || !Number.isSafeInteger(f.size) || f.size < 0 || !HEX32.test(f.hash)) bad(`file entry ${JSON.stringify(f)}`);
  }
  if (m.kind === 'file' && (m.files.length !== 1 || m.main !== m.files[0].path)) bad('main');
  if (m.upload !== undefined && !/^[0-9a-z-]{1,64}$/.test(m.upload)) bad('upload');
  if (m.attributes === null || typeof m.attributes !== 'object') bad('attributes');
  if (m.run === null || typeof m.run !== 'object') bad('run');
  return m;
}
