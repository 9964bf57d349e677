// A chain of passes whose outputs are cached locally and in a shared blob store. Output ids are
// computed from ids alone (input content hash, then pass type/version/config/accelerator), so a
// run first finds the last cached output of the chain, local or shared, downloading nothing; it
// then computes what follows, and a model's files move only when a pass, an evaluation or the
// caller needs them. Anything wrong with a cached copy (damaged, missing, unreachable) falls back
// to the copy before it, down to the input model: the run always completes from compute.
import { join } from 'node:path';
import { CacheError, checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { logDebug, warn } from '../log.js';
import { canonicalConfig, evaluationId, inputModelId, outputId, type CanonicalConfig } from './config.js';
import { LocalStore } from './local.js';
import { resolveLocation, type PipelineCacheOptions } from './location.js';
import { MANIFEST_FORMAT, type OutputManifest } from './manifest.js';
import { checkModelInput, readModel, type ModelInput } from './model.js';
import { collectOutput, normalizePass, type AcceleratorSpec, type NormalizedPass, type Pass, type PassContext, type PassInput } from './pass.js';
import { HOST, MODELCACHE_VERSION, newRunId, RecordStore, type EvaluationRecord, type RunRecord } from './records.js';
import { SharedStore, type SharedHit } from './shared.js';
import type { SavedModel, SaveOptions } from './export.js';
import type { Workflow, WorkflowOptions } from './workflow.js';

/** Scores a model; its result is cached by (model id, evaluator type, version, canonical config, accelerator). */
export interface Evaluator<C = unknown> {
  type: string;
  /** Bump when `evaluate` changes what it measures. Default '1'. */
  version?: string | number;
  config?: C;
  evaluate(model: PassInput, config: C, ctx: { accelerator: AcceleratorSpec }): Record<string, unknown> | Promise<Record<string, unknown>>;
}

/** Something that happened during a run (for logs, progress, tests). */
export type PipelineEvent =
  | { type: 'lookup'; pass: string; outputId: string; found: 'local' | 'shared' | 'none' }
  | { type: 'pass-start'; pass: string; outputId: string }
  | { type: 'pass-end'; pass: string; outputId: string; status: 'ok' | 'failed'; durationMs: number }
  | { type: 'download'; pass: string; outputId: string; bytes: number; files: number }
  | { type: 'upload-start'; pass: string; outputId: string; bytes: number }
  | { type: 'files-uploaded'; pass: string; outputId: string }
  | { type: 'published'; pass: string; outputId: string; outcome: 'published' | 'exists' | 'failed' | 'read-only' }
  | { type: 'damaged'; where: 'local' | 'shared'; pass: string; outputId: string };

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  /**
   * Where outputs are cached: a directory, a list of directories and one blob container URL, or
   * `{ dir, accountName, containerName, updateSharedCache }`. Default: `MODELCACHE_DIR` or the
   * platform cache dir, local only.
   */
  cache?: string | readonly string[] | PipelineCacheOptions;
  /**
   * Part of every output id (except those of accelerator-agnostic passes) and of every evaluation
   * id. Default `{ device: 'cpu', executionProvider: 'CPUExecutionProvider' }`.
   */
  accelerator?: AcceleratorSpec;
  /** Cache failures too (locally): a pass that failed is not run again for the same input. Default false. */
  cacheFailures?: boolean;
  /**
   * Byte limit of the pass outputs kept in the local directory; least recently used outputs are
   * evicted past it (outputs used in the last minute are spared). Default 10 GB.
   */
  maxLocalBytes?: number;
  /** Evaluates the final model of every run (cached). */
  evaluator?: Evaluator;
  /** Receives {@link PipelineEvent}s. */
  onEvent?: (event: PipelineEvent) => void;
}

