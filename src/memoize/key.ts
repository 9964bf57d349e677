// What goes into a tensorCache key, decided here and nowhere else (DESIGN.md, "Keys" and
// "Memoization"). The rule: whatever can change a result is in its key, or the call is refused
// with a TypeError that says how to declare it; the bytes a key is made of are the bytes the
// function receives.
//
//   sample key  = H(module hash, call shape and every non-row argument, the sample's row digests)
//   module hash = H(kind, code, method, instance identity, declared dependencies, storage format)
//
// - code: the function's source, or the source of every class on the instance's prototype chain
//   (its runtime class, each class between it and the decorated one, and their bases);
// - instance identity: constructor arguments (class form), own enumerable data properties at the
//   first call (method form), or what `instanceKey(self)` returns;
// - dependencies (`dependsOn`): values, files by content (contentOf), modelcache/ort sessions by
//   their cache key. Anything else a function reads (a closure's state) must be declared there.
// How arguments become the call's shape and row digests, captured before the call yields: rows.ts.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { Cache } from '../cache.js';
import { keysFromDigests } from '../cache/args.js';
import { invalidType } from '../errors.js';
import { hash, hashFile, hashRows } from '../hash.js';
import { codeDigest, encodeKey, encodeValue, Opaque, unportableError, type Unportable } from '../keys.js';
import { warn } from '../log.js';
import { FileMemo } from '../ort/filememo.js';
import type { CacheDtype } from './batch.js';
import { ENTRY_VERSION } from './entry.js';

/** Bumped when what a tensorCache key covers changes: entries written under older rules are never read. */
export const TENSORCACHE_KEY_VERSION = 2;
const MODULE_NAMESPACE = `tensorCache-module-v${TENSORCACHE_KEY_VERSION}`;

/** A file whose content results depend on: see {@link contentOf}. */
export class FileDependency {
  /** Absolute path of the file (resolved against the working directory when created); not part of the key, only the file's content is. */
  readonly path: string;
  constructor(path: string) {
    if (typeof path !== 'string' || path.length === 0) throw invalidType('path', 'path of a file (non-empty string)', path);
    this.path = resolve(path);
    Object.freeze(this);
  }
}

/**
 * Declares, in `dependsOn` or an `instanceKey` result, that results depend on the content of the
 * file at `path` (a model, a tokenizer): it is hashed when the wrapped function is first called
 * (an unchanged file is not re-read: a stat memo answers), so editing the file invalidates the
 * results. Its path is not part of the key: a moved file keeps its results.
 *
 * @example
 * tensorCache({ persistent: true, dependsOn: [contentOf('classifier.onnx')] })((x) => session.run({ x }))
 */
export function contentOf(path: string): FileDependency {
  return new FileDependency(path);
}

/** How to declare what a function reads, for messages. */
export const HINT_DEPENDS_ON = 'declare what the function depends on with the dependsOn option (values, contentOf(path) for files, sessions created by modelcache/ort)';
/** How to declare what an instance's results depend on, for messages. */
export const HINT_INSTANCE =
  'give the instanceKey(self) option, returning what identifies the instance (values, contentOf(path) for files, sessions created by modelcache/ort), and list what every instance reads in dependsOn';

const require = createRequire(import.meta.url);

/**
 * Whether `v` is an onnxruntime InferenceSession, without loading onnxruntime: a session can only
 * exist once the application loaded it (onnxruntime-node is an optional peer of modelcache/ort).
 */
function isOrtSession(v: object): boolean {
  let id: string;
  try {
    id = require.resolve('onnxruntime-node');
  } catch {
    return false;
  }
  const ctor = (require.cache[id]?.exports as { InferenceSession?: unknown } | undefined)?.InferenceSession;
  return typeof ctor === 'function' && v instanceof ctor;
}

/** What a first walk found that needs asynchronous work: files to hash, sessions to look up. */
interface Wanted {
  files: Set<string>;
  sessions: Set<object>;
}
/** Their answers: file content digests, session cache keys (undefined: not cached by modelcache/ort). */
interface Resolved {
  files: Map<string, string>;
  sessions: Map<object, string | { reason?: string } | undefined>;
}

/** A session, a file or a value: what a declared dependency may be. */
function dependencyStandIn(u: Unportable, path: string, hint: string, resolved: Resolved | undefined, wanted: Wanted): unknown {
  if (u.kind !== 'instance') throw unportableError(u, path, hint);
  if (u.value instanceof FileDependency) {
    const digest = resolved?.files.get(u.value.path);
    if (digest === undefined) wanted.files.add(u.value.path);
    // Content only: the same bytes under another name are the same dependency.
    return new Opaque('file', digest ?? '', '<file>');
  }
  if (!isOrtSession(u.value)) throw unportableError(u, path, hint);
  if (!resolved) {
    wanted.sessions.add(u.value);
    return new Opaque('ort-session', '', '<session>');
  }
  const key = resolved.sessions.get(u.value);
  if (typeof key === 'string') return new Opaque('ort-session', key, '<session>');
  const why = key?.reason ? `created uncached: ${key.reason}` : 'created by onnxruntime-node itself';
  throw invalidType(path, `a session created by modelcache/ort with caching on (keyed by its cache key), or the model file declared with contentOf(path); this one was ${why}`, u.value);
}

