// The forms a session entry takes, which one a model gets, and how each is saved and loaded.
//
//   form             files                        saved with                     loaded with (optimization off)
//   ort              model.ort                    save_model_format ORT          use_memory_mapped_ort_model and
//                                                                                use_ort_model_bytes_for_initializers
//                                                                                (by path; an encrypted entry from its
//                                                                                decrypted buffer, used in place)
//   onnx-prepacked   model.onnx, model.onnx.data  ONNX with external data and    by path (the data file is found beside
//                                                 save_external_prepacked_...    the model and mapped)
//   onnx-weightless  model.onnx                   ONNX, then the weights found   the references pointed at the source
//                                                 in the source made references  files (or the model rebuilt in memory)
//
// Which form a model gets is decided at build time by the rule in ./rule.ts.
import { flattenExtra, SESSION_FORMAT } from './key.js';

/**
 * The form a session entry takes on disk: `'ort'` (the optimized model in ORT format, loaded
 * through onnxruntime's memory-mapped path), `'onnx-prepacked'` (optimized ONNX with external
 * data and the pre-packed weights saved beside it, for models where pre-packing dominates) or
 * `'onnx-weightless'` (mode `'size'`: optimized ONNX that refers to the source model's unchanged weights).
 */
export type EntryFormat = 'ort' | 'onnx-prepacked' | 'onnx-weightless';

/** The file that onnxruntime loads, per form (the prepacked form's data file sits beside it). */
export const ENTRY_MODEL: Record<EntryFormat, string> = { ort: 'model.ort', 'onnx-prepacked': 'model.onnx', 'onnx-weightless': 'model.onnx' };
const PREPACKED_DATA = 'model.onnx.data';

/** Session config entries that make onnxruntime save the optimized model in `format` at `dir`. */
export function saveOptions(format: EntryFormat, dir: string): { optimizedModelFilePath: string; extra: Record<string, string> } {
  const path = `${dir}/${ENTRY_MODEL[format]}`;
  if (format === 'ort') return { optimizedModelFilePath: path, extra: { 'session.save_model_format': 'ORT' } };
  if (format === 'onnx-weightless') return { optimizedModelFilePath: path, extra: { 'session.save_model_format': 'ONNX' } };
  return {
    optimizedModelFilePath: path,
    extra: {
      'session.save_model_format': 'ONNX',
      'session.optimized_model_external_initializers_file_name': PREPACKED_DATA,
      'session.optimized_model_external_initializers_min_size_in_bytes': '1024',
      'session.save_external_prepacked_constant_initializers': '1',
    },
  };
}

/**
 * Options for loading an entry: the caller's (threads, logging and the like apply), with
 * optimization off (the graph is optimized already) and the entry's own load settings.
 * `fromBuffer`: an ORT entry given as bytes that stay alive as long as the session.
 */
export function loadOptions(format: EntryFormat, options: Record<string, unknown>, fromBuffer: boolean): Record<string, unknown> {
  const { externalData: _unused, ...rest } = options;
  const extra: Record<string, unknown> = { ...flattenExtra(options.extra) };
  if (format === 'ort') {
    extra['session.load_model_format'] = 'ORT';
    extra['session.use_ort_model_bytes_for_initializers'] = '1';
    if (fromBuffer) extra['session.use_ort_model_bytes_directly'] = '1';
    else extra['session.use_memory_mapped_ort_model'] = '1';
  }
  return { ...rest, graphOptimizationLevel: 'disabled', extra };
}

/** Metadata stored beside a session entry (`modelcache sessions` shows it). */
export interface SessionEntryMeta {
  /** Version of the session entry format (part of the key: another version of modelcache uses other entries). */
  format: number;
  /** The `mode` the entry was built for: `'speed'` (whole optimized model) or `'size'` (weightless). */
  mode: 'speed' | 'size';
  /** The entry's form. */
  entryFormat: EntryFormat;
  /** What decided the form (the rule's measure, an explicit option, or why a pre-packed entry was not kept). */
  formatReason: string;
  /** The entry's files are encrypted (it was built with the `encryption` option). */
  encrypted: boolean;
  /** The onnxruntime version that built the entry (part of the key: another version uses other entries). */
  ortVersion: string;
  /** The model it was built from: its absolute path, or `<N bytes>` for a model given as bytes. For display only: the key holds its content. */
  source: string;
  /** Bytes of the source model, its external data files included. */
  sourceBytes: number;
  /** Content hash of the source model file (32 hex). */
  modelHash: string;
  /** Names of the execution providers of the session options (`['cpu']` when none were given). */
  executionProviders: string[];
  /** The `graphOptimizationLevel` the entry was optimized at (`'all'` when none was given). */
  graphOptimizationLevel: string;
  /** The CPU model of the machine that built it (its ISA flags are part of the key). */
  cpu: string;
  /** `<platform>-<arch>` of the machine that built it, e.g. `linux-x64` (part of the key). */
  platform: string;
  /** Mode 'size': bytes of the source's weights the entry refers to instead of storing. */
  referencedBytes?: number;
}

const FORMATS = new Set<EntryFormat>(['ort', 'onnx-prepacked', 'onnx-weightless']);

/** Why an entry's metadata does not fit this request (undefined when it does). */
export function entryMetaProblem(meta: unknown, files: readonly { name: string }[], want: { mode: string; encrypted: boolean | undefined; ortVersion: string }): string | undefined {
  const m = meta as Partial<SessionEntryMeta> | undefined;
  if (!m || m.format !== SESSION_FORMAT) return `it has entry format ${m?.format ?? 'unknown'}, this modelcache reads format ${SESSION_FORMAT}`;
  if (!FORMATS.has(m.entryFormat as EntryFormat) || !files.some((f) => f.name === ENTRY_MODEL[m.entryFormat!])) return `its form ${String(m.entryFormat)} does not match its files`;
  if (m.ortVersion !== want.ortVersion) return `it was built by onnxruntime ${m.ortVersion}, this is ${want.ortVersion}`;
  if (m.mode !== want.mode) return `it is a '${m.mode}' entry, '${want.mode}' was asked for`;
  if (want.encrypted !== undefined && m.encrypted !== want.encrypted) return m.encrypted ? 'it is encrypted and no encryption was given' : 'it is not encrypted and encryption was asked for';
  return undefined;
}
