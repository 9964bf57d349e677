// InferenceSession.create with a compiled-session cache in front of it. A miss creates the session
// with `optimizedModelFilePath` pointing into the cache's tmp/ and publishes that file atomically
// (the session just created is returned: no second creation); a hit loads the cached optimized
// model with graph optimization disabled, zero-copy from a memory map that lives as long as the
// session. Damaged entries are deleted and rebuilt; processes racing on an empty cache take a
// per-key lock so that one optimizes and the others load its result.
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import { toBytes } from '../bytes.js';
import { decryptAsync, encryptAsync, type Cipher } from '../cipher.js';
import { CacheError, invalidType, outOfRange } from '../errors.js';
import { treeHashAsync } from '../hash.js';
import { logDebug, warn } from '../log.js';
import { mapFile, type MappedFile } from '../mmap.js';
import type { DiskFile, DiskTier } from '../store/disk/tier.js';
import { FileMemo } from './filememo.js';
import { cpuInfo, platformId } from './fingerprint.js';
import { cachingSupport, conflictingOption, epName, flattenExtra, SESSION_FORMAT, sessionKey, type ModelIdentity } from './key.js';
import { acquireLock } from '../store/work.js';
import { externalLocations } from './onnx.js';
import { checkCacheOption, resolveCache, type SessionCacheOptions } from './options.js';
import { ort } from './runtime.js';
import { pointAtSourceFiles, restoreWeights, stripWeights, type SourceFiles } from './weightless.js';

/** Session options of onnxruntime-node plus the `cache` field (stripped before onnxruntime sees them). */
export interface CachedSessionOptions extends OrtSession.SessionOptions {
  /** How to cache this session, or `false` for a plain onnxruntime session. Default: cache in the default dir. */
  cache?: SessionCacheOptions | false;
}

/** What happened when a session was created. */
export type SessionCacheStatus = 'hit' | 'miss' | 'skipped' | 'rebuilt';

/** Returned by {@link sessionCacheInfo}. Times are milliseconds. */
export interface SessionCacheInfo {
  status: SessionCacheStatus;
  /** The cache key (absent when skipped before a key was computed). */
  key?: string;
  /** Why caching was skipped, or why the entry was rebuilt. */
  reason?: string;
  mode?: 'speed' | 'size';
  /** Bytes of the cache entry (on a hit or after publishing). */
  entryBytes?: number;
  timings: {
    /** Hashing the model (memo lookups on an unchanged file) and computing the key. */
    key: number;
    /** Looking the entry up in the index and checking its metadata (and, once per file version, its checksum). */
    lookup: number;
    /** Mapping the entry (or reading and decrypting it): raw onnxruntime pays this too to load the file. */
    map: number;
    /** Waiting for another process (or call) that was optimizing the same session. */
    wait: number;
    /** onnxruntime loading the cached model (hit). */
    load: number;
    /** onnxruntime creating and optimizing the session (miss). */
    create: number;
    /** Building and publishing the entry (miss). */
    save: number;
    total: number;
  };
}

/** Test and benchmark only: 'path' makes hits load the entry by path instead of from a memory map. */
export const TEST_HIT_LOAD_ENV = 'MODELCACHE_ORT_HIT_LOAD';

const SESSION_KIND = 'session';
const MAX_SINGLE_FILE = 1.9e9; // protobuf and flatbuffers both stop at 2 GiB

const infos = new WeakMap<object, SessionCacheInfo>();
// Memory an onnxruntime session reads from for as long as it lives (a map or a decrypted buffer).
const pinned = new WeakMap<object, { close(): void }>();
// Same-process creations of one key: the others wait for the first, then load its entry.
const inflight = new Map<string, Promise<void>>();

/** The cache outcome of a session created by this module's `create`, or undefined for other sessions. */
export function sessionCacheInfo(session: unknown): SessionCacheInfo | undefined {
  if (session === null || typeof session !== 'object') return undefined;
  const info = infos.get(session);
  return info && structuredClone(info);
}

/** The model a create() call names: a path or bytes. */
type ModelArg = { path: string } | { bytes: Uint8Array };

