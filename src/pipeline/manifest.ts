// What a pass output records beside its files: its kind, main file, attributes and the run that
// made it, kept as the `meta` of a Cache file entry (namespace `pipeline.output`, key: the output
// id). An entry may come from a shared container anyone on the team can write: every field is
// checked, and an entry whose files could not be materialized as one folder everywhere is refused.
import { CacheError } from '../errors.js';
import type { FileEntryInfo } from '../store/tier.js';
import type { ModelFile } from './model.js';
import type { RunRecord } from './records.js';

/** Format of the output description; another format reads as a miss, never as a misread. */
export const OUTPUT_FORMAT = 2;

/** A stored pass output: its files and what the pipeline recorded about them. */
export interface OutputManifest {
  /** Version of this description's format (an entry of another format reads as a miss). */
  format: number;
  /** The output id. */
  id: string;
  /** `'file'`: a model file with its external data; `'dir'`: a folder model. */
  kind: 'file' | 'dir';
  /** For a file model: the model file among `files` (the others are its external data). */
  main?: string;
  /** Every file of the output, relative to its folder, with size and hash (checked when it is read). */
  files: ModelFile[];
  /** Total bytes of the files. */
  size: number;
  /** Attributes of the output model: the input's, with those the pass returned over them. */
  attributes: Record<string, unknown>;
  /** The run that produced the output (its `files` are the output's). */
  run: RunRecord;
  /** When the output was stored, ms since epoch (on the machine that computed it). */
  created: number;
}

// Control characters cannot be typed or shown, and NUL cannot be in a path at all.
const CONTROL = /[\u0000-\u001f\u007f]/;
// The longest file name most file systems take (NAME_MAX), in UTF-8 bytes.
const MAX_SEGMENT_BYTES = 255;

function bad(id: string, what: string): never {
  throw new CacheError('ERR_CORRUPT', `pipeline output ${id} is invalid: ${what}`);
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
 * Windows is not a target.) Producers check their outputs with this before storing them.
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

/** Why the paths of an output cannot be stored and shared, or undefined when they can. */
export function outputPathProblem(paths: readonly string[]): string | undefined {
  const unsafe = paths.find((p) => !isSafeRelativePath(p));
  if (unsafe !== undefined) return `${show(unsafe)} is not a relative path every file system can create`;
  return pathConflict(paths);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * A JSON value as a copy written back would read: -0 becomes 0 (JSON writes it so), and a
 * number JSON cannot write (Infinity, from a literal like 1e999) makes it invalid.
 */
function jsonSafe(id: string, v: unknown, at: string, depth = 0): unknown {
  if (depth > 64) bad(id, `${at} is nested too deeply`);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) bad(id, `${at} holds a number too large for JSON`);
    return v === 0 ? 0 : v;
  }
  if (Array.isArray(v)) return v.map((x, i) => jsonSafe(id, x, `${at}[${i}]`, depth + 1));
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(id, x, `${at}.${k}`, depth + 1)]));
  return v;
}

/** The `meta` stored with an output's file entry: the manifest without what the entry itself records. */
export function outputMeta(m: OutputManifest): Record<string, unknown> {
  const { files: _files, ...run } = m.run;
  return { format: OUTPUT_FORMAT, kind: m.kind, ...(m.main !== undefined ? { main: m.main } : {}), attributes: m.attributes, run };
}

/**
 * The manifest of a stored output (a file entry from any tier, its bytes untrusted): every field
 * of its meta is checked, and its file names must be safe and free of conflicts.
 */
export function parseOutput(entry: Pick<FileEntryInfo, 'key' | 'meta' | 'files' | 'size' | 'created'>): OutputManifest {
  const id = entry.key;
  const meta = entry.meta;
  if (!isPlainObject(meta)) bad(id, 'no description');
  if (meta.format !== OUTPUT_FORMAT) bad(id, `format ${show(meta.format)}, this modelcache reads ${OUTPUT_FORMAT}`);
  const files: ModelFile[] = entry.files.map((f) => ({ path: f.name, size: f.size, hash: f.hash }));
  const problem = outputPathProblem(files.map((f) => f.path));
  if (problem !== undefined) bad(id, `files: ${problem}`);
  const kind = meta.kind;
  if (kind !== 'file' && kind !== 'dir') bad(id, `kind ${show(kind)}`);
  const main = meta.main;
  if (kind === 'file' ? typeof main !== 'string' || !files.some((f) => f.path === main) : main !== undefined) bad(id, `main ${show(main)}`);
  if (!isPlainObject(meta.attributes)) bad(id, 'attributes');
  const run = meta.run as Record<string, unknown> | undefined;
  const pass = run?.pass as Record<string, unknown> | undefined;
  if (!isPlainObject(run) || !isPlainObject(pass) || typeof pass.name !== 'string' || typeof pass.type !== 'string' || typeof pass.version !== 'string') bad(id, 'run.pass');
  if (!Number.isFinite(run.start) || !Number.isFinite(run.durationMs) || typeof run.host !== 'string' || run.outputId !== id) bad(id, 'run');
  return {
    format: OUTPUT_FORMAT,
    id,
    kind,
    ...(kind === 'file' ? { main: main as string } : {}),
    files,
    size: entry.size,
    attributes: jsonSafe(id, meta.attributes, 'attributes') as Record<string, unknown>,
    run: { ...(jsonSafe(id, run, 'run') as unknown as RunRecord), files },
    created: entry.created,
  };
}