/** Counters of a run (and, summed, of a pipeline). */
export interface PipelineStats {
  /** Passes run. */
  computed: number;
  failed: number;
  localHits: number;
  sharedHits: number;
  /** Model bytes downloaded from the shared store (manifests not included). */
  downloadedBytes: number;
  downloadedFiles: number;
  /** Bytes of shared manifests and evaluation results read. */
  manifestBytes: number;
  /** Model bytes of outputs this process published. */
  uploadedBytes: number;
  published: number;
  /** Cached copies found damaged (local or shared) and replaced. */
  damaged: number;
  evaluations: number;
  evaluationHits: number;
}

/** How a pass's output was obtained in a run. */
export type PassStatus = 'computed' | 'local' | 'shared' | 'not-needed' | 'failed';

/** One pass of a run. */
export interface PassReport {
  name: string;
  type: string;
  inputId: string;
  outputId: string;
  /** 'not-needed': a later output was cached, so this one was never looked at. */
  status: PassStatus;
  /** Whether the output may be shared: its config and all configs before it are portable. */
  shareable: boolean;
  /** Time the pass ran (computed passes). */
  durationMs?: number;
}

/** An evaluation, fresh or cached. */
export interface EvaluationResult {
  id: string;
  modelId: string;
  metrics: Record<string, unknown>;
  /** Where it came from: false when computed in this call. */
  cached: 'local' | 'shared' | false;
}

/** A failed pass. `cause` is what the pass threw. */
export class PassError extends Error {
  readonly code = 'ERR_PASS_FAILED';
  readonly pass: string;
  readonly outputId: string;
  /** True when the failure was read from the cache (`cacheFailures: true`), not run again. */
  readonly cached: boolean;

  constructor(pass: string, outputId: string, message: string, options: { cause?: unknown; cached?: boolean } = {}) {
    super(`pass ${pass} failed${options.cached ? ' (cached failure)' : ''}: ${message}`, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'PassError';
    this.pass = pass;
    this.outputId = outputId;
    this.cached = Boolean(options.cached);
  }
}

/** A model available on local disk. */
interface Materialized extends PassInput {
  files: string[];
}

interface Step {
  index: number;
  pass: NormalizedPass;
  config: CanonicalConfig;
  inputId: string;
  outputId: string;
  shareable: boolean;
  report: PassReport;
  /** undefined: not looked up yet; null: looked up, absent. */
  local?: { store: LocalStore; manifest: OutputManifest } | null;
  shared?: SharedHit | null;
  materialized?: Promise<Materialized>;
}

interface Chain {
  input: Materialized;
  steps: Step[];
  stats: PipelineStats;
  uploads: Set<Promise<void>>;
}

function emptyStats(): PipelineStats {
  return {
    computed: 0, failed: 0, localHits: 0, sharedHits: 0, downloadedBytes: 0, downloadedFiles: 0, manifestBytes: 0,
    uploadedBytes: 0, published: 0, damaged: 0, evaluations: 0, evaluationHits: 0,
  };
}

/** The outcome of {@link Pipeline.run}. The final model's files are fetched only when asked for. */
export class PipelineResult {
  /** Id of the final model (the last pass's output id, or the input's content id without passes). */
  readonly id: string;
  readonly inputId: string;
  readonly passes: readonly PassReport[];
  /** Counters of this run, including downloads made later by {@link path} / {@link files}. */
  readonly stats: PipelineStats;
  /** Attributes of the final model. */
  readonly attributes: Record<string, unknown>;
  /** Attributes the input model was given. */
  readonly inputAttributes: Record<string, unknown>;
  /** The evaluation of the final model, when the pipeline has an evaluator. */
  evaluation?: EvaluationResult;
  readonly #materialize: () => Promise<Materialized>;

  /** @internal */
  constructor(init: { id: string; inputId: string; passes: PassReport[]; stats: PipelineStats; attributes: Record<string, unknown>; inputAttributes: Record<string, unknown>; materialize: () => Promise<Materialized> }) {
    this.id = init.id;
    this.inputId = init.inputId;
    this.passes = init.passes;
    this.stats = init.stats;
    this.attributes = init.attributes;
    this.inputAttributes = init.inputAttributes;
    this.#materialize = init.materialize;
  }

