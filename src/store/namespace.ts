// The names of stored things, in one grammar for every tier: namespaces, keys and the names of the
// files of a file entry. Each becomes part of a path (a folder on disk, a blob name), so each is
// checked here, before any tier sees it, and nothing outside this grammar ever reaches a path.
//
//   namespace := segment ('.' segment)*          at most 8 segments, 128 characters
//   segment   := [a-z0-9] [a-z0-9_-]{0,63}
//   key       := [0-9A-Za-z_-] [0-9A-Za-z_.-]{0,199}   (never '.', '..' or a leading dot)
//   file name := part ('/' part)*                at most 1024 characters, no duplicates, no name
//   part      := 1-255 characters, no '/', '\\' or NUL, not '.' or '..'    that is a folder of another
//                                                (both compared ignoring case)
import { described, invalidType } from '../errors.js';

/** The namespace of entries stored without one. */
export const DEFAULT_NAMESPACE = 'default';

/** The namespaces modelcache itself uses. A tensorCache module's is {@link tensorNamespace}. */
export const NAMESPACES = {
  /** Entries stored without a namespace ({@link DEFAULT_NAMESPACE}). */
  default: DEFAULT_NAMESPACE,
  /** Compiled onnxruntime sessions (modelcache/ort). */
  session: 'session',
  /** File hashes remembered by file version (modelcache/ort). */
  fileMemo: 'ort.memo',
  /** Pass outputs of pipelines. */
  pipelineOutput: 'pipeline.output',
  /** Run records of pipelines. */
  pipelineRun: 'pipeline.run',
  /** Evaluation results of pipelines. */
  pipelineEval: 'pipeline.eval',
  /** Failures of pipeline passes remembered with `cacheFailures: true`. */
  pipelineFailure: 'pipeline.failure',
} as const;

/** The namespace of one tensorCache module: `tensor.<module hash>`. */
export function tensorNamespace(moduleHash: string): string {
  return checkNamespace(`tensor.${moduleHash}`, 'moduleHash');
}

const NAMESPACE = /^[a-z0-9][a-z0-9_-]{0,63}(?:\.[a-z0-9][a-z0-9_-]{0,63}){0,7}$/;
const KEY = /^[0-9A-Za-z_-][0-9A-Za-z_.-]{0,199}$/;
// Namespaces are few and checked on every call: remember the good ones.
const known = new Set<string>([DEFAULT_NAMESPACE]);

/** Whether `ns` follows the namespace grammar. */
export function isNamespace(ns: unknown): ns is string {
  if (typeof ns !== 'string') return false;
  if (known.has(ns)) return true;
  if (ns.length > 128 || !NAMESPACE.test(ns)) return false;
  if (known.size < 4096) known.add(ns);
  return true;
}

/** Returns `ns` when it follows the namespace grammar; a TypeError naming `name` otherwise. */
export function checkNamespace(ns: unknown, name = 'namespace'): string {
  if (!isNamespace(ns)) {
    throw invalidType(name, "a namespace: dot-separated segments of [a-z0-9_-] starting with a letter or digit, e.g. 'session' or 'tensor.<hash>'", ns);
  }
  return ns;
}

/** Whether `key` follows the key grammar. */
export function isKey(key: unknown): key is string {
  return typeof key === 'string' && KEY.test(key);
}

/** Returns `key` when it follows the key grammar; a TypeError naming `name` otherwise. */
export function checkKey(key: unknown, name = 'key'): string {
  if (!isKey(key)) {
    throw invalidType(name, 'string of 1-200 characters from [0-9a-zA-Z_.-], not starting with a dot (e.g. a cacheKey())', key);
  }
  return key;
}

function isNamePart(p: string): boolean {
  return p.length > 0 && p.length <= 255 && p !== '.' && p !== '..' && !/[\\\0]/.test(p);
}

/** Whether `name` is a safe relative file name ('model.onnx', 'weights/part-1.bin'). */
export function isFileName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 1024 && name.split('/').every(isNamePart);
}

/** A name as a case-insensitive file system compares it (macOS, Windows): entries are shared. */
const folded = (n: string) => n.normalize('NFC').toLowerCase();

/**
 * Checks the file names of one entry: each safe, none repeated, and none a folder of another
 * ('a' and 'a/b' cannot both be files), also when case is ignored ('A' and 'a' are one file on
 * a case-insensitive file system). Returns the names sorted.
 */
export function checkFileNames(names: readonly unknown[], name = 'files'): string[] {
  if (names.length === 0) throw invalidType(name, 'at least one file', 'none');
  for (const n of names) {
    if (!isFileName(n)) throw invalidType(`${name} name`, "a relative file name such as 'model.onnx' or 'data/weights.bin' (no '..', no leading '/')", n);
  }
  const sorted = [...(names as string[])].sort();
  const files = new Map<string, string>();
  for (const n of sorted) {
    const f = folded(n);
    const other = files.get(f);
    if (other !== undefined) {
      const what = other === n ? `${JSON.stringify(n)} twice` : `${JSON.stringify(other)} and ${JSON.stringify(n)}, which differ only in case or normalization (one file on macOS and Windows)`;
      throw invalidType(`${name} names`, 'names that differ also when case is ignored', described(what));
    }
    files.set(f, n);
  }
  for (const n of sorted) {
    const parts = folded(n).split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = files.get(parts.slice(0, i).join('/'));
      if (folder !== undefined) throw invalidType(`${name} name`, `no file that is also a folder of another (${folder} and ${n})`, n);
    }
  }
  return sorted;
}
