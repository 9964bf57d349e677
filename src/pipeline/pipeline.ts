// A model-optimization pipeline whose pass outputs are cached as Cache file entries: in a local
// directory (shared with tensor results and sessions, under one byte limit) and in a shared blob
// container, with run records and evaluations beside them. See chain.ts for how a run finds,
// fetches and computes outputs.
import { join } from 'node:path';
import type { Cache } from '../cache.js';
import { CacheError, checkInteger, checkOptionNames, invalidType } from '../errors.js';
import { logDebug } from '../log.js';
import { ChainRunner, type Chain } from './chain.js';
import { canonicalConfig, inputModelId, type CanonicalConfig } from './config.js';
import { checkEvaluator, evaluateModel, type Evaluator } from './evaluate.js';
import { resolveStorage, type PipelineCacheOptions, type PipelineStorage } from './location.js';
import { checkModelInput, readModel, type ModelContent, type ModelInput } from './model.js';
import { OutputStore } from './outputs.js';
import { normalizePass, type AcceleratorSpec, type NormalizedPass, type Pass } from './pass.js';
import { RecordStore, type EvaluationRecord, type RunRecord } from './records.js';
import { emptyStats, PipelineResult, type EvaluationResult, type Materialized, type PipelineEvent, type PipelineStats } from './result.js';
import type { Workflow, WorkflowOptions } from './workflow.js';

export { PassError, PipelineResult, type EvaluationResult, type PassReport, type PassStatus, type PipelineEvent, type PipelineStats, type PublishOutcome } from './result.js';
export type { Evaluator } from './evaluate.js';

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  /**
   * Where outputs are cached: a `Cache` (with a disk tier, and a shared tier to share through),
   * a directory, a list of directories and one blob container URL, or
   * `{ dir, accountName, containerName, updateSharedCache }`. Default: `MODELCACHE_DIR` or the
   * platform cache dir, local only.
   */
  cache?: Cache | string | readonly string[] | PipelineCacheOptions;
  /**
   * Part of every output id (except those of accelerator-agnostic passes) and of every evaluation
   * id. Default `{ device: 'cpu', executionProvider: 'CPUExecutionProvider' }`.
   */
  accelerator?: AcceleratorSpec;
  /** Cache failures too (locally): a pass that failed is not run again for the same input. Default false. */
  cacheFailures?: boolean;
  /**
   * Byte limit of the local cache directory (pass outputs, tensor results and sessions together);
   * least recently used entries are evicted past it. Default: the directory's own limit, else 10 GB.
   * With a `Cache`, set `maxDiskBytes` on it instead.
   */
  maxLocalBytes?: number;
  /** Evaluates the final model of every run (cached). */
  evaluator?: Evaluator;
  /** Receives {@link PipelineEvent}s. */
  onEvent?: (event: PipelineEvent) => void;
}

const DEFAULT_ACCELERATOR: AcceleratorSpec = { device: 'cpu', executionProvider: 'CPUExecutionProvider' };

