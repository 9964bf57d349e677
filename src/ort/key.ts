// What a session key is made of, and which session options belong in it. An option is in the key
// when it can change the optimized graph or the kernels chosen for it; options that only steer
// how the loaded session runs (threads, arenas, logging, profiling) are left out so that they
// never cause a miss (they still reach onnxruntime on a hit: every option is passed through).
//
//   in the key                     why
//   executionProviders (+options)  partitioning, EP-specific fusions and layouts
//   graphOptimizationLevel         which transformers ran (default 'all', as onnxruntime's)
//   freeDimensionOverrides         shapes known at optimization time enable folding
//   extra (session config entries) optimizer switches (optimization.*, session.disable_*,
//                                  mlas.*, ...); only known run-time-only entries are left out
//   any option not listed here     unknown to us, so assumed to matter
//
//   left out                       intraOpNumThreads, interOpNumThreads, executionMode,
//                                  enableCpuMemArena, enableMemPattern, logId, logSeverityLevel,
//                                  logVerbosityLevel, enableProfiling, profileFilePrefix,
//                                  preferredOutputLocation, enableGraphCapture
//   model identity (separately)    externalData (by content), the model bytes
//
// Options that would fight the cache's own use of onnxruntime (optimizedModelFilePath, the save /
// load format entries, EP context generation) turn caching off for that session with a reason.
import { cacheKey } from '../keys.js';
import { cpuFingerprint, platformId } from './fingerprint.js';
import { ortVersion } from './runtime.js';

/** Bumped whenever the layout of session entries changes: old entries are then never found. */
export const SESSION_FORMAT = 2;
export const SESSION_NAMESPACE = 'modelcache/ort/session';

const RUNTIME_ONLY_OPTIONS = new Set([
  'intraOpNumThreads',
  'interOpNumThreads',
  'executionMode',
  'enableCpuMemArena',
  'enableMemPattern',
  'logId',
  'logSeverityLevel',
  'logVerbosityLevel',
  'enableProfiling',
  'profileFilePrefix',
  'preferredOutputLocation',
  'enableGraphCapture',
]);

/** Options handled on their own (not copied into the key as they are). */
const SPECIAL_OPTIONS = new Set(['executionProviders', 'graphOptimizationLevel', 'extra', 'externalData', 'optimizedModelFilePath']);

/** Config entries that only affect running (threads, logging, profiling, allocators). */
const RUNTIME_ONLY_EXTRA = [
  /^session\.(intra|inter)_op\./,
  /^session\.(intra|inter)_op_num_threads$/,
  /^session\.log_/,
  /^session\.enable_profiling$/,
  /^session\.force_spinning_stop$/,
  /^session\.collect_node_memory_stats_to_file$/,
  /^session\.use_env_allocators$/,
  /^session\.use_per_session_threads$/,
  /^session\.enable_cpu_mem_arena$/,
  /^session\.enable_mem_pattern$/,
  /^session\.execution_mode$/,
  /^session\.set_denormal_as_zero$/,
];

/** Config entries the cache sets itself; a session that sets them is not cached. */
const OWNED_EXTRA = [
  /^session\.save_model_format$/,
  /^session\.load_model_format$/,
  /^session\.use_ort_model_bytes_/,
  /^session\.use_memory_mapped_ort_model$/,
  /^session\.optimized_model_/,
  /^session\.save_external_prepacked_constant_initializers$/,
  /^session\.graph_optimization_level$/,
  /^session\.compile_only$/,
  /^session\.disable_model_compile$/,
  /^ep\.context/,
];

/** Names of execution providers whose optimized graph onnxruntime can save as a portable model file. */
const CACHEABLE_EPS = new Set(['cpu']);

/** Why caching is off for a provider: its optimized graph cannot be saved as a reusable model file. */
const EP_REASONS: Record<string, string> = {
  cuda: 'its optimized graph holds device placements and copy nodes for one GPU; onnxruntime saves no portable model for it',
  rocm: 'its optimized graph holds device placements and copy nodes for one GPU; onnxruntime saves no portable model for it',
  dml: 'its optimized graph is specific to one DirectML device and is not saved by onnxruntime',
  webgpu: 'its layout-transformed graph (NHWC) is specific to the GPU session and is not saved by onnxruntime',
  tensorrt: 'it compiles subgraphs into engines that live outside the ONNX graph (EP context models, not optimizedModelFilePath)',
  openvino: 'it compiles subgraphs into device blobs (use OpenVINO\'s own cache_dir)',
  coreml: 'it compiles subgraphs into Core ML models that live outside the ONNX graph',
  qnn: 'it compiles subgraphs into QNN context binaries (EP context models)',
  nnapi: 'it compiles subgraphs on the device at load time',
  xnnpack: 'its layout-transformed graph (NHWC) cannot be saved by onnxruntime',
  vitisai: 'it compiles subgraphs into device-specific nodes',
  migraphx: 'it compiles subgraphs into device programs',
  webnn: 'it is a browser provider',
  wasm: 'it is a browser provider',
  webgl: 'it is a browser provider',
};

