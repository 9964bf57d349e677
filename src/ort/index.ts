// `modelcache/ort`: a drop-in for onnxruntime-node's InferenceSession whose `create` caches the
// optimized (compiled) model, so later starts skip graph optimization. onnxruntime-node is a peer
// dependency of this entry point only: `import 'modelcache'` never loads it. What only a miss,
// the CLI or a shared tier needs (the storage stack, lmdb-js, child processes) is loaded on demand.
import type { InferenceSession as OrtInferenceSession } from 'onnxruntime-node';
import { cachingSupport } from './key.js';
import { ort } from './runtime.js';
import { createSession, type CachedSessionOptions } from './session.js';
import { closeSessionStores } from './store.js';

export { sessionCacheInfo, type SessionCacheInfo, type SessionCacheStatus, type CachedSessionOptions, type SaveStatus } from './session.js';
export type { SessionEntryMeta, EntryFormat } from './format.js';
export type { Timings as SessionTimings } from './hit.js';
export type { SessionCacheOptions, EntryFormatOption } from './options.js';

/** An onnxruntime-node `InferenceSession` (the type of what {@link InferenceSession.create} returns). */
export type InferenceSession = OrtInferenceSession;

/** The `create` overloads of onnxruntime-node, with the `cache` option. */
export interface InferenceSessionFactory {
  /**
   * Creates a session from a model file. On a hit, the cached optimized model is loaded with graph
   * optimization disabled; on a miss, the caller gets onnxruntime's own session and the optimized
   * model is saved in the background (see {@link sessionCacheInfo}'s `save`).
   *
   * @example
   * import { InferenceSession } from 'modelcache/ort';
   * const session = await InferenceSession.create('model.onnx', { executionProviders: ['cpu'], cache: { dir: '.cache' } });
   */
  create(path: string, options?: CachedSessionOptions): Promise<OrtInferenceSession>;
  /** Creates a session from model bytes (hashed on every call: there is no file whose version could be remembered). */
  create(buffer: Uint8Array, options?: CachedSessionOptions): Promise<OrtInferenceSession>;
  /** Creates a session from a range of an ArrayBuffer. */
  create(buffer: ArrayBufferLike, byteOffset: number, byteLength?: number, options?: CachedSessionOptions): Promise<OrtInferenceSession>;
  /** Creates a session from a whole ArrayBuffer. */
  create(buffer: ArrayBufferLike, options?: CachedSessionOptions): Promise<OrtInferenceSession>;
  /** `session instanceof InferenceSession` holds for onnxruntime-node sessions. */
  [Symbol.hasInstance](value: unknown): boolean;
}

/**
 * Drop-in for onnxruntime-node's `InferenceSession`: `create` takes the same arguments plus
 * `options.cache`, and returns a real onnxruntime-node `InferenceSession`.
 */
export const InferenceSession: InferenceSessionFactory = Object.freeze({
  create: createSession as InferenceSessionFactory['create'],
  [Symbol.hasInstance]: (value: unknown) => value instanceof (ort.InferenceSession as unknown as new () => object),
});

/**
 * Whether sessions on these execution providers can be cached: onnxruntime must be able to save
 * their optimized graph as a model that loads again. True for CPU (and for no list, which means
 * CPU); false for GPU and NPU providers, whose optimized graphs embed device-specific nodes or
 * compiled blobs. Such sessions are created uncached, with `status: 'skipped'` and the reason.
 */
export function supportsCaching(executionProviders?: readonly OrtInferenceSession.ExecutionProviderConfig[]): boolean {
  return cachingSupport(executionProviders).supported;
}

/**
 * Waits for every entry this process is saving in the background and for pending access records,
 * then closes the caches the session cache opened (a `Cache` passed in `options.cache` stays open).
 * Optional: a process that simply exits leaves its cache consistent (a save it interrupts leaves
 * nothing behind).
 */
export async function closeSessionCaches(): Promise<void> {
  const { savesSettled } = await import('./save.js');
  await savesSettled();
  await closeSessionStores();
}

/** onnxruntime-node's `Tensor`, re-exported so that `modelcache/ort` can replace the import entirely. */
export const Tensor = ort.Tensor;
/** onnxruntime-node's `Tensor` type. */
export type Tensor = import('onnxruntime-node').Tensor;
/** onnxruntime-node's `env` (log level, versions). */
export const env = ort.env;