function parseArgs(args: unknown[]): { model: ModelArg; options: Record<string, unknown> } {
  const [arg0, arg1, arg2, arg3] = args;
  const opts = (v: unknown, name: string): Record<string, unknown> => {
    if (v === undefined) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidType(name, 'an options object', v);
    return v as Record<string, unknown>;
  };
  if (typeof arg0 === 'string') {
    if (arg0.length === 0) throw invalidType('path', 'non-empty string', arg0);
    return { model: { path: arg0 }, options: opts(arg1, 'options') };
  }
  if (arg0 instanceof Uint8Array) return { model: { bytes: arg0 }, options: opts(arg1, 'options') };
  if (arg0 instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && arg0 instanceof SharedArrayBuffer)) {
    const buffer = arg0 as ArrayBufferLike;
    if (typeof arg1 !== 'number') return { model: { bytes: new Uint8Array(buffer) }, options: opts(arg1, 'options') };
    if (!Number.isSafeInteger(arg1) || arg1 < 0 || arg1 >= buffer.byteLength) {
      throw outOfRange('byteOffset', `an integer in [0, ${buffer.byteLength})`, arg1);
    }
    let length = buffer.byteLength - arg1;
    // (buffer, byteOffset, undefined, options) keeps its options (onnxruntime would drop them).
    let optionsArg = arg2 === undefined ? arg3 : arg2;
    if (typeof arg2 === 'number') {
      if (!Number.isSafeInteger(arg2) || arg2 <= 0 || arg1 + arg2 > buffer.byteLength) {
        throw outOfRange('byteLength', `an integer in (0, ${buffer.byteLength - arg1}]`, arg2);
      }
      length = arg2;
      optionsArg = arg3;
    } else if (arg2 !== undefined) {
      throw invalidType('byteLength', 'number', arg2);
    }
    return { model: { bytes: new Uint8Array(buffer, arg1, length) }, options: opts(optionsArg, 'options') };
  }
  throw invalidType('the first argument', 'a model path (string), a Uint8Array or an ArrayBuffer', arg0);
}

function modelInput(m: ModelArg): string | Uint8Array {
  return 'path' in m ? m.path : m.bytes;
}

function since(t0: number): number {
  return performance.now() - t0;
}

function emptyTimings(): SessionCacheInfo['timings'] {
  return { key: 0, lookup: 0, map: 0, wait: 0, load: 0, create: 0, save: 0, total: 0 };
}

function unlinkQuietly(path: string | undefined): void {
  if (!path) return;
  try {
    unlinkSync(path);
  } catch {
    /* never created or already moved */
  }
}

/** An invalid session option (onnxruntime throws TypeError / RangeError for those, Error for models). */
function isOptionError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError;
}

/** Makes `session.release()` also free the memory the session was reading from. */
function pin(session: OrtSession, resource: { close(): void }): void {
  pinned.set(session, resource);
  const release = session.release.bind(session);
  Object.defineProperty(session, 'release', {
    configurable: true,
    writable: true,
    value: async () => {
      try {
        await release();
      } finally {
        pinned.get(session)?.close();
        pinned.delete(session);
      }
    },
  });
}

// ------------------------------------------------------------------------------------ model identity

