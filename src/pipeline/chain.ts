// One run of a pipeline's passes. Output ids are computed from ids alone (input content hash, then
// pass type/version/config/accelerator), so a run first finds the last cached output of the chain,
// local or shared, reading descriptions only; it then computes what follows, and a model's files
// move only when a pass, an evaluation or the caller needs them. Anything wrong with a cached copy
// (damaged, missing, unreachable) falls back to the copy before it, down to the input model: the
// run always completes from compute. A pass runs once per output id across the processes of a
// cache directory (the disk tier's per-key lock).
import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withKeyLock } from '../cache/lock.js';
import { DEFAULT_LOCK_WAIT_MS } from '../defaults.js';
import { CacheError } from '../errors.js';
import { logDebug, warn } from '../log.js';
import type { DiskTier } from '../store/disk/tier.js';
import { canonicalConfig, outputId, type CanonicalConfig } from './config.js';
import { OUTPUT_FORMAT, outputPathProblem, type OutputManifest } from './manifest.js';
import { OUTPUTS, type FoundOutput, type OutputStore } from './outputs.js';
import { collectOutput, type AcceleratorSpec, type NormalizedPass, type PassContext } from './pass.js';
import { HOST, MODELCACHE_VERSION, newRunId, type RecordStore, type RunRecord } from './records.js';
import { PassError, type Materialized, type PassReport, type PipelineEvent, type PipelineStats } from './result.js';

export interface Step {
  index: number;
  pass: NormalizedPass;
  config: CanonicalConfig;
  inputId: string;
  outputId: string;
  shareable: boolean;
  report: PassReport;
  /** undefined: not looked up yet; null: looked up, absent. */
  found?: FoundOutput | null;
  materialized?: Promise<Materialized>;
}

export interface Chain {
  input: Materialized;
  steps: Step[];
  stats: PipelineStats;
  uploads: Set<Promise<void>>;
}

/** What a run needs of its pipeline. */
export interface RunnerDeps {
  outputs: OutputStore;
  records: RecordStore;
  /** The disk tier whose per-key lock makes a pass run once across processes. */
  disk: DiskTier;
  /** The pipeline has a shared tier (unportable configs are then worth a warning). */
  hasShared: boolean;
  accelerator: CanonicalConfig;
  acceleratorSpec: AcceleratorSpec;
  cacheFailures: boolean;
  emit(e: PipelineEvent): void;
  count(chain: Chain | undefined, key: keyof PipelineStats, n?: number): void;
  /** Keeps a background upload until the pipeline is flushed. */
  track(p: Promise<void>): void;
}

export class ChainRunner {
  readonly #d: RunnerDeps;
  /** Computations running in this process, by output id. */
  readonly #computing = new Map<string, Promise<Materialized>>();
  /** Work folders of outputs the cache refused, in use until the pipeline closes. */
  readonly #uncached = new Set<string>();

  constructor(deps: RunnerDeps) {
    this.#d = deps;
  }

  /** Steps of `passes` on `chain.input`, with their ids. */
  buildSteps(chain: Chain, passes: readonly NormalizedPass[]): void {
    let inputId = chain.input.id;
    // Portable so far: every config up to here has an encoding that means the same everywhere.
    let shareable = true;
    for (const pass of passes) {
      const config = canonicalConfig(pass.config, 'config');
      if (!config.shareable && shareable && this.#d.hasShared) {
        warn('ERR_CONFIG_NOT_PORTABLE', `pipeline pass ${pass.name}: ${config.problem} has no portable encoding; outputs of this pass and the passes after it are cached locally only, not shared`);
      }
      shareable &&= config.shareable;
      const id = outputId({ type: pass.type, version: pass.version, config, inputId, accelerator: pass.acceleratorAgnostic ? null : this.#d.accelerator });
      const report: PassReport = { name: pass.name, type: pass.type, inputId, outputId: id, status: 'not-needed', shareable };
      chain.steps.push({ index: chain.steps.length, pass, config, inputId, outputId: id, shareable, report });
      inputId = id;
    }
  }

  /** The index of the last step whose output is cached (-1: none), from the end of the chain. */
  async findLastCached(chain: Chain): Promise<number> {
    let start = -1;
    for (let k = chain.steps.length - 1; k >= 0; k--) {
      const step = chain.steps[k];
      step.found = (await this.#d.outputs.lookup(step.outputId, step.shareable)) ?? null;
      if (step.found) {
        start = k;
        break;
      }
      this.#d.emit({ type: 'lookup', pass: step.pass.name, outputId: step.outputId, found: 'none' });
    }
    if (start >= 0) {
      const s = chain.steps[start];
      this.#d.emit({ type: 'lookup', pass: s.pass.name, outputId: s.outputId, found: s.found!.where });
      await this.#used(chain, s, s.found!);
    }
    return start;
  }

  /** A cached output of a step is used by this run: counted, and a shared one recorded here. */
  async #used(chain: Chain, step: Step, found: FoundOutput): Promise<void> {
    if (step.report.status !== 'not-needed') return;
    step.report.status = found.where;
    this.#d.count(chain, found.where === 'local' ? 'localHits' : 'sharedHits');
    if (found.where !== 'shared') return;
    this.#d.count(chain, 'manifestBytes', found.descriptionBytes);
    // Who computed it, when and how long, as that machine recorded it; when this one took it.
    const at = Date.now();
    const served = { at, host: HOST, runId: newRunId(at) };
    await this.#d.records.putRun({ ...found.manifest.run, runId: served.runId, status: 'shared', served });
  }

  /** The output of step `k` on local disk (k = -1: the input model). */
  async materialize(chain: Chain, k: number): Promise<Materialized> {
    if (k < 0) return chain.input;
    const step = chain.steps[k];
    const memo = step.materialized;
    if (memo) {
      const m = await memo.catch(() => undefined);
      // Still there (the cache may have evicted it since): else found again, or computed.
      if (m && m.files.every((f) => existsSync(f))) return m;
      if (step.materialized === memo) {
        step.materialized = undefined;
        step.found = undefined;
      }
    }
    step.materialized ??= this.#materializeStep(chain, step).catch((err) => {
      step.materialized = undefined;
      throw err;
    });
    return step.materialized;
  }

