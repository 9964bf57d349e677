// Building a session entry, in the builder child process (off the caller's critical path):
// onnxruntime creates the session with its optimized model saved into a work folder in the chosen
// form; a weightless entry then has the source's weights replaced by references; a pre-packed
// entry is loaded and run once against the freshly optimized session and kept only when every
// output is identical, else the entry is saved again in ORT format.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InferenceSession as OrtSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { mapFile } from '../mmap.js';
import { modelInput, type ModelArg } from './args.js';
import { ENTRY_MODEL, loadOptions, saveOptions, type EntryFormat } from './format.js';
import type { ExternalFile } from './identity.js';
import { flattenExtra } from './key.js';
import type { EntryFormatOption } from './options.js';
import { chooseFormat, graphFacts } from './rule.js';
import { ort } from './runtime.js';
import { openSources } from './sources.js';
import { stripWeights } from './weightless.js';

/** What the parent hands the builder. */
export interface BuildJob {
  model: ModelArg;
  /** The caller's session options (without `cache`). */
  options: Record<string, unknown>;
  mode: 'speed' | 'size';
  format: EntryFormatOption;
  encrypted: boolean;
  /** The model's external data files (weightless entries refer to them). */
  external: ExternalFile[];
  /** The work folder to fill (made, owned and removed by the parent). */
  dir: string;
  /** Set when a pre-packed attempt crashed onnxruntime: ORT format, for this reason. */
  forceOrt?: string;
}

/** What the builder hands back. */
export interface BuildResult {
  format: EntryFormat;
  formatReason: string;
  /** Names of the entry's files inside the work folder. */
  files: string[];
  referencedBytes?: number;
}

/** A build that cannot produce an entry (the caller's session is unaffected). */
export class BuildError extends Error {}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/** The rule's measure of the source graph (a model file is mapped, never read whole). */
function factsOf(model: ModelArg) {
  if ('bytes' in model) return graphFacts(model.bytes);
  const m = mapFile(model.path);
  try {
    return graphFacts(m.buffer);
  } finally {
    m.close();
  }
}

async function saveAs(job: BuildJob, format: EntryFormat): Promise<OrtSession> {
  const save = saveOptions(format, job.dir);
  try {
    return await ort.InferenceSession.create(modelInput(job.model) as string, {
      ...job.options,
      optimizedModelFilePath: save.optimizedModelFilePath,
      extra: { ...flattenExtra(job.options.extra), ...save.extra },
    });
  } catch (err) {
    throw new BuildError(`onnxruntime could not save the optimized model (${firstLine(err)})`);
  }
}

/** Builds the entry of `job` into `job.dir`. `stage` reports progress (the parent attributes a crash by it). */
export async function buildEntry(job: BuildJob, stage: (name: 'saving' | 'validating') => Promise<void>): Promise<BuildResult> {
  let choice: { format: EntryFormat; why: string };
  if (job.forceOrt) choice = { format: 'ort', why: job.forceOrt };
  else {
    choice = chooseFormat(job.format, job.mode, job.encrypted, () => factsOf(job.model));
  }
  await stage('saving');
  let session = await saveAs(job, choice.format);
  try {
    if (!existsSync(join(job.dir, ENTRY_MODEL[choice.format]))) throw new BuildError('onnxruntime wrote no optimized model for this session');
    let referencedBytes: number | undefined;
    if (choice.format === 'onnx-weightless') referencedBytes = weightless(job);
    if (choice.format === 'onnx-prepacked') {
      await stage('validating');
      const problem = await differs(session, job);
      if (problem) {
        for (const f of readdirSync(job.dir)) rmSync(join(job.dir, f), { recursive: true, force: true });
        await session.release();
        choice = { format: 'ort', why: `the pre-packed ONNX entry was not kept: ${problem}` };
        await stage('saving');
        session = await saveAs(job, 'ort');
      }
    }
    return { format: choice.format, formatReason: choice.why, files: readdirSync(job.dir).sort(), ...(referencedBytes !== undefined ? { referencedBytes } : {}) };
  } finally {
    await session.release();
  }
}

/** Replaces the source's weights in the saved model by references; returns the bytes referred to. */
function weightless(job: BuildJob): number {
  const path = join(job.dir, ENTRY_MODEL['onnx-weightless']);
  const src = openSources(job.model, job.external);
  try {
    const { model, stats } = stripWeights(readFileSync(path), src);
    writeFileSync(`${path}.tmp`, model, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    return stats.referencedBytes;
  } finally {
    src.close();
  }
}

/** Why the saved pre-packed entry cannot be trusted, or undefined when it runs identically. */
async function differs(fresh: OrtSession, job: BuildJob): Promise<string | undefined> {
  const feeds = syntheticFeeds(fresh);
  if (!feeds) return 'its inputs cannot be synthesized to check it';
  let want: OrtSession.OnnxValueMapType;
  try {
    want = await fresh.run(feeds);
  } catch (err) {
    return `the optimized session does not run on synthetic inputs (${firstLine(err)})`;
  }
  let loaded: OrtSession | undefined;
  try {
    loaded = await ort.InferenceSession.create(join(job.dir, ENTRY_MODEL['onnx-prepacked']), loadOptions('onnx-prepacked', job.options, false));
    const got = await loaded.run(feeds);
    for (const name of Object.keys(want)) {
      if (!sameTensor(want[name], got[name])) return `its output ${JSON.stringify(name)} differs from the optimized session's`;
    }
    return undefined;
  } catch (err) {
    return `onnxruntime could not run it (${firstLine(err)})`;
  } finally {
    await loaded?.release();
  }
}

function sameTensor(a: OrtTensor | undefined, b: OrtTensor | undefined): boolean {
  if (!a || !b || a.type !== b.type || a.dims.join() !== b.dims.join()) return false;
  if (Array.isArray(a.data)) return JSON.stringify(a.data) === JSON.stringify(b.data);
  const x = a.data as ArrayBufferView;
  const y = b.data as ArrayBufferView;
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

type Typed = new (n: number) => ArrayBufferView & { [i: number]: number | bigint; length: number };
const ARRAYS: Record<string, Typed | undefined> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array, uint16: Uint16Array,
  int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};

/**
 * Deterministic inputs for every input of `session`: symbolic dimensions 1 on the first axis and
 * 16 on the others, floats in [-0.5, 0.5), integers 0. Undefined when an input's type has no
 * plain array (strings, float16, maps).
 */
export function syntheticFeeds(session: OrtSession): Record<string, OrtTensor> | undefined {
  const feeds: Record<string, OrtTensor> = {};
  for (const m of session.inputMetadata) {
    if (!m.isTensor) return undefined;
    const Array_ = ARRAYS[m.type];
    if (!Array_) return undefined;
    const dims = m.shape.map((d, axis) => (typeof d === 'number' && d >= 0 ? d : axis === 0 ? 1 : 16));
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Array_(n);
    if (m.type === 'float32' || m.type === 'float64') for (let i = 0; i < n; i++) data[i] = ((i * 7) % 13) / 13 - 0.5;
    feeds[m.name] = new ort.Tensor(m.type as 'float32', data as Float32Array, dims);
  }
  return feeds;
}