  /** Number of passes that ran in this run. */
  get computed(): number {
    return this.stats.computed;
  }

  /** Local path of the final model (a file, or the folder of a directory model); downloads it if needed. */
  async path(): Promise<string> {
    return (await this.#materialize()).path;
  }

  /** Local paths of the final model's files; downloads them if needed. */
  async files(): Promise<string[]> {
    return (await this.#materialize()).files;
  }

  /** The final model as the input of another pipeline: `{ path, attributes }`. */
  async model(): Promise<ModelInput> {
    const m = await this.#materialize();
    return { path: m.path, attributes: m.attributes };
  }

  /**
   * Exports the final model into `dir` (created if needed) with a `modelcache.json` describing it;
   * refuses a folder that is not empty unless `overwrite` is set and it holds an earlier export.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<SavedModel> {
    return (await import('./export.js')).saveResult(this, dir, options);
  }

  /** @internal */
  materialized(): Promise<Materialized> {
    return this.#materialize();
  }
}

const DEFAULT_ACCELERATOR: AcceleratorSpec = { device: 'cpu', executionProvider: 'CPUExecutionProvider' };

/**
 * A model-optimization pipeline with cached pass outputs.
 *
 * @example
 * const p = new Pipeline({ cache: { dir: ['.cache', 'https://acct.blob.core.windows.net/models'] } });
 * p.add({ type: 'OptimizeGraph', version: '1', config: { level: 'all' }, run: async (input, cfg, ctx) => {
 *   await optimize(input.path, ctx.outputPath(), cfg);
 *   return ctx.outputPath();
 * } });
 * const result = await p.run({ path: 'model.onnx' });
 * console.log(result.passes.map((p) => p.status), await result.path());
 */
export class Pipeline {
  readonly #passes: NormalizedPass[] = [];
  readonly #locals: LocalStore[];
  readonly #records: RecordStore;
  readonly #shared: SharedStore | undefined;
  readonly #ownsTier: boolean;
  readonly #accelerator: CanonicalConfig;
  readonly #acceleratorSpec: AcceleratorSpec;
  readonly #cacheFailures: boolean;
  readonly #evaluator: Evaluator | undefined;
  readonly #onEvent: PipelineOptions['onEvent'];
  readonly #stats = emptyStats();
  readonly #computing = new Map<string, Promise<OutputManifest>>();
  readonly #pending = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: PipelineOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('Pipeline options', options, ['cache', 'accelerator', 'cacheFailures', 'evaluator', 'onEvent', 'maxLocalBytes']);
    if (options.accelerator !== undefined && (options.accelerator === null || typeof options.accelerator !== 'object' || Array.isArray(options.accelerator))) {
      throw invalidType('options.accelerator', 'an object such as { device: "cpu", executionProvider: "CPUExecutionProvider" }', options.accelerator);
    }
    this.#acceleratorSpec = options.accelerator ?? DEFAULT_ACCELERATOR;
    this.#accelerator = canonicalConfig(this.#acceleratorSpec, 'options.accelerator');
    if (!this.#accelerator.shareable) throw invalidType('options.accelerator', 'plain data (strings, numbers, booleans)', this.#accelerator.problem);
    if (options.cacheFailures !== undefined && typeof options.cacheFailures !== 'boolean') throw invalidType('options.cacheFailures', 'boolean', options.cacheFailures);
    this.#cacheFailures = options.cacheFailures ?? false;
    if (options.evaluator !== undefined) checkEvaluator('options.evaluator', options.evaluator);
    this.#evaluator = options.evaluator;
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw invalidType('options.onEvent', 'function', options.onEvent);
    this.#onEvent = options.onEvent;
    const where = resolveLocation(options.cache);
    const maxBytes = options.maxLocalBytes === undefined ? 10e9 : checkInteger('options.maxLocalBytes', options.maxLocalBytes, 0, Number.MAX_SAFE_INTEGER);
    this.#locals = where.localDirs.map((d, i) => new LocalStore(d, { readOnly: i > 0, maxBytes }));
    this.#records = new RecordStore(where.localDirs[0]);
    this.#shared = where.shared ? new SharedStore(where.shared.tier, { update: where.shared.update }) : undefined;
    this.#ownsTier = where.shared?.owned ?? false;
  }

  /**
   * Loads a workflow file (or its parsed object): validates it, imports the passes it names and
   * builds the pipeline; `run()` then runs it and exports to its `output_dir`. Nothing runs on a
   * bad workflow: the error names the field (`passes[1].config.level: expected one of ...`).
   */
  static async fromWorkflow(workflow: string | object, options?: WorkflowOptions): Promise<Workflow> {
    return (await import('./workflow.js')).loadWorkflow(workflow, options);
  }

  /** The local directory outputs are written to. */
  get dir(): string {
    return this.#locals[0].root;
  }

  /** The shared store's location, if there is one. */
  get sharedLocation(): string | undefined {
    return this.#shared?.tier.location;
  }

  /** Appends a pass; returns the pipeline (chainable). */
  add<C>(pass: Pass<C>): this {
    this.#assertOpen();
    this.#passes.push(normalizePass(`pass #${this.#passes.length + 1}`, pass, new Set(this.#passes.map((p) => p.name))));
    return this;
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheError('ERR_CLOSED', 'pipeline is closed');
  }

  #emit(e: PipelineEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(e);
    } catch (err) {
      logDebug(`pipeline: onEvent threw ${(err as Error).message}`);
    }
  }