  async #materializeStep(chain: Chain, step: Step): Promise<Materialized> {
    const { outputs } = this.#d;
    if (step.found === undefined) step.found = (await outputs.lookup(step.outputId, step.shareable)) ?? null;
    while (step.found) {
      const found: FoundOutput = step.found;
      const r = await outputs.materialize(found);
      if ('view' in r) {
        await this.#used(chain, step, found);
        if (r.downloaded) {
          this.#d.count(chain, 'downloadedBytes', r.downloaded.bytes);
          this.#d.count(chain, 'downloadedFiles', r.downloaded.files);
          this.#d.emit({ type: 'download', pass: step.pass.name, outputId: step.outputId, ...r.downloaded });
        }
        return r.view;
      }
      if (r.failed === 'damaged') {
        this.#d.count(chain, 'damaged');
        this.#d.emit({ type: 'damaged', where: found.where, pass: step.pass.name, outputId: step.outputId });
      }
      // A local copy that failed may still be good in the shared tier; a shared one is not tried twice.
      step.found = found.where === 'local' && step.shareable ? ((await outputs.lookupShared(step.outputId)) ?? null) : null;
    }
    return this.#compute(chain, step);
  }

  /** Runs the step's pass (once per output id at a time in this process, and across processes). */
  async #compute(chain: Chain, step: Step): Promise<Materialized> {
    const running = this.#computing.get(step.outputId);
    if (running) return running;
    const lookup = async (): Promise<Materialized | undefined> => {
      // Computed by another process meanwhile: it is in the local directory now.
      const found = await this.#d.outputs.lookup(step.outputId, false);
      const r = found && (await this.#d.outputs.materialize(found));
      if (!r || !('view' in r)) return undefined;
      await this.#used(chain, step, found!);
      return r.view;
    };
    const p = withKeyLock(this.#d.disk, OUTPUTS, step.outputId, { lockWaitMs: DEFAULT_LOCK_WAIT_MS }, lookup, () => this.#computeOnce(chain, step));
    this.#computing.set(step.outputId, p);
    try {
      return await p;
    } finally {
      this.#computing.delete(step.outputId);
    }
  }

  async #computeOnce(chain: Chain, step: Step): Promise<Materialized> {
    const { pass } = step;
    const d = this.#d;
    if (d.cacheFailures) {
      const failed = await d.records.failure(step.outputId);
      if (failed) {
        step.report.status = 'failed';
        throw new PassError(pass.name, step.outputId, failed.error ?? 'unknown error', { cached: true });
      }
    }
    const input = await this.materialize(chain, step.index - 1);
    const work = d.disk.workPath();
    await mkdir(work, { recursive: true, mode: 0o700 });
    const ctx = passContext(pass, step, work, d.acceleratorSpec);
    const start = Date.now();
    const t0 = performance.now();
    const record: RunRecord = {
      runId: newRunId(start), pass: ctx.pass, inputId: step.inputId, outputId: step.outputId, config: step.config.json, accelerator: d.accelerator.json,
      start, durationMs: 0, status: 'ok', shareable: step.shareable, modelcacheVersion: MODELCACHE_VERSION, host: HOST,
    };
    d.emit({ type: 'pass-start', pass: pass.name, outputId: step.outputId });
    let collected;
    try {
      const { files: _files, ...inputView } = input;
      collected = await collectOutput(pass.name, await pass.run(inputView, pass.config, ctx), work);
      // Checked before anything is stored: an output that cannot be one folder everywhere is refused.
      const problem = outputPathProblem(collected.content.files.map((f) => f.path));
      if (problem) throw new CacheError('ERR_BAD_INPUT', `pass ${pass.name} wrote files that cannot be stored and shared: ${problem}`);
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      record.durationMs = performance.now() - t0;
      record.status = 'failed';
      record.error = (err as Error)?.message ?? String(err);
      step.report.status = 'failed';
      step.report.durationMs = record.durationMs;
      d.count(chain, 'failed');
      d.emit({ type: 'pass-end', pass: pass.name, outputId: step.outputId, status: 'failed', durationMs: record.durationMs });
      await d.records.putRun(record);
      if (d.cacheFailures) await d.records.putFailure(record);
      throw err instanceof PassError ? err : new PassError(pass.name, step.outputId, record.error, { cause: err });
    }
    record.durationMs = performance.now() - t0;
    record.kind = collected.content.kind;
    record.files = collected.content.files;
    const manifest: OutputManifest = {
      format: OUTPUT_FORMAT,
      id: step.outputId,
      kind: collected.content.kind,
      ...(collected.content.main !== undefined ? { main: collected.content.main } : {}),
      files: collected.content.files,
      size: collected.content.size,
      attributes: { ...input.attributes, ...(collected.attributes ?? {}) },
      run: record,
      created: Date.now(),
    };
    // The record first: the output, stored last, is then never evicted by its own run's writes.
    await d.records.putRun(record);
    const { view, stored } = await d.outputs.store(manifest, collected.content, collected.root, true);
    if (stored) await rm(work, { recursive: true, force: true });
    else this.#uncached.add(work);
    step.report.status = 'computed';
    step.report.durationMs = record.durationMs;
    d.count(chain, 'computed');
    d.emit({ type: 'pass-end', pass: pass.name, outputId: step.outputId, status: 'ok', durationMs: record.durationMs });
    if (stored && step.shareable && d.outputs.publishing) this.#publish(chain, step, manifest);
    return view;
  }

  /** Removes the files of outputs used uncached (the pipeline is closing: no result reads them again). */
  async dispose(): Promise<void> {
    for (const work of this.#uncached) await rm(work, { recursive: true, force: true });
    this.#uncached.clear();
  }

  /** Uploads an output in the background; the run waits for it before resolving. */
  #publish(chain: Chain, step: Step, m: OutputManifest): void {
    const d = this.#d;
    d.emit({ type: 'upload-start', pass: step.pass.name, outputId: m.id, bytes: m.size });
    const p = d.outputs
      .publish(m.id)
      .then((outcome) => {
        if (outcome === 'published') {
          d.count(chain, 'published');
          d.count(chain, 'uploadedBytes', m.size);
        } else if (outcome === 'failed') warn('ERR_TIER', `pipeline: output ${m.id} of ${step.pass.name} could not be published`);
        d.emit({ type: 'published', pass: step.pass.name, outputId: m.id, outcome });
      })
      .catch((err) => warn('ERR_TIER', `pipeline: publishing output ${m.id} of ${step.pass.name} failed (${(err as Error).message})`));
    chain.uploads.add(p);
    d.track(p);
    void p.finally(() => chain.uploads.delete(p));
  }
}

/** What `run` of `pass` is given; an accelerator-agnostic pass cannot read the accelerator. */
function passContext(pass: NormalizedPass, step: Step, outputDir: string, accelerator: AcceleratorSpec): PassContext {
  const ctx = {
    outputDir,
    outputPath: (name = 'model.onnx') => join(outputDir, name),
    pass: { type: pass.type, name: pass.name, version: pass.version },
    inputId: step.inputId,
    outputId: step.outputId,
    log: (message: string) => logDebug(`pipeline ${pass.name}: ${message}`),
  } as PassContext;
  Object.defineProperty(ctx, 'accelerator', {
    enumerable: true,
    get() {
      // Its output is reused under every accelerator: one that depends on it would be wrong there.
      if (pass.acceleratorAgnostic) {
        throw new CacheError('ERR_BAD_INPUT', `pass ${pass.name} is declared acceleratorAgnostic, so its output is reused under every accelerator; it cannot read ctx.accelerator (drop acceleratorAgnostic if its output depends on it)`);
      }
      return accelerator;
    },
  });
  return ctx;
}
