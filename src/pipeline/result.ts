// What a pipeline run reports: events as they happen, counters, one line per pass, the error of a
// failed pass, and the result, whose final model's files are fetched only when asked for.
import type { SavedModel, SaveOptions } from './export.js';
import type { ModelInput } from './model.js';
import type { PassInput } from './pass.js';

/** Something that happened during a run (for logs, progress, tests). */
export type PipelineEvent =
  | {
      /** A pass's output was looked up: the run looks from the last pass backwards and stops at the first one found. */
      type: 'lookup';
      /** Name of the pass. */
      pass: string;
      /** Id of the output looked up. */
      outputId: string;
      /** Where it was found: the local directory, the shared container, or nowhere. */
      found: 'local' | 'shared' | 'none';
    }
  | {
      /** A pass starts running (its output was not cached). */
      type: 'pass-start';
      /** Name of the pass. */
      pass: string;
      /** Id its output will have. */
      outputId: string;
    }
  | {
      /** A pass finished running. */
      type: 'pass-end';
      /** Name of the pass. */
      pass: string;
      /** Id of its output. */
      outputId: string;
      /** `'failed'`: it threw, or its output could not be read as a model; the run rejects with a {@link PassError}. */
      status: 'ok' | 'failed';
      /** How long `run` took, ms. */
      durationMs: number;
    }
  | {
      /** A shared output's files were downloaded, because a pass or the caller needed them. */
      type: 'download';
      /** Name of the pass that produced it. */
      pass: string;
      /** Id of the output. */
      outputId: string;
      /** Bytes downloaded. */
      bytes: number;
      /** Files downloaded. */
      files: number;
    }
  | {
      /** A computed output starts uploading to the shared container (in the background). */
      type: 'upload-start';
      /** Name of the pass. */
      pass: string;
      /** Id of the output. */
      outputId: string;
      /** Bytes of the output's files. */
      bytes: number;
    }
  | {
      /** An upload ended. */
      type: 'published';
      /** Name of the pass. */
      pass: string;
      /** Id of the output. */
      outputId: string;
      /** How it ended (see {@link PublishOutcome}). */
      outcome: PublishOutcome;
    }
  | {
      /** A cached output failed verification and was not used: it is dropped (a shared one only when the tier may update), then fetched from the shared store or computed again. */
      type: 'damaged';
      /** Which copy was damaged. */
      where: 'local' | 'shared';
      /** Name of the pass that produced it. */
      pass: string;
      /** Id of the output. */
      outputId: string;
    };

/** How an upload of an output ended: 'exists' when another machine had published it first. */
export type PublishOutcome = 'published' | 'exists' | 'failed' | 'read-only';

/** Counters of a run (and, summed, of a pipeline). */
export interface PipelineStats {
  /** Passes run. */
  computed: number;
  /** Passes that failed when run (cached failures read back with `cacheFailures` are not counted). */
  failed: number;
  /** Outputs used from the local cache directory. */
  localHits: number;
  /** Outputs used from the shared container (recorded locally as runs with status `'shared'`). */
  sharedHits: number;
  /** Model bytes downloaded from the shared store (manifests not included). */
  downloadedBytes: number;
  /** Model files downloaded from the shared store. */
  downloadedFiles: number;
  /** Bytes of shared output descriptions read (their manifests). */
  manifestBytes: number;
  /** Model bytes of outputs this process published. */
  uploadedBytes: number;
  /** Outputs this process published to the shared store (not those another machine had published first). */
  published: number;
  /** Cached copies found damaged (local or shared) and replaced. */
  damaged: number;
  /** Evaluations that ran (were not cached). */
  evaluations: number;
  /** Evaluations read from the cache (local or shared) instead of run. */
  evaluationHits: number;
}

export function emptyStats(): PipelineStats {
  return {
    computed: 0, failed: 0, localHits: 0, sharedHits: 0, downloadedBytes: 0, downloadedFiles: 0, manifestBytes: 0,
    uploadedBytes: 0, published: 0, damaged: 0, evaluations: 0, evaluationHits: 0,
  };
}

/** How a pass's output was obtained in a run. */
export type PassStatus = 'computed' | 'local' | 'shared' | 'not-needed' | 'failed';

/** One pass of a run. */
export interface PassReport {
  /** The pass's name in the pipeline. */
  name: string;
  /** The pass's `type`. */
  type: string;
  /** Id of the model it takes (the previous pass's output id, or the pipeline input's id). */
  inputId: string;
  /** Id of its output (32 hex): the cache key of the output. */
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
  /** Id of the evaluation (32 hex): model id, evaluator type, version, config and accelerator. */
  id: string;
  /** Id of the model evaluated (the result's `id`). */
  modelId: string;
  /** What the evaluator returned, as JSON (so a cached result equals a fresh one). */
  metrics: Record<string, unknown>;
  /** Where it came from: false when computed in this call. */
  cached: 'local' | 'shared' | false;
}

/** A failed pass. `cause` is what the pass threw. */
export class PassError extends Error {
  /** Always `'ERR_PASS_FAILED'`: tells a pass's failure from a cache failure (a `CacheError`, whose codes are `ERR_*` too). */
  readonly code = 'ERR_PASS_FAILED';
  /** Name of the pass that failed. */
  readonly pass: string;
  /** Id of the output it was computing (the key of a remembered failure with `cacheFailures`). */
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
export interface Materialized extends PassInput {
  /** Absolute paths of its files. */
  files: string[];
}

/** The outcome of `Pipeline.run`. The final model's files are fetched only when asked for. */
export class PipelineResult {
  /** Id of the final model (the last pass's output id, or the input's content id without passes). */
  readonly id: string;
  /** Id of the input model: its content hash, combined with its attributes when it has any. */
  readonly inputId: string;
  /** One report per pass, in pipeline order: how each output was obtained. */
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

  /**
   * Local path of the final model (a file, or the folder of a directory model); downloads it if
   * needed. It lies inside the cache: valid until the cache evicts it (then asking again fetches
   * or computes it again). Use {@link save} for a copy of your own.
   */
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