  #count(chain: Chain | undefined, key: keyof PipelineStats, n = 1): void {
    this.#stats[key] += n;
    if (chain) chain.stats[key] += n;
  }

  /** Counters summed over every run of this pipeline. */
  stats(): PipelineStats {
    return { ...this.#stats };
  }

  /**
   * Runs the passes on `model` (a path or `{ path, attributes }`), computing only what is not
   * cached. Resolves once computed outputs are stored locally and uploaded (when sharing).
   * Rejects with a {@link PassError} when a pass fails.
   */
  async run(model: string | ModelInput, options: { evaluator?: Evaluator } = {}): Promise<PipelineResult> {
    this.#assertOpen();
    const input = checkModelInput('model', model);
    if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
    checkOptionNames('run options', options, ['evaluator']);
    const evaluator = options.evaluator ?? this.#evaluator;
    if (options.evaluator !== undefined) checkEvaluator('options.evaluator', options.evaluator);

    const content = await readModel(input.path);
    const inputId = inputModelId(content.id, input.attributes);
    const chain: Chain = {
      input: { path: input.path, kind: content.kind, id: inputId, attributes: { ...(input.attributes ?? {}) }, files: content.kind === 'file' ? [input.path] : [] },
      steps: [],
      stats: emptyStats(),
      uploads: new Set(),
    };
    if (content.kind === 'dir') chain.input.files = content.files.map((f) => join(input.path, ...f.path.split('/')));
    this.#buildSteps(chain);

    try {
      const start = await this.#findLastCached(chain);
      for (let k = start + 1; k < chain.steps.length; k++) await this.#materialize(chain, k);
    } finally {
      // Uploads started by this run finish (or fail softly) before it resolves, even on failure.
      while (chain.uploads.size > 0) await Promise.allSettled([...chain.uploads]);
    }

    const last = chain.steps[chain.steps.length - 1];
    const lastManifest = last ? (last.local?.manifest ?? last.shared?.manifest) : undefined;
    const result = new PipelineResult({
      id: last ? last.outputId : inputId,
      inputId,
      passes: chain.steps.map((s) => s.report),
      stats: chain.stats,
      attributes: lastManifest ? lastManifest.attributes : chain.input.attributes,
      inputAttributes: chain.input.attributes,
      materialize: () => {
        this.#assertOpen();
        return this.#materialize(chain, chain.steps.length - 1);
      },
    });
    if (evaluator) result.evaluation = await this.#evaluate(chain, result, evaluator);
    return result;
  }

  #buildSteps(chain: Chain): void {
    let inputId = chain.input.id;
    // Portable so far: every config up to here has an encoding that means the same everywhere.
    let shareable = true;
    for (const pass of this.#passes) {
      const config = canonicalConfig(pass.config, 'config');
      if (!config.shareable && shareable && this.#shared) {
        warn('ERR_CONFIG_NOT_PORTABLE', `pipeline pass ${pass.name}: ${config.problem} has no portable encoding; outputs of this pass and the passes after it are cached locally only, not shared`);
      }
      shareable &&= config.shareable;
      const id = outputId({ type: pass.type, version: pass.version, config, inputId, accelerator: pass.acceleratorAgnostic ? null : this.#accelerator });
      chain.steps.push({
        index: chain.steps.length,
        pass,
        config,
        inputId,
        outputId: id,
        shareable,
        report: { name: pass.name, type: pass.type, inputId, outputId: id, status: 'not-needed', shareable },
      });
      inputId = id;
    }
  }

  /**
   * The index of the last step whose output is cached (-1: none), looking locally first, then in
   * the shared store, from the end of the chain backwards. Reads manifests only.
   */
  async #findLastCached(chain: Chain): Promise<number> {
    let start = -1;
    for (let k = chain.steps.length - 1; k >= 0; k--) {
      const step = chain.steps[k];
      step.local = (await this.#lookupLocal(step)) ?? null;
      if (step.local) {
        start = k;
        break;
      }
    }
    if (this.#shared) {
      for (let k = chain.steps.length - 1; k > start; k--) {
        const step = chain.steps[k];
        step.shared = step.shareable ? ((await this.#lookupShared(chain, step)) ?? null) : null;
        if (step.shared) {
          start = k;
          break;
        }
      }
    }
    for (let k = chain.steps.length - 1; k > start; k--) {
      chain.steps[k].local ??= null;
      chain.steps[k].shared ??= null;
      this.#emit({ type: 'lookup', pass: chain.steps[k].pass.name, outputId: chain.steps[k].outputId, found: 'none' });
    }
    if (start >= 0) {
      const s = chain.steps[start];
      s.report.status = s.local ? 'local' : 'shared';
      this.#count(chain, s.local ? 'localHits' : 'sharedHits');
      this.#emit({ type: 'lookup', pass: s.pass.name, outputId: s.outputId, found: s.local ? 'local' : 'shared' });
    }
    return start;
  }

  async #lookupLocal(step: Step): Promise<{ store: LocalStore; manifest: OutputManifest } | undefined> {
    for (const store of this.#locals) {
      const manifest = await store.lookup(step.outputId);
      if (manifest) return { store, manifest };
    }
    return undefined;
  }

  async #lookupShared(chain: Chain, step: Step): Promise<SharedHit | undefined> {
    if (!this.#shared || !step.shareable) return undefined;
    const hit = await this.#shared.lookup(step.outputId);
    if (hit) this.#count(chain, 'manifestBytes', hit.bytes);
    return hit;
  }

  /** The output of step `k` on local disk (k = -1: the input model). */
  #materialize(chain: Chain, k: number): Promise<Materialized> {
    if (k < 0) return Promise.resolve(chain.input);
    const step = chain.steps[k];
    step.materialized ??= this.#materializeStep(chain, step).catch((err) => {
      step.materialized = undefined;
      throw err;
    });
    return step.materialized;
  }