/** The name of an execution provider entry ('cpu', or `{ name: 'cuda', ... }`). */
export function epName(ep: unknown): string {
  if (typeof ep === 'string') return ep;
  if (ep !== null && typeof ep === 'object' && typeof (ep as { name?: unknown }).name === 'string') return (ep as { name: string }).name;
  return String(ep);
}

/**
 * Whether caching works with these execution providers, and if not, why. Only the CPU provider
 * lets onnxruntime save its optimized graph as a model that loads again anywhere the key matches;
 * others embed device-specific nodes or compiled blobs (as with OpenVINO devices without
 * EXPORT_IMPORT, caching is then skipped, not an error).
 */
export function cachingSupport(executionProviders: readonly unknown[] | undefined): { supported: boolean; reason?: string } {
  for (const ep of executionProviders ?? []) {
    const name = epName(ep).toLowerCase();
    if (CACHEABLE_EPS.has(name)) continue;
    const why = EP_REASONS[name] ?? 'it is not known to save a portable optimized model';
    return { supported: false, reason: `execution provider '${epName(ep)}' is not cacheable: ${why}` };
  }
  return { supported: true };
}

/** `extra` as onnxruntime reads it: nested objects flattened into dotted config keys. */
export function flattenExtra(extra: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (extra === null || typeof extra !== 'object') return out;
  for (const [k, v] of Object.entries(extra as Record<string, unknown>)) {
    if (v !== null && typeof v === 'object') flattenExtra(v, `${prefix}${k}.`, out);
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

/** A reason this session's options prevent caching, if any. */
export function conflictingOption(options: Record<string, unknown>): string | undefined {
  if (options.optimizedModelFilePath !== undefined) {
    return 'optimizedModelFilePath is set: the session writes its optimized model where the caller asked';
  }
  for (const key of Object.keys(flattenExtra(options.extra))) {
    if (OWNED_EXTRA.some((re) => re.test(key))) return `session config entry extra['${key}'] conflicts with how the cache saves and loads models`;
  }
  return undefined;
}

/** The part of the session options that goes into the key (see the table at the top). */
export function canonicalOptions(options: Record<string, unknown>): Record<string, unknown> {
  const eps = (options.executionProviders as unknown[] | undefined) ?? [];
  const canonical: Record<string, unknown> = {
    executionProviders: (eps.length === 0 ? ['cpu'] : eps).map((ep) => (typeof ep === 'string' ? { name: ep.toLowerCase() } : { ...(ep as object), name: epName(ep).toLowerCase() })),
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
  };
  const extra = flattenExtra(options.extra);
  const keptExtra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra)) if (!RUNTIME_ONLY_EXTRA.some((re) => re.test(k))) keptExtra[k] = v;
  if (Object.keys(keptExtra).length > 0) canonical.extra = keptExtra;
  for (const [k, v] of Object.entries(options)) {
    if (RUNTIME_ONLY_OPTIONS.has(k) || SPECIAL_OPTIONS.has(k) || v === undefined) continue;
    canonical[k] = v;
  }
  return canonical;
}

/** The content identity of a model: its bytes and every external data file it references. */
export interface ModelIdentity {
  hash: string;
  size: number;
  /** [location as written in the model, content hash], sorted by location. */
  external: [string, string][];
}

/**
 * The session key and the parts it was made of (kept in the entry's metadata for tooling). The
 * entry form asked for (`format`: 'auto', 'ort' or 'onnx') is part of it; the form 'auto' chose is
 * decided at build time and recorded in the entry.
 */
export function sessionKey(model: ModelIdentity, options: Record<string, unknown>, mode: 'speed' | 'size', format: string): { key: string; ortVersion: string; cpu: string } {
  const version = ortVersion();
  const cpu = cpuFingerprint();
  const key = cacheKey(SESSION_NAMESPACE, {
    format: SESSION_FORMAT,
    mode,
    entryFormat: format,
    model,
    options: canonicalOptions(options),
    ort: version,
    cpu,
    platform: platformId(),
  });
  return { key, ortVersion: version, cpu };
}