interface Source {
  identity: ModelIdentity;
  /** Where each external data location was found (a file path or in-memory bytes). */
  external: { location: string; path?: string; bytes?: Uint8Array }[];
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

async function identify(model: ModelArg, options: Record<string, unknown>, memo: FileMemo): Promise<Source> {
  let hash: string;
  let size: number;
  let locations: string[];
  let baseDir: string;
  if ('path' in model) {
    const facts = await memo.facts(model.path, 'onnx-model', (p) => {
      const m = mapFile(p);
      try {
        return { external: externalLocations(m.buffer) };
      } finally {
        m.close();
      }
    });
    hash = facts.hash;
    size = facts.size;
    locations = (facts.extra?.external as string[] | undefined) ?? [];
    baseDir = dirname(resolve(model.path));
  } else {
    hash = await treeHashAsync(model.bytes);
    size = model.bytes.byteLength;
    locations = externalLocations(model.bytes);
    const folder = flattenExtra(options.extra)['session.model_external_initializers_file_folder_path'];
    baseDir = typeof folder === 'string' ? resolve(folder) : process.cwd();
  }
  const inMemory = inMemoryExternal(options);
  const external: Source['external'] = [];
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

/**
 * The source folder and the names its files go by there, when onnxruntime can read a weightless
 * entry's references in place: a model file whose external data are files beside it (relative
 * locations that stay inside its folder). Otherwise (bytes, in-memory external data) undefined.
 */
function sourceFolder(ctx: Context): { dir: string; names: string[] } | undefined {
  if (!('path' in ctx.model)) return undefined;
  const names = [basename(ctx.model.path)];
  for (const e of ctx.source.external) {
    if (!e.path || isAbsolute(e.location) || normalize(e.location).startsWith('..')) return undefined;
    names.push(e.location);
  }
  return { dir: dirname(resolve(ctx.model.path)), names };
}

/** Maps the source files a weightless entry refers to; `close()` unmaps them. */
function openSources(model: ModelArg, src: Source): SourceFiles & { close(): void } {
  const maps: MappedFile[] = [];
  const open = (path: string) => {
    const m = mapFile(path);
    maps.push(m);
    return m.buffer;
  };
  try {
    const bytes = ['path' in model ? open(model.path) : model.bytes, ...src.external.map((e) => e.bytes ?? open(e.path!))];
    return { bytes, locations: src.external.map((e) => e.location), close: () => maps.forEach((m) => m.close()) };
  } catch (err) {
    maps.forEach((m) => m.close());
    throw err;
  }
}

// ------------------------------------------------------------------------------------ entry metadata

/** Metadata stored beside a session entry (`modelcache sessions` shows it). */
export interface SessionEntryMeta {
  format: number;
  mode: 'speed' | 'size';
  /** 'ort' (flatbuffers, loaded zero-copy) or 'onnx' (weightless entries). */
  modelFormat: 'ort' | 'onnx';
  encrypted: boolean;
  ortVersion: string;
  source: string;
  sourceBytes: number;
  modelHash: string;
  executionProviders: string[];
  graphOptimizationLevel: string;
  cpu: string;
  platform: string;
  /** Mode 'size': bytes of the source's weights the entry refers to instead of storing. */
  referencedBytes?: number;
}

function entryMetaProblem(meta: unknown, want: { mode: string; encrypted: boolean; ortVersion: string }): string | undefined {
  const m = meta as Partial<SessionEntryMeta> | undefined;
  if (!m || m.format !== SESSION_FORMAT) return `it has entry format ${m?.format ?? 'unknown'}, this modelcache reads format ${SESSION_FORMAT}`;
  if (m.ortVersion !== want.ortVersion) return `it was built by onnxruntime ${m.ortVersion}, this is ${want.ortVersion}`;
  if (m.mode !== want.mode) return `it is a '${m.mode}' entry, '${want.mode}' was asked for`;
  if (m.encrypted !== want.encrypted) return m.encrypted ? 'it is encrypted and no encryption was given' : 'it is not encrypted and encryption was asked for';
  return undefined;
}

// ------------------------------------------------------------------------------------ create

interface Context {
  model: ModelArg;
  options: Record<string, unknown>;
  disk: DiskTier;
  memo: FileMemo;
  mode: 'speed' | 'size';
  encryption: Cipher | undefined;
  source: Source;
  key: string;
  ortVersion: string;
  timings: SessionCacheInfo['timings'];
}

/** Options for loading a cached entry: the caller's, with optimization off and the entry's format. */
function hitOptions(options: Record<string, unknown>, format: 'ort' | 'onnx', direct: boolean): Record<string, unknown> {
  const { externalData: _unused, ...rest } = options;
  const extra: Record<string, unknown> = { ...flattenExtra(options.extra) };
  if (format === 'ort') {
    extra['session.load_model_format'] = 'ORT';
    if (direct) {
      // The flatbuffer (and its weights) are used where they are: the mapped file. No copy.
      extra['session.use_ort_model_bytes_directly'] = '1';
      extra['session.use_ort_model_bytes_for_initializers'] = '1';
    }
  }
  return { ...rest, graphOptimizationLevel: 'disabled', extra };
}

type HitResult = { session: OrtSession; entryBytes: number } | { damaged: string } | undefined;

/** Loads the entry of `ctx.key`, if there is one. A present but unusable entry is reported as damaged. */
async function tryHit(ctx: Context): Promise<HitResult> {
  const t0 = performance.now();
  const { disk, key } = ctx;
  const info = disk.info(key);
  if (!info) {
    ctx.timings.lookup += since(t0);
    return undefined;
  }
  const encrypted = ctx.encryption !== undefined;
  const problem = entryMetaProblem(info.meta, { mode: ctx.mode, encrypted, ortVersion: ctx.ortVersion });
  if (problem) return { damaged: problem };
  const meta = info.meta as unknown as SessionEntryMeta;

  // A file verified once (checksum) is trusted while its stat is unchanged: files under blobs/ are
  // never rewritten, so a changed stat means damage or tampering, and a full re-hash then.
  let file: DiskFile | undefined;
  let verifiedNow = false;
  const byPath = process.env[TEST_HIT_LOAD_ENV] === 'path' && !encrypted && meta.modelFormat === 'ort';
  const wantMap = !encrypted && !byPath;
  file = await disk.getFile(key, { verify: false });
  if (file && !encrypted && !ctx.memo.isVerified(file.path)) {
    // Encrypted entries are authenticated by their cipher; plain ones are checked here once.
    file = await disk.getFile(key, { verify: true });
    verifiedNow = file !== undefined;
  }
  if (!file) return { damaged: 'its file is missing or failed its checksum' };
  ctx.timings.lookup += since(t0);

  const tm = performance.now();
  let bytes: Uint8Array | undefined;
  let resource: { close(): void } | undefined;
  try {
    if (encrypted) {
      bytes = await decryptAsync(await readFile(file.path), ctx.encryption!);
    } else if (wantMap) {
      const mapped = mapFile(file.path);
      bytes = mapped.buffer;
      resource = { close: () => mapped.close() };
    }
  } catch (err) {
    // Evicted by another process between the index read and the open: simply a miss.
    if (!disk.has(key)) return undefined;
    return { damaged: `it cannot be read (${(err as Error).message})` };
  }
  ctx.timings.map += since(tm);

  const t1 = performance.now();
  let session: OrtSession;
  try {
    if (meta.modelFormat === 'onnx') {
      const entry = bytes ?? readFileSync(file.path);
      const folder = sourceFolder(ctx);
      if (folder) {
        // onnxruntime reads the unchanged weights from the source files themselves.
        const graph = pointAtSourceFiles(entry, folder.names);
        const options = hitOptions(ctx.options, 'onnx', false);
        (options.extra as Record<string, unknown>)['session.model_external_initializers_file_folder_path'] = folder.dir;
        session = await ort.InferenceSession.create(graph, options);
      } else {
        const src = openSources(ctx.model, ctx.source);
        try {
          session = await ort.InferenceSession.create(restoreWeights(entry, src), hitOptions(ctx.options, 'onnx', false));
        } finally {
          src.close();
        }
      }
      resource?.close(); // onnxruntime copied the graph (and reads the source files itself)
      resource = undefined;
    } else if (bytes) {
      session = await ort.InferenceSession.create(bytes, hitOptions(ctx.options, 'ort', true));
      // A decrypted buffer must stay alive too: onnxruntime reads the weights from it.
      const keep = bytes;
      resource ??= { close: () => void keep };
    } else {
      session = await ort.InferenceSession.create(file.path, hitOptions(ctx.options, 'ort', false));
    }
  } catch (err) {
    resource?.close();
    // onnxruntime validates options before it reads the model: the caller's mistake, not the entry's.
    if (isOptionError(err)) throw err;
    return { damaged: `onnxruntime could not load it (${(err as Error).message.split('\n')[0]})` };
  }
  ctx.timings.load += since(t1);
  if (resource) pin(session, resource);
  if (verifiedNow) await ctx.memo.markVerified(file.path);
  void disk.flushAccess(); // "last used" for `modelcache sessions` and the LRU, even if the process ends soon
  return { session, entryBytes: info.size };
}

/** Creates the session from the source model, saving the optimized model; publishes it. */
async function build(ctx: Context): Promise<{ session: OrtSession; skipped?: string; entryBytes?: number }> {
  const { disk, mode } = ctx;
  const saved = disk.tmpPath(mode === 'speed' ? '.ort' : '.onnx');
  const extra = { ...flattenExtra(ctx.options.extra), 'session.save_model_format': mode === 'speed' ? 'ORT' : 'ONNX' };
  const t0 = performance.now();
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(modelInput(ctx.model) as string, { ...ctx.options, optimizedModelFilePath: saved, extra });
  } catch (err) {
    unlinkQuietly(saved);
    if (isOptionError(err)) throw err;
    // Saving may be what failed (a provider that cannot serialize, a model too large for one file):
    // the caller still gets a session, uncached; a model that does not load fails as it would uncached.
    const plain = await ort.InferenceSession.create(modelInput(ctx.model) as string, ctx.options);
    ctx.timings.create += since(t0);
    return { session: plain, skipped: `onnxruntime could not save the optimized model (${(err as Error).message.split('\n')[0]})` };
  }
  ctx.timings.create += since(t0);

  const t1 = performance.now();
  const files = [saved];
  try {
    if (!existsSync(saved)) return { session, skipped: 'onnxruntime wrote no optimized model for this session' };
    let entryPath = saved;
    let referencedBytes: number | undefined;
    if (mode === 'size') {
      const src = openSources(ctx.model, ctx.source);
      try {
        const optimized = readFileSync(saved);
        const { model, stats } = stripWeights(optimized, src);
        referencedBytes = stats.referencedBytes;
        entryPath = disk.tmpPath('.onnx');
        files.push(entryPath);
        writeFileSync(entryPath, model, { mode: 0o600 });
      } finally {
        src.close();
      }
    }
    if (ctx.encryption) {
      const sealed = await encryptAsync(readFileSync(entryPath), ctx.encryption);
      entryPath = disk.tmpPath('.enc');
      files.push(entryPath);
      writeFileSync(entryPath, sealed, { mode: 0o600 });
    }
    const meta: SessionEntryMeta = {
      format: SESSION_FORMAT,
      mode,
      modelFormat: mode === 'speed' ? 'ort' : 'onnx',
      encrypted: ctx.encryption !== undefined,
      ortVersion: ctx.ortVersion,
      source: ctx.source.label,
      sourceBytes: ctx.source.identity.size,
      modelHash: ctx.source.identity.hash,
      executionProviders: ((ctx.options.executionProviders as unknown[] | undefined) ?? ['cpu']).map(epName),
      graphOptimizationLevel: String(ctx.options.graphOptimizationLevel ?? 'all'),
      cpu: cpuInfo().model,
      platform: platformId(),
      ...(referencedBytes !== undefined ? { referencedBytes } : {}),
    };
    const entryBytes = statSync(entryPath).size;
    const ok = await disk.putFile(ctx.key, entryPath, { kind: SESSION_KIND, meta: meta as unknown as Record<string, unknown> });
    if (!ok) return { session, skipped: `the disk tier refused the ${entryBytes}-byte entry (larger than its limit of ${disk.maxBytes} bytes, or a write error)` };
    if (!ctx.encryption) {
      // We wrote these bytes a moment ago: no need to re-hash them on the first hit.
      const published = await disk.getFile(ctx.key, { verify: false });
      if (published) await ctx.memo.markVerified(published.path);
    }
    return { session, entryBytes };
  } catch (err) {
    return { session, skipped: `the optimized model could not be stored (${(err as Error).message})` };
  } finally {
    for (const f of files) unlinkQuietly(f);
    ctx.timings.save += since(t1);
  }
}

/** Miss path: one optimizer per key across calls of this process and across processes. */
async function missOrWait(ctx: Context, rebuiltReason: string | undefined): Promise<{ session: OrtSession; info: Partial<SessionCacheInfo> }> {
  const { key, disk } = ctx;
  for (;;) {
    const running = inflight.get(key);
    if (!running) break;
    const t = performance.now();
    await running.catch(() => {});
    ctx.timings.wait += since(t);
    const hit = await tryHit(ctx);
    if (hit && 'session' in hit) return { session: hit.session, info: { status: 'hit', entryBytes: hit.entryBytes } };
  }
  let done!: () => void;
  const signal = new Promise<void>((r) => (done = r));
  inflight.set(key, signal);
  const tw = performance.now();
  const lockPath = join(dirname(disk.tmpPath()), `lock-${key}`);
  let got;
  try {
    mkdirSync(dirname(lockPath), { recursive: true });
    got = await acquireLock(lockPath, { ready: () => disk.has(key) });
  } catch (err) {
    logDebug(`ort: lock ${lockPath} unavailable (${(err as Error).message}); optimizing without it`);
    got = { ready: false, waitedMs: since(tw), recovered: false };
  }
  ctx.timings.wait += got.waitedMs;
  try {
    if (got.ready || (got.lock && disk.has(key))) {
      // Another process published it while we waited (or just before we got the lock).
      const hit = await tryHit(ctx);
      if (hit && 'session' in hit) return { session: hit.session, info: { status: 'hit', entryBytes: hit.entryBytes } };
      if (hit) rebuiltReason = await dropDamaged(ctx, hit.damaged);
    }
    const built = await build(ctx);
    if (built.skipped) return { session: built.session, info: { status: 'skipped', reason: built.skipped } };
    return {
      session: built.session,
      info: { status: rebuiltReason ? 'rebuilt' : 'miss', ...(rebuiltReason ? { reason: rebuiltReason } : {}), entryBytes: built.entryBytes },
    };
  } finally {
    got.lock?.release();
    inflight.delete(key);
    done();
  }
}

async function dropDamaged(ctx: Context, why: string): Promise<string> {
  const reason = `cache entry ${ctx.key} was unusable: ${why}`;
  warn('ERR_CORRUPT', `${reason}; deleted it and rebuilding the session for ${ctx.source.label}`);
  try {
    await ctx.disk.delete(ctx.key);
  } catch (err) {
    logDebug(`ort: could not delete damaged entry ${ctx.key}: ${(err as Error).message}`);
  }
  return reason;
}

async function plain(model: ModelArg, options: Record<string, unknown>, reason: string, t0: number, extra: Partial<SessionCacheInfo> = {}): Promise<OrtSession> {
  const timings = { ...emptyTimings(), ...extra.timings };
  const tc = performance.now();
  const session = await ort.InferenceSession.create(modelInput(model) as string, options);
  timings.create = since(tc);
  timings.total = since(t0);
  infos.set(session, { ...extra, status: 'skipped', reason, timings });
  return session;
}

/**
 * `InferenceSession.create` of onnxruntime-node with the compiled-session cache: same overloads,
 * same options (plus `cache`), and the result is a real onnxruntime `InferenceSession`.
 */
export async function createSession(...args: unknown[]): Promise<OrtSession> {
  const t0 = performance.now();
  const { model, options: given } = parseArgs(args);
  const { cache: cacheOption, ...options } = given;
  const cacheOpts = checkCacheOption(cacheOption);
  if (cacheOpts === false) return plain(model, options, 'disabled', t0);

  const support = cachingSupport(options.executionProviders as unknown[] | undefined);
  if (!support.supported) return plain(model, options, support.reason!, t0);
  const conflict = conflictingOption(options);
  if (conflict) return plain(model, options, conflict, t0);

  const resolved = resolveCache(cacheOpts);
  if (!resolved.disk) return plain(model, options, 'the cache has no disk tier to keep sessions in', t0, { mode: resolved.mode });
  const disk = resolved.disk;
  const memo = new FileMemo(disk);
  const timings = emptyTimings();

  const tk = performance.now();
  let source: Source;
  try {
    source = await identify(model, options, memo);
  } catch (err) {
    // Unreadable or not an ONNX model: onnxruntime's own error is the one the caller should see.
    return plain(model, options, `the model could not be identified (${(err as Error).message})`, t0, { mode: resolved.mode });
  }
  if (source.identity.size > MAX_SINGLE_FILE) {
    return plain(model, options, `the model is ${source.identity.size} bytes: onnxruntime cannot save an optimized model over 2 GB as one file`, t0, { mode: resolved.mode });
  }
  const { key, ortVersion } = sessionKey(source.identity, options, resolved.mode);
  timings.key = since(tk);

  const ctx: Context = { model, options, disk, memo, mode: resolved.mode, encryption: resolved.encryption, source, key, ortVersion, timings };
  let session: OrtSession;
  let info: Partial<SessionCacheInfo>;
  const hit = await tryHit(ctx);
  if (hit && 'session' in hit) {
    session = hit.session;
    info = { status: 'hit', entryBytes: hit.entryBytes };
  } else {
    const rebuilt = hit ? await dropDamaged(ctx, hit.damaged) : undefined;
    ({ session, info } = await missOrWait(ctx, rebuilt));
  }
  timings.total = since(t0);
  infos.set(session, { ...info, status: info.status!, key, mode: resolved.mode, timings });
  return session;
}
