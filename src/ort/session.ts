// InferenceSession.create with a compiled-session cache in front of it. A hit loads the cached
// optimized model (found from its key alone: no index is opened before it is found) with graph
// optimization off. A miss costs about a plain create: the caller gets onnxruntime's own session,
// and the entry is built by a child process and published in the background (`save.ts`). A
// damaged or unusable entry is deleted, warned about and rebuilt the same way.
import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import { logDebug, warn } from '../log.js';
import { NAMESPACES } from '../store/namespace.js';
import { parseArgs, type ModelArg } from './args.js';
import { FileMemo } from './filememo.js';
import { cpuInfo, platformId } from './fingerprint.js';
import { loadEntry, plainCreate, type HitContext, type HitResult, type Timings } from './hit.js';
import { identify, type Source } from './identity.js';
import { cachingSupport, conflictingOption, epName, SESSION_FORMAT, sessionKey } from './key.js';
import { checkCacheOption, type CheckedCacheOptions, type SessionCacheOptions } from './options.js';
import type { SaveStatus } from './save.js';
import { sessionStore } from './store.js';

/** Session options of onnxruntime-node plus the `cache` field (stripped before onnxruntime sees them). */
export interface CachedSessionOptions extends OrtSession.SessionOptions {
  /**
   * How to cache this session: `true` or omitted for the defaults (the default directory), an
   * object of {@link SessionCacheOptions}, an existing `Cache` (its tiers keep the entries), or
   * `false` for a plain onnxruntime session.
   */
  cache?: SessionCacheOptions | import('../cache.js').Cache | boolean;
}

/** What happened when a session was created. */
export type SessionCacheStatus = 'hit' | 'miss' | 'skipped' | 'rebuilt';

export type { SaveStatus };

/** Returned by {@link sessionCacheInfo}. Times are milliseconds. */
export interface SessionCacheInfo {
  /**
   * `'hit'`: loaded from the cache. `'miss'`: created by onnxruntime, the entry saved in the
   * background (see `save`). `'skipped'`: not cached at all (see `reason`: `cache: false`, an
   * execution provider that cannot be cached, an unreadable model...). `'rebuilt'`: the entry was
   * unusable (damaged, undecryptable, or not the form asked for), so it was deleted and is saved again as on a miss.
   */
  status: SessionCacheStatus;
  /** The cache key (absent when skipped before a key was computed). */
  key?: string;
  /** Why caching was skipped, or why the entry was rebuilt. */
  reason?: string;
  /** The `mode` of the cache option (`'speed'` or `'size'`); absent when caching was off or skipped before it was read. */
  mode?: 'speed' | 'size';
  /** The entry's form on a hit ('ort', 'onnx-prepacked' or 'onnx-weightless'). */
  format?: string;
  /** Bytes of the cache entry (on a hit, or once a miss's entry is saved). */
  entryBytes?: number;
  /** On a miss (or rebuild): how the background save of the entry goes, as of this call. */
  save?: SaveStatus;
  /** Where the time of the `create` call went, ms per phase (phases that did not run are 0). */
  timings: Timings;
}

const MAX_SINGLE_FILE = 1.9e9; // protobuf and flatbuffers both stop at 2 GiB
const NS = NAMESPACES.session;
const infos = new WeakMap<object, SessionCacheInfo>();

/** The cache outcome of a session created by this module's `create`, or undefined for other sessions. */
export function sessionCacheInfo(session: unknown): SessionCacheInfo | undefined {
  if (session === null || typeof session !== 'object') return undefined;
  const info = infos.get(session);
  if (!info) return undefined;
  const copy = structuredClone(info);
  if (copy.status !== 'hit' && info.save?.entryBytes !== undefined) copy.entryBytes = info.save.entryBytes;
  return copy;
}

const since = (t0: number) => performance.now() - t0;
const emptyTimings = (): Timings => ({ key: 0, lookup: 0, read: 0, load: 0, create: 0, save: 0, total: 0 });

function record(session: OrtSession, info: SessionCacheInfo, t0: number): OrtSession {
  info.timings.total = since(t0);
  infos.set(session, info);
  return session;
}

/** An uncached session, with the reason it is not cached. */
async function plain(model: ModelArg, options: Record<string, unknown>, reason: string, t0: number, extra: Partial<SessionCacheInfo> = {}): Promise<OrtSession> {
  const timings = extra.timings ?? emptyTimings();
  const session = await plainCreate(model, options, timings);
  return record(session, { ...extra, status: 'skipped', reason, timings }, t0);
}

/** The entry of the key found through the Cache: a write of this process not committed yet, or a shared tier's (downloaded). */
async function lookupThroughCache(ctx: HitContext): Promise<HitResult> {
  const t0 = performance.now();
  const entry = await (await ctx.store.cache()).getFiles(ctx.key, { namespace: NS, verify: false });
  ctx.timings.lookup += since(t0);
  return entry && entry.location === 'local' ? loadEntry(ctx, entry, false) : undefined;
}