  #view(store: LocalStore, m: OutputManifest): Materialized {
    return { path: store.modelPath(m), kind: m.kind, id: m.id, attributes: { ...m.attributes }, files: store.filePaths(m) };
  }

  async #materializeStep(chain: Chain, step: Step): Promise<Materialized> {
    if (step.local === undefined) step.local = (await this.#lookupLocal(step)) ?? null;
    if (step.local) {
      if (await step.local.store.verify(step.local.manifest)) {
        this.#used(chain, step, 'local');
        return this.#view(step.local.store, step.local.manifest);
      }
      this.#count(chain, 'damaged');
      this.#emit({ type: 'damaged', where: 'local', pass: step.pass.name, outputId: step.outputId });
      step.local = null;
    }
    if (step.shared === undefined) step.shared = (await this.#lookupShared(chain, step)) ?? null;
    if (step.shared) {
      const m = await this.#download(chain, step, step.shared);
      if (m) {
        this.#used(chain, step, 'shared');
        return this.#view(this.#locals[0], m);
      }
      step.shared = null;
    }
    const m = await this.#compute(chain, step);
    return this.#view(this.#locals[0], m);
  }

  /** A cached output not looked at by the run's first sweep turned out to be needed (a fallback). */
  #used(chain: Chain, step: Step, where: 'local' | 'shared'): void {
    if (step.report.status !== 'not-needed') return;
    step.report.status = where;
    this.#count(chain, where === 'local' ? 'localHits' : 'sharedHits');
  }

  /** Downloads a shared output into the local cache; undefined (and withdrawn, if damaged) on failure. */
  async #download(chain: Chain, step: Step, hit: SharedHit): Promise<OutputManifest | undefined> {
    const local = this.#locals[0];
    const shared = this.#shared!;
    const work = await local.workDir();
    const ok = await shared.download(hit, join(work, 'model'));
    if (!ok) {
      await local.discard(work);
      // Reachable but unusable (damaged or missing files): withdraw it so a good copy can replace it.
      if (shared.tier.available) {
        this.#count(chain, 'damaged');
        this.#emit({ type: 'damaged', where: 'shared', pass: step.pass.name, outputId: step.outputId });
        await shared.invalidate(hit);
      }
      return undefined;
    }
    const { upload: _upload, ...manifest } = hit.manifest;
    this.#count(chain, 'downloadedBytes', manifest.size);
    this.#count(chain, 'downloadedFiles', manifest.files.length);
    this.#emit({ type: 'download', pass: step.pass.name, outputId: step.outputId, bytes: manifest.size, files: manifest.files.length });
    const committed = await local.commit(work, manifest);
    step.local = { store: local, manifest: committed };
    return committed;
  }

  /** Runs step's pass (once per output id in this process at a time) and stores its output. */
  async #compute(chain: Chain, step: Step): Promise<OutputManifest> {
    const running = this.#computing.get(step.outputId);
    if (running) return running;
    const p = this.#computeOnce(chain, step);
    this.#computing.set(step.outputId, p);
    try {
      return await p;
    } finally {
      this.#computing.delete(step.outputId);
    }
  }

  async #computeOnce(chain: Chain, step: Step): Promise<OutputManifest> {
    const { pass } = step;
    if (this.#cacheFailures) {
      const failed = await this.#records.failure(step.outputId);
      if (failed) {
        step.report.status = 'failed';
        throw new PassError(pass.name, step.outputId, failed.error ?? 'unknown error', { cached: true });
      }
    }
    const input = await this.#materialize(chain, step.index - 1);
    const local = this.#locals[0];
    const work = await local.workDir();
    const modelDir = join(work, 'model');
    const ctx = passContext(pass, step, modelDir, this.#acceleratorSpec);
    const start = Date.now();
    const t0 = performance.now();
    const record: RunRecord = {
      runId: newRunId(start),
      pass: ctx.pass,
      inputId: step.inputId,
      outputId: step.outputId,
      config: step.config.json,
      accelerator: this.#accelerator.json,
      start,
      durationMs: 0,
      status: 'ok',
      shareable: step.shareable,
      modelcacheVersion: MODELCACHE_VERSION,
      host: HOST,
    };
    this.#emit({ type: 'pass-start', pass: pass.name, outputId: step.outputId });
    let collected;
    try {
      const { files: _files, ...inputView } = input;
      const returned = await pass.run(inputView, pass.config, ctx);
      collected = await collectOutput(pass.name, returned, modelDir);
    } catch (err) {
      await local.discard(work);
      record.durationMs = performance.now() - t0;
      record.status = 'failed';
      record.error = (err as Error)?.message ?? String(err);
      step.report.status = 'failed';
      step.report.durationMs = record.durationMs;
      this.#count(chain, 'failed');
      this.#emit({ type: 'pass-end', pass: pass.name, outputId: step.outputId, status: 'failed', durationMs: record.durationMs });
      await this.#records.putRun(record);
      if (this.#cacheFailures) await this.#records.putFailure(record);
      throw err instanceof PassError ? err : new PassError(pass.name, step.outputId, record.error, { cause: err });
    }
    record.durationMs = performance.now() - t0;
    record.kind = collected.content.kind;
    record.files = collected.content.files;
    const manifest: OutputManifest = {
      format: MANIFEST_FORMAT,
      id: step.outputId,
      kind: collected.content.kind,
      ...(collected.main !== undefined ? { main: collected.main } : {}),
      files: collected.content.files,
      size: collected.content.size,
      attributes: { ...input.attributes, ...(collected.attributes ?? {}) },
      run: record,
      created: Date.now(),
    };
    const committed = await local.commit(work, manifest);
    await this.#records.putRun(record);
    step.local = { store: local, manifest: committed };
    step.report.status = 'computed';
    step.report.durationMs = record.durationMs;
    this.#count(chain, 'computed');
    this.#emit({ type: 'pass-end', pass: pass.name, outputId: step.outputId, status: 'ok', durationMs: record.durationMs });
    if (step.shareable && this.#shared?.update) this.#publish(chain, step, committed);
    return committed;
  }

  /** Uploads an output in the background; the run waits for it before resolving. */
  #publish(chain: Chain, step: Step, m: OutputManifest): void {
    const shared = this.#shared!;
    const local = this.#locals[0];
    this.#emit({ type: 'upload-start', pass: step.pass.name, outputId: m.id, bytes: m.size });
    const p = shared
      .publish(m, local.filePaths(m), { onFilesUploaded: () => this.#emit({ type: 'files-uploaded', pass: step.pass.name, outputId: m.id }) })
      .then((outcome) => {
        if (outcome === 'published') {
          this.#count(chain, 'published');
          this.#count(chain, 'uploadedBytes', m.size);
        }
        this.#emit({ type: 'published', pass: step.pass.name, outputId: m.id, outcome });
      })
      .catch((err) => warn('ERR_TIER', `pipeline: publishing output ${m.id} of ${step.pass.name} failed (${(err as Error).message})`));
    chain.uploads.add(p);
    this.#pending.add(p);
    void p.finally(() => {
      chain.uploads.delete(p);
      this.#pending.delete(p);
    });
  }

  /**
   * Evaluates a model (a run's result, a path, or `{ path, attributes }`), or returns the cached
   * evaluation of the same model id and evaluator. The model is downloaded only when the
   * evaluation must really run.
   */
  async evaluate(target: PipelineResult | string | ModelInput, evaluator: Evaluator): Promise<EvaluationResult> {
    this.#assertOpen();
    checkEvaluator('evaluator', evaluator);
    if (target instanceof PipelineResult) return this.#evaluate(undefined, target, evaluator);
    const input = checkModelInput('target', target);
    const content = await readModel(input.path);
    const id = inputModelId(content.id, input.attributes, 'target.attributes');
    const files = content.kind === 'file' ? [input.path] : content.files.map((f) => join(input.path, ...f.path.split('/')));
    const materialized: Materialized = { path: input.path, kind: content.kind, id, attributes: input.attributes ?? {}, files };
    const result = new PipelineResult({ id, inputId: id, passes: [], stats: emptyStats(), attributes: materialized.attributes, inputAttributes: materialized.attributes, materialize: async () => materialized });
    return this.#evaluate(undefined, result, evaluator);
  }

  async #evaluate(chain: Chain | undefined, target: PipelineResult, evaluator: Evaluator): Promise<EvaluationResult> {
    const config = canonicalConfig(evaluator.config, 'evaluator.config');
    const version = String(evaluator.version ?? '1');
    const id = evaluationId({ modelId: target.id, type: evaluator.type, version, config, accelerator: this.#accelerator });
    // Shared only when both the model's id and the evaluator's config are portable.
    const lastPass = target.passes[target.passes.length - 1];
    const shareable = Boolean(this.#shared) && config.shareable && (lastPass ? lastPass.shareable : true);
    const local = await this.#records.evaluation(id);
    if (local) {
      this.#count(chain, 'evaluationHits');
      return { id, modelId: target.id, metrics: local.metrics, cached: 'local' };
    }
    if (shareable) {
      const remote = await this.#shared!.evaluation(id);
      if (remote) {
        this.#count(chain, 'evaluationHits');
        await this.#records.putEvaluation(remote);
        return { id, modelId: target.id, metrics: remote.metrics, cached: 'shared' };
      }
    }
    const model = await target.materialized();
    const start = Date.now();
    const t0 = performance.now();
    const { files: _files, ...view } = model;
    const metrics = await evaluator.evaluate(view, evaluator.config, { accelerator: this.#acceleratorSpec });
    if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
      throw new CacheError('ERR_BAD_INPUT', `evaluator ${evaluator.type} returned ${metrics === null ? 'null' : typeof metrics}; expected an object of metrics`);
    }
    const rec: EvaluationRecord = {
      id, modelId: target.id, evaluator: { type: evaluator.type, version, config: config.json }, metrics: JSON.parse(JSON.stringify(metrics)) as Record<string, unknown>,
      start, durationMs: performance.now() - t0, modelcacheVersion: MODELCACHE_VERSION, host: HOST,
    };
    this.#count(chain, 'evaluations');
    await this.#records.putEvaluation(rec);
    if (shareable && this.#shared!.update) await this.#shared!.putEvaluation(rec);
    return { id, modelId: target.id, metrics: rec.metrics, cached: false };
  }

  /** Run records of this pipeline's local cache, oldest first. */
  async runs(): Promise<RunRecord[]> {
    this.#assertOpen();
    return this.#records.runs();
  }

  /** Waits for background uploads. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Waits for uploads and closes the local record store (and the shared tier, if the pipeline made it). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#records.close();
    if (this.#ownsTier) await this.#shared?.tier.close();
  }
}

/** What `run` of `pass` is given; an accelerator-agnostic pass cannot read the accelerator. */
function passContext(pass: NormalizedPass, step: Step, modelDir: string, accelerator: AcceleratorSpec): PassContext {
  const ctx = {
    outputDir: modelDir,
    outputPath: (name = 'model.onnx') => join(modelDir, name),
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

function checkEvaluator(name: string, e: unknown): void {
  if (e === null || typeof e !== 'object') throw invalidType(name, 'an evaluator { type, version?, config?, evaluate }', e);
  checkOptionNames(name, e, ['type', 'version', 'config', 'evaluate']);
  const ev = e as Evaluator;
  if (typeof ev.type !== 'string' || ev.type.length === 0) throw invalidType(`${name}.type`, 'non-empty string', ev.type);
  if (ev.version !== undefined && typeof ev.version !== 'string' && typeof ev.version !== 'number') throw invalidType(`${name}.version`, 'string or number', ev.version);
  if (typeof ev.evaluate !== 'function') throw invalidType(`${name}.evaluate`, 'function (model, config, ctx) => metrics', ev.evaluate);
}