/**
 * Checks now that `value` can be keyed: a function or an unknown object is a TypeError naming its
 * path. Files are hashed, and sessions looked up, at the first call.
 */
export function checkIdentity(value: unknown, path: string, hint: string): void {
  const wanted: Wanted = { files: new Set(), sessions: new Set() };
  encodeValue(value, path, { hint, describe: (u, p) => dependencyStandIn(u, p, hint, undefined, wanted) });
}

/** The content digest of a file: through the cache's file memo when it has a disk tier. */
async function fileDigest(path: string, cache: Cache | undefined): Promise<string> {
  const disk = cache?.disk;
  if (disk) return (await FileMemo.of(cache!).facts(path)).hash;
  return hashFile(path);
}

/**
 * The digest of an identity (declared dependencies, constructor arguments, instance state):
 * values by canonical encoding, files by content, modelcache/ort sessions by their cache key.
 * Synchronous unless files must be hashed or sessions looked up.
 */
export function identityDigest(value: unknown, path: string, hint: string, cache: Cache | undefined): string | Promise<string> {
  const wanted: Wanted = { files: new Set(), sessions: new Set() };
  const encode = (resolved: Resolved | undefined) =>
    encodeValue(value, path, { hint, describe: (u, p) => dependencyStandIn(u, p, hint, resolved, wanted) });
  const first = encode(undefined);
  if (wanted.files.size === 0 && wanted.sessions.size === 0) return hash(first);
  return (async () => {
    const resolved: Resolved = { files: new Map(), sessions: new Map() };
    if (wanted.sessions.size > 0) {
      // Loaded only now: onnxruntime is already in the process, since a session exists.
      const { sessionCacheInfo } = await import('../ort/session.js');
      for (const s of wanted.sessions) {
        const info = sessionCacheInfo(s);
        resolved.sessions.set(s, info?.key ?? (info ? { reason: info.reason } : undefined));
      }
    }
    await Promise.all([...wanted.files].map(async (p) => resolved.files.set(p, await fileDigest(p, cache))));
    return hash(encode(resolved));
  })();
}

/** The digest of a function's code; refuses a function whose source JavaScript does not show. */
export function functionCode(fn: Function, name: string): string {
  const source = Function.prototype.toString.call(fn);
  // Bound and native functions all print as "[native code]": their code cannot be told apart.
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw invalidType(name, 'a function whose source is available (not a bound or built-in function): wrap it in an arrow function, or give options.moduleHash', fn);
  }
  return hash(source);
}

/** The code of the class of an instance: see {@link codeDigest}. */
export function instanceCode(self: object): string {
  return codeDigest(Object.getPrototypeOf(self));
}

/** The own enumerable data properties of an instance: its state, for the method form's key. */
export function instanceState(self: object): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const k of Object.keys(self)) {
    if (k === 'tensorcache') continue; // options, keyed by what they change
    const desc = Object.getOwnPropertyDescriptor(self, k)!;
    if ('value' in desc) state[k] = desc.value;
  }
  return state;
}

/** Everything a module hash covers. */
export interface ModuleIdentity {
  kind: 'function' | 'class' | 'method';
  /** Digest of the code (function source, or class chain). */
  code: string;
  method: string;
  /** Digest of the instance identity (class and method forms). */
  instance: string | null;
  /** Digest of `dependsOn`. */
  dependencies: string | null;
  cacheDtype: CacheDtype | undefined;
  /** `moduleHash` option: replaces code and instance identity (the caller answers for them). */
  fixed?: string;
}

/** The module hash: the namespace of every sample key of one function or instance. */
export function moduleHashOf(m: ModuleIdentity): string {
  const storage = { cacheDtype: m.cacheDtype ?? null, entryVersion: ENTRY_VERSION };
  if (m.fixed !== undefined) {
    warn('ERR_TENSORCACHE_FIXED_HASH', `tensorCache: fixed moduleHash ${JSON.stringify(m.fixed)}: code changes will not invalidate cached results`);
    return hash(encodeKey(MODULE_NAMESPACE, ['fixed', m.fixed, m.method, m.dependencies, storage]));
  }
  return hash(encodeKey(MODULE_NAMESPACE, [m.kind, m.code, m.method, m.instance, m.dependencies, storage]));
}

/**
 * The keys of the samples of a call: the prefix (module hash, call shape, non-row arguments) and
 * one 16-byte digest per row source per sample, hashed per sample in one native call.
 */
export function sampleKeys(moduleHash: string, shape: readonly unknown[], rowDigests: readonly Uint8Array[], batch: number): readonly string[] {
  const prefix = Buffer.from(hash(encodeKey(`tensorCache:${moduleHash}`, shape)), 'hex');
  const width = 16 * (1 + rowDigests.length);
  const combined = Buffer.allocUnsafe(batch * width);
  for (let i = 0; i < batch; i++) prefix.copy(combined, i * width);
  rowDigests.forEach((digests, j) => {
    const d = Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength);
    for (let i = 0; i < batch; i++) d.copy(combined, i * width + 16 * (1 + j), 16 * i, 16 * i + 16);
  });
  const keyDigests = Buffer.from(hashRows(combined, width).buffer);
  const keys = new Array<string>(batch);
  for (let i = 0; i < batch; i++) keys[i] = keyDigests.toString('hex', 16 * i, 16 * i + 16);
  return keysFromDigests(keys);
}
