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
// Control characters cannot be typed or shown, and NUL cannot be in a path at all.
const CONTROL = /[\u0000-\u001f\u007f]/;
// The longest file name most file systems take (NAME_MAX), in UTF-8 bytes.
const MAX_SEGMENT_BYTES = 255;

function bad(what: string): never {
  throw new CacheError('ERR_CORRUPT', `output manifest is invalid: ${what}`);
}

function show(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/**
 * Only names that stay inside the model folder and that every supported file system can create:
 * '/'-separated, no '..', '.' or empty segments, no absolute paths or backslashes, no control
 * characters, segments of at most 255 UTF-8 bytes.
 */
export function isSafeRelativePath(p: string): boolean {
  return (
    typeof p === 'string' &&
    p.length > 0 &&
    p.length < 1024 &&
    !p.startsWith('/') &&
    !p.includes('\\') &&
    !CONTROL.test(p) &&
    p.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && Buffer.byteLength(s) <= MAX_SEGMENT_BYTES)
  );
}

/** How a path is compared for collisions: as a case-insensitive, normalizing file system would. */
function portableKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/**
 * Why a set of file paths cannot be materialized as one folder on every supported file system, or
 * undefined when it can: no path twice, no path that is also the folder of another (`a` and
 * `a/b`), compared without case and after Unicode normalization, since macOS and Windows folders
 * usually ignore both. (Windows-only rules, such as reserved names like `CON`, are not checked:
 * Windows is not a target.) Writers check their outputs with this before publishing them.
 */
export function pathConflict(paths: readonly string[]): string | undefined {
  const files = new Map<string, string>();
  for (const p of paths) {
    const key = portableKey(p);
    const other = files.get(key);
    if (other !== undefined) return other === p ? `${show(p)} is listed twice` : `${show(other)} and ${show(p)} differ only in case or normalization`;
    files.set(key, p);
  }
  for (const [key, p] of files) {
    for (let slash = key.indexOf('/'); slash !== -1; slash = key.indexOf('/', slash + 1)) {
      const folder = files.get(key.slice(0, slash));
      if (folder !== undefined) return `${show(folder)} is a file and also the folder of ${show(p)}`;
    }
  }
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Parses and checks a manifest (the bytes may come from anywhere: every field is checked). */
export function parseManifest(text: string, expectedId: string): OutputManifest {
  let m: OutputManifest;
  let nonFinite = false;
  try {
    // A literal like 1e999 parses to Infinity, which JSON cannot write back (it becomes null), and
    // -0 is written back as 0: refuse the one and fold the other, so that the copy of a shared
    // manifest kept locally reads exactly as the shared one did.
    m = JSON.parse(text, (_key, v: unknown) => {
      if (typeof v !== 'number') return v;
      if (!Number.isFinite(v)) nonFinite = true;
      return v === 0 ? 0 : v;
    }) as OutputManifest;
  } catch {
    bad('not JSON');
  }
  if (nonFinite) bad('a number too large for JSON');
  if (!isPlainObject(m)) bad('not an object');
  if (m.format !== MANIFEST_FORMAT) bad(`format ${show(m.format)}, this modelcache reads ${MANIFEST_FORMAT}`);
  if (m.id !== expectedId) bad(`id ${show(m.id)} where ${expectedId} was expected`);
  if (m.kind !== 'file' && m.kind !== 'dir') bad('kind');
  if (!Array.isArray(m.files) || m.files.length === 0) bad('files');
  let total = 0;
  for (const f of m.files as unknown[]) {
    const e = f as Partial<ModelFile> | null;
    if (!isPlainObject(e) || !isSafeRelativePath(e.path as string) || !Number.isSafeInteger(e.size) || (e.size as number) < 0 || !HEX32.test(e.hash as string)) {
      bad(`file entry ${show(f)}`);
    }
    total += e.size as number;
  }
  const conflict = pathConflict(m.files.map((f) => f.path));
  if (conflict !== undefined) bad(`files: ${conflict}`);
  if (!Number.isSafeInteger(total) || m.size !== total) bad(`size ${show(m.size)}, the files add up to ${total}`);
  if (m.kind === 'file' ? m.files.length !== 1 || m.main !== m.files[0].path : m.main !== undefined) bad('main');
  if (m.upload !== undefined && !/^[0-9a-z-]{1,64}$/.test(m.upload)) bad('upload');
  if (!isPlainObject(m.attributes)) bad('attributes');
  if (!isPlainObject(m.run) || !isPlainObject(m.run.pass) || typeof m.run.pass.name !== 'string' || typeof m.run.pass.type !== 'string') bad('run');
  if (typeof m.created !== 'number' || !Number.isFinite(m.created)) bad('created');
  return m;
}
