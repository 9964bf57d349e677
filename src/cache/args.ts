// The arguments of Cache calls, checked before any tier sees them: keys and namespaces by the one
// grammar (store/namespace.ts), per-call option objects by their names, and what a put attaches.
import { checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { checkKind, checkMeta } from '../store/meta.js';
import { checkKey, checkNamespace, DEFAULT_NAMESPACE, isKey, isNamespace } from '../store/namespace.js';
import type { PutMeta } from '../store/tier.js';

/** Options objects by call: a misspelled name is a TypeError, not a silent default. */
export const READ_OPTIONS = ['namespace', 'shared'] as const;
export const GET_MANY_OPTIONS = [...READ_OPTIONS, 'borrow'] as const;
export const PUT_OPTIONS = [...READ_OPTIONS, 'kind', 'meta', 'elementSize'] as const;
export const COMPUTE_OPTIONS = [...PUT_OPTIONS, 'lock', 'lockWaitMs'] as const;
export const PUT_FILES_OPTIONS = [...READ_OPTIONS, 'kind', 'meta'] as const;
export const GET_FILES_OPTIONS = [...READ_OPTIONS, 'verify', 'download', 'onProgress'] as const;
export const FILES_OPTIONS = [...PUT_FILES_OPTIONS, 'verify', 'download', 'onProgress', 'lock', 'lockWaitMs'] as const;

/** The namespace of a call's `options` (checked against `names`), 'default' when none. */
export function namespaceOf(options: unknown, call: string, names: readonly string[]): string {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
  // Hot path (every read): the default namespace without a look at the option names.
  const ns = (options as { namespace?: unknown }).namespace;
  if (ns === undefined && Object.keys(options).length === 0) return DEFAULT_NAMESPACE;
  checkOptionNames(`${call} options`, options, names);
  const shared = (options as { shared?: unknown }).shared;
  if (shared !== undefined && typeof shared !== 'boolean') throw invalidType('options.shared', 'boolean', shared);
  if (ns === undefined) return DEFAULT_NAMESPACE;
  return isNamespace(ns) ? ns : checkNamespace(ns, 'options.namespace');
}

// Arrays of keys that modelcache itself made from digests (32 hex characters each, never changed
// after): they follow the grammar by construction, and tensorCache's hot path skips their check.
const madeFromDigests = new WeakSet<readonly string[]>();

/** Marks `keys`, hex digests made by modelcache's own code, as checked (see {@link checkKeys}). */
export function keysFromDigests(keys: string[]): readonly string[] {
  madeFromDigests.add(keys);
  return keys;
}

/** `keys` when it is an array of keys of the grammar; a TypeError naming the first bad one otherwise. */
export function checkKeys(keys: unknown): readonly string[] {
  if (!Array.isArray(keys)) throw invalidType('keys', 'an array of keys', keys);
  if (madeFromDigests.has(keys)) return keys;
  for (let i = 0; i < keys.length; i++) if (!isKey(keys[i])) checkKey(keys[i], `keys[${i}]`);
  return keys;
}

/** What a put attaches (namespace, kind, meta), checked. */
export function putMeta(options: PutMeta, ns: string): PutMeta {
  const kind = checkKind(options.kind);
  const meta = checkMeta(options.meta);
  return { namespace: ns, ...(kind !== undefined ? { kind } : {}), ...(meta !== undefined ? { meta } : {}) };
}

/** The byte-shuffle element size of a put, else the cache's default. */
export function elementSizeOf(options: { elementSize?: unknown }, fallback: number): number {
  return options.elementSize === undefined ? fallback : checkInteger('options.elementSize', options.elementSize, 1, 255);
}

/** The reading options of file entries (`verify`, `download` booleans, `onProgress` a function), checked. */
export function checkFilesOptions(o: { verify?: unknown; download?: unknown; onProgress?: unknown }): { verify?: boolean; download?: boolean; onProgress?: (loaded: number, total: number) => void } {
  for (const flag of ['verify', 'download'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw invalidType(`options.${flag}`, 'boolean', o[flag]);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidType('options.onProgress', 'function', o.onProgress);
  return o as { verify?: boolean; download?: boolean; onProgress?: (loaded: number, total: number) => void };
}

/** `lock` (boolean) and `lockWaitMs` of a compute, checked. */
export function checkLocking(o: { lock?: unknown; lockWaitMs?: unknown }): void {
  if (o.lock !== undefined && typeof o.lock !== 'boolean') throw invalidType('options.lock', 'boolean', o.lock);
  if (o.lockWaitMs !== undefined) checkInteger('options.lockWaitMs', o.lockWaitMs, 0, Number.MAX_SAFE_INTEGER);
}