async function dropDamaged(ctx: HitContext, why: string): Promise<string> {
  const reason = `cache entry ${ctx.key} was unusable: ${why}`;
  warn('ERR_CORRUPT', `${reason}; deleted it and rebuilding the session for ${ctx.source.label}`);
  try {
    (await ctx.store.cache()).disk?.delete(ctx.key, NS);
  } catch (err) {
    logDebug(`ort: could not delete damaged entry ${ctx.key}: ${(err as Error).message}`);
  }
  return reason;
}

/** The miss: a plain create now, the entry saved in the background (awaited with `cache.wait`). */
async function miss(ctx: HitContext, o: CheckedCacheOptions, rebuilt: string | undefined): Promise<{ session: OrtSession; info: Partial<SessionCacheInfo> }> {
  const session = await plainCreate(ctx.model, ctx.options, ctx.timings);
  const { saveEntry } = await import('./save.js');
  const eps = (ctx.options.executionProviders as unknown[] | undefined) ?? ['cpu'];
  const save = saveEntry({
    store: ctx.store,
    memo: ctx.memo,
    key: ctx.key,
    job: { model: ctx.model, options: ctx.options, mode: o.mode, format: o.format, encrypted: ctx.store.encrypts ?? false, external: ctx.source.external },
    meta: {
      format: SESSION_FORMAT, mode: o.mode, encrypted: ctx.store.encrypts ?? false, ortVersion: ctx.ortVersion,
      source: ctx.source.label, sourceBytes: ctx.source.identity.size, modelHash: ctx.source.identity.hash,
      executionProviders: eps.map(epName), graphOptimizationLevel: String(ctx.options.graphOptimizationLevel ?? 'all'),
      cpu: cpuInfo().model, platform: platformId(),
    },
  });
  if (o.wait) {
    const t = performance.now();
    await save.done;
    ctx.timings.save += since(t);
  }
  return { session, info: { status: rebuilt ? 'rebuilt' : 'miss', ...(rebuilt ? { reason: rebuilt } : {}), save: save.status } };
}

/**
 * `InferenceSession.create` of onnxruntime-node with the compiled-session cache: same overloads,
 * same options (plus `cache`), and the result is a real onnxruntime `InferenceSession`.
 */
export async function createSession(...args: unknown[]): Promise<OrtSession> {
  const t0 = performance.now();
  const { model, options: given } = parseArgs(args);
  const { cache: cacheOption, ...options } = given;
  const o = await checkCacheOption(cacheOption);
  if (o === false) return plain(model, options, 'disabled', t0);
  const support = cachingSupport(options.executionProviders as unknown[] | undefined);
  if (!support.supported) return plain(model, options, support.reason!, t0);
  const conflict = conflictingOption(options);
  if (conflict) return plain(model, options, conflict, t0);
  const store = sessionStore(o);
  if (store.dir === undefined) return plain(model, options, 'the cache has no disk tier to keep sessions in', t0, { mode: o.mode });

  const memo = new FileMemo(store);
  const timings = emptyTimings();
  const tk = performance.now();
  let source: Source;
  try {
    source = await identify(model, options, memo);
  } catch (err) {
    // Unreadable or not an ONNX model: onnxruntime's own error is the one the caller should see.
    return plain(model, options, `the model could not be identified (${(err as Error).message})`, t0, { mode: o.mode, timings });
  }
  if (source.identity.size > MAX_SINGLE_FILE) {
    return plain(model, options, `the model is ${source.identity.size} bytes: onnxruntime cannot save an optimized model over 2 GB as one file`, t0, { mode: o.mode, timings });
  }
  const { key, ortVersion } = sessionKey(source.identity, options, o.mode, o.format);
  timings.key = since(tk);

  const ctx: HitContext = { model, options, store, memo, key, mode: o.mode, ortVersion, source, timings };
  const tl = performance.now();
  const peeked = store.peek(NS, key);
  timings.lookup += since(tl);
  let hit: HitResult = peeked && 'damaged' in peeked ? peeked : peeked ? await loadEntry(ctx, peeked.entry, true) : undefined;
  // Not on disk: it may still be in this process's write queue, or in a shared tier.
  if (hit === undefined && store.mayHaveMore) hit = await lookupThroughCache(ctx);
  let session: OrtSession;
  let info: Partial<SessionCacheInfo>;
  if (hit && 'session' in hit) {
    session = hit.session;
    info = { status: 'hit', entryBytes: hit.entryBytes, format: hit.format };
  } else {
    const rebuilt = hit ? await dropDamaged(ctx, hit.damaged) : undefined;
    ({ session, info } = await miss(ctx, o, rebuilt));
  }
  return record(session, { ...info, status: info.status!, key, mode: o.mode, timings }, t0);
}