/** A model on local disk as a pass receives it, with its files. */
function localModel(path: string, content: ModelContent, id: string, attributes: Record<string, unknown>): Materialized {
  const root = content.kind === 'file' ? join(path, '..') : path;
  return { path, kind: content.kind, id, attributes, files: content.files.map((f) => join(root, ...f.path.split('/'))) };
}

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
  readonly #storage: PipelineStorage;
  readonly #records: RecordStore;
  readonly #runner: ChainRunner;
  readonly #accelerator: CanonicalConfig;
  readonly #acceleratorSpec: AcceleratorSpec;
  readonly #evaluator: Evaluator | undefined;
  readonly #onEvent: PipelineOptions['onEvent'];
  readonly #stats = emptyStats();
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
    if (options.evaluator !== undefined) checkEvaluator('options.evaluator', options.evaluator);
    this.#evaluator = options.evaluator;
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw invalidType('options.onEvent', 'function', options.onEvent);
    this.#onEvent = options.onEvent;
    const maxBytes = options.maxLocalBytes === undefined ? undefined : checkInteger('options.maxLocalBytes', options.maxLocalBytes, 0, Number.MAX_SAFE_INTEGER);
    this.#storage = resolveStorage(options.cache, maxBytes);
    this.#records = new RecordStore(this.#storage.cache);
    this.#runner = new ChainRunner({
      outputs: new OutputStore(this.#storage),
      records: this.#records,
      disk: this.#storage.cache.disk!,
      hasShared: this.#storage.shared !== undefined,
      accelerator: this.#accelerator,
      acceleratorSpec: this.#acceleratorSpec,
      cacheFailures: options.cacheFailures ?? false,
      emit: (e) => this.#emit(e),
      count: (chain, key, n) => this.#count(chain, key, n),
      track: (p) => {
        this.#pending.add(p);
        void p.finally(() => this.#pending.delete(p));
      },
    });
  }

  /**
   * Loads a workflow file (or its parsed object): validates it, imports the passes it names and
   * builds the pipeline; `run()` then runs it and exports to its `output_dir`. Nothing runs on a
   * bad workflow: the error names the field (`passes[1].config.level: expected one of ...`).
   */
  static async fromWorkflow(workflow: string | object, options?: WorkflowOptions): Promise<Workflow> {
    return (await import('./workflow.js')).loadWorkflow(workflow, options);
  }

  /** The local cache directory outputs are written to. */
  get dir(): string {
    return this.#storage.cache.disk!.dir;
  }

  /** The cache the pipeline stores in. */
  get cache(): Cache {
    return this.#storage.cache;
  }

  /** The shared store's location, if there is one. */
  get sharedLocation(): string | undefined {
    const shared = this.#storage.shared as { location?: unknown; name?: string } | undefined;
    return shared ? (typeof shared.location === 'string' ? shared.location : shared.name) : undefined;
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
    if (options.evaluator !== undefined) checkEvaluator('options.evaluator', options.evaluator);
    const evaluator = options.evaluator ?? this.#evaluator;

    const content = await readModel(input.path);
    const inputId = inputModelId(content.id, input.attributes);
    const chain: Chain = { input: localModel(input.path, content, inputId, { ...(input.attributes ?? {}) }), steps: [], stats: emptyStats(), uploads: new Set() };
    this.#runner.buildSteps(chain, this.#passes);
    try {
      const start = await this.#runner.findLastCached(chain);
      for (let k = start + 1; k < chain.steps.length; k++) await this.#runner.materialize(chain, k);
    } finally {
      // Uploads started by this run finish (or fail softly) before it resolves, even on failure.
      while (chain.uploads.size > 0) await Promise.allSettled([...chain.uploads]);
    }
    const last = chain.steps[chain.steps.length - 1];
    const result = new PipelineResult({
      id: last ? last.outputId : inputId,
      inputId,
      passes: chain.steps.map((s) => s.report),
      stats: chain.stats,
      attributes: last ? await this.#attributesOf(chain) : chain.input.attributes,
      inputAttributes: chain.input.attributes,
      materialize: () => {
        this.#assertOpen();
        return this.#runner.materialize(chain, chain.steps.length - 1);
      },
    });
    if (evaluator) result.evaluation = await this.#evaluate(chain, result, evaluator);
    return result;
  }

  /** Attributes of the chain's final model: from its description, or its files when computed. */
  async #attributesOf(chain: Chain): Promise<Record<string, unknown>> {
    const last = chain.steps[chain.steps.length - 1];
    if (last.found) return { ...last.found.manifest.attributes };
    return (await this.#runner.materialize(chain, last.index)).attributes;
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
    const model = localModel(input.path, content, id, input.attributes ?? {});
    const result = new PipelineResult({ id, inputId: id, passes: [], stats: emptyStats(), attributes: model.attributes, inputAttributes: model.attributes, materialize: async () => model });
    return this.#evaluate(undefined, result, evaluator);
  }

  #evaluate(chain: Chain | undefined, target: PipelineResult, evaluator: Evaluator): Promise<EvaluationResult> {
    const { shared, update } = this.#storage;
    return evaluateModel(
      { records: this.#records, shared: shared !== undefined, update, accelerator: this.#accelerator, acceleratorSpec: this.#acceleratorSpec, count: (key) => this.#count(chain, key) },
      target,
      evaluator,
    );
  }

  /** Run records of this pipeline's local cache, oldest first. */
  async runs(): Promise<RunRecord[]> {
    this.#assertOpen();
    return this.#records.runs();
  }

  /** Evaluations stored in this pipeline's local cache, oldest first. */
  async evaluations(): Promise<EvaluationRecord[]> {
    this.#assertOpen();
    return this.#records.evaluations();
  }

  /** Waits for background uploads (outputs, evaluations) and commits what is queued, access times included. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    await this.#storage.cache.flush();
    // Outputs found this run are the most recently used, even when nothing else was written.
    await this.#storage.cache.disk?.flushAccess();
  }

  /** Waits for uploads and closes the cache the pipeline made (a Cache it was given stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#runner.dispose();
    if (this.#storage.owned) await this.#storage.cache.close();
    for (const c of this.#storage.readOnly) await c.close();
  }
}
