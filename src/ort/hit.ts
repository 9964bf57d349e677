// The hit path: an entry found (by a peek at its head, or through the Cache) is checked against
// the request, its files are verified once per file version (an encrypted entry is authenticated
// by its cipher instead), and onnxruntime loads it in its own form with graph optimization off.
// Anything wrong with the entry is reported as damage, never loaded.
import { readFileSync } from 'node:fs';
import type { InferenceSession as OrtSession } from 'onnxruntime-node';
import type { CacheFileEntry } from '../cache.js';
import { NAMESPACES } from '../store/namespace.js';
import type { LocalFileEntry } from '../store/tier.js';
import { modelInput, type ModelArg } from './args.js';
import type { FileMemo } from './filememo.js';
import { ENTRY_MODEL, entryMetaProblem, loadOptions, type EntryFormat, type SessionEntryMeta } from './format.js';
import type { Source } from './identity.js';
import { ort } from './runtime.js';
import type { SessionStore } from './store.js';

/** Where the time of a create went, ms (`SessionCacheInfo.timings`). */
export interface Timings {
  /** Hashing the model (memo lookups on an unchanged file) and computing the key. */
  key: number;
  /** Finding the entry and checking it (its metadata; once per file version, its checksums). */
  lookup: number;
  /** Reading and decrypting an encrypted entry. */
  read: number;
  /** onnxruntime loading the cached model (hit). */
  load: number;
  /** onnxruntime creating the session from the source model (miss, skipped). */
  create: number;
  /** Waiting for the save of a missed entry (only with `cache.wait`). */
  save: number;
  /** The whole `create` call, from its start to the session returned. */
  total: number;
}

export interface HitContext {
  model: ModelArg;
  options: Record<string, unknown>;
  store: SessionStore;
  memo: FileMemo;
  key: string;
  mode: 'speed' | 'size';
  ortVersion: string;
  source: Source;
  timings: Timings;
}

export type HitResult = { session: OrtSession; entryBytes: number; format: EntryFormat } | { damaged: string } | undefined;

const NS = NAMESPACES.session;
// Memory a session reads from for as long as it lives (a decrypted entry).
const pinned = new WeakMap<object, Uint8Array>();

const since = (t0: number) => performance.now() - t0;
const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/** An invalid session option (onnxruntime throws TypeError / RangeError for those, Error for models). */
export function isOptionError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError;
}

/** Keeps `bytes` alive as long as `session`, and lets `session.release()` drop them. */
function pin(session: OrtSession, bytes: Uint8Array): void {
  pinned.set(session, bytes);
  const release = session.release.bind(session);
  Object.defineProperty(session, 'release', {
    configurable: true,
    writable: true,
    value: async () => {
      try {
        await release();
      } finally {
        pinned.delete(session);
      }
    },
  });
}

/** Checks the plain files of a local entry against their recorded hashes, once per file version. */
async function verifiedOnce(ctx: HitContext, entry: LocalFileEntry | CacheFileEntry): Promise<boolean> {
  const files = entry.files as { path?: string; hash: string }[];
  if (files.every((f) => f.path !== undefined && ctx.memo.isVerified(f.path))) return true;
  // The tier hashes every file and drops the entry when one does not match.
  const checked = await (await ctx.store.cache()).getFiles(ctx.key, { namespace: NS, verify: true, download: false });
  if (!checked || checked.location !== 'local') return false;
  for (const f of checked.files) if (f.path) ctx.memo.markVerified(f.path, f.hash);
  return true;
}

/** The bytes of an encrypted entry's model file, decrypted by the Cache. */
async function decrypted(ctx: HitContext, entry: LocalFileEntry | CacheFileEntry, name: string): Promise<Buffer | undefined> {
  const e = 'read' in entry ? entry : await (await ctx.store.cache()).getFiles(ctx.key, { namespace: NS, verify: false, download: false });
  return e?.read(name);
}

async function create(ctx: HitContext, format: EntryFormat, path: string | undefined, bytes: Buffer | undefined): Promise<OrtSession> {
  if (format === 'onnx-weightless') {
    const [{ openSources, sourceFolder }, { pointAtSourceFiles, restoreWeights }] = await Promise.all([import('./sources.js'), import('./weightless.js')]);
    const graph = bytes ?? readFileSync(path!);
    const folder = sourceFolder(ctx.model, ctx.source.external);
    if (folder) {
      // onnxruntime reads the unchanged weights from the source files themselves.
      const options = loadOptions(format, ctx.options, false);
      (options.extra as Record<string, unknown>)['session.model_external_initializers_file_folder_path'] = folder.dir;
      return ort.InferenceSession.create(pointAtSourceFiles(graph, folder.names), options);
    }
    const src = openSources(ctx.model, ctx.source.external);
    try {
      return await ort.InferenceSession.create(restoreWeights(graph, src), loadOptions(format, ctx.options, false));
    } finally {
      src.close();
    }
  }
  if (bytes) {
    const session = await ort.InferenceSession.create(bytes, loadOptions(format, ctx.options, true));
    pin(session, bytes); // onnxruntime reads the weights from these bytes in place
    return session;
  }
  return ort.InferenceSession.create(path!, loadOptions(format, ctx.options, false));
}

/**
 * Loads a found entry. `peeked`: found by a peek (its access is then recorded through the Cache in
 * the background). Undefined when the entry went away meanwhile (evicted: a miss).
 */
export async function loadEntry(ctx: HitContext, entry: LocalFileEntry | CacheFileEntry, peeked: boolean): Promise<HitResult> {
  const t0 = performance.now();
  const problem = entryMetaProblem(entry.meta, entry.files, { mode: ctx.mode, encrypted: ctx.store.encrypts, ortVersion: ctx.ortVersion });
  if (problem) return { damaged: problem };
  const format = (entry.meta as unknown as SessionEntryMeta).entryFormat;
  const name = ENTRY_MODEL[format];
  let bytes: Buffer | undefined;
  let readMs = 0;
  if (entry.encrypted) {
    const tr = performance.now();
    try {
      bytes = await decrypted(ctx, entry, name);
    } catch (err) {
      return { damaged: `it cannot be read (${firstLine(err)})` };
    }
    if (!bytes) return undefined;
    readMs = since(tr);
  } else if (!(await verifiedOnce(ctx, entry))) {
    return { damaged: 'its files do not match their recorded hashes' };
  }
  ctx.timings.read += readMs;
  ctx.timings.lookup += since(t0) - readMs;
  const tl = performance.now();
  let session: OrtSession;
  try {
    session = await create(ctx, format, entry.files.find((f) => f.name === name)?.path, bytes);
  } catch (err) {
    // onnxruntime validates options before it reads the model: the caller's mistake, not the entry's.
    if (isOptionError(err)) throw err;
    return { damaged: `onnxruntime could not load it (${firstLine(err)})` };
  }
  ctx.timings.load += since(tl);
  if (peeked) ctx.store.recordHit(NS, ctx.key);
  return { session, entryBytes: entry.size, format };
}

/** Onnxruntime's own create of the caller's model, timed (the miss and uncached paths). */
export async function plainCreate(model: ModelArg, options: Record<string, unknown>, timings: Timings): Promise<OrtSession> {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(modelInput(model) as string, options);
  timings.create += since(t0);
  return session;
}
