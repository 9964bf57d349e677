// Run records, evaluation results and remembered failures of pipelines, stored as JSON values of
// a Cache in namespaces of their own: `pipeline.run` (keyed by run id) and `pipeline.failure`
// (keyed by output id) stay on this machine; `pipeline.eval` (keyed by evaluation id) is shared
// when the evaluation may be. Each is one value written in one commit: a reader never sees half.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Cache } from '../cache.js';
import { logDebug, warn } from '../log.js';
import { NAMESPACES } from '../store/namespace.js';
import type { ModelFile } from './model.js';
import type { PassRef } from './pass.js';

/** The modelcache version written into records. */
export const MODELCACHE_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const HOST = hostname();

/**
 * What a pass run did: written for every computation, successful or not, and for every output
 * this machine took from the shared cache (`status: 'shared'`, with the computing run's fields).
 */
export interface RunRecord {
  /** Id of this record: time-sortable (base-36 start time, then random hex). */
  runId: string;
  /** The pass that ran. */
  pass: PassRef;
  /** Id of the model it ran on. */
  inputId: string;
  /** Id of the output (the cache key it is stored under). */
  outputId: string;
  /** The canonical config (sorted keys; instances described, e.g. "<Tokenizer>"). */
  config: unknown;
  /** The pipeline's accelerator, canonical (recorded even for an accelerator-agnostic pass, whose output id leaves it out). */
  accelerator: unknown;
  /** When the computation started, ms since epoch (for 'shared': on the machine that computed it). */
  start: number;
  /** How long the pass ran, ms. */
  durationMs: number;
  /** 'shared': computed elsewhere and taken from the shared cache (see `served`). */
  status: 'ok' | 'failed' | 'shared';
  /** status 'failed': the message of what the pass threw. */
  error?: string;
  /** Whether the output may be shared (false: a config value of this pass or one before had no portable encoding). */
  shareable: boolean;
  /** The modelcache version that ran it. */
  modelcacheVersion: string;
  /** The machine that computed it. */
  host: string;
  /** Successful runs: `'file'` (a model file with its external data) or `'dir'` (a folder model). */
  kind?: 'file' | 'dir';
  /** The output's files with their hashes (successful runs). */
  files?: ModelFile[];
  /** status 'shared': when and where this machine took the output from the shared cache. */
  served?: {
    /** When this machine took the output, ms since epoch. */
    at: number;
    /** This machine's host name. */
    host: string;
    /** The id this record is stored under here (`runId` above is the same). */
    runId: string;
  };
}

/** A cached evaluation result. */
export interface EvaluationRecord {
  /** Id of this evaluation (model id + evaluator). */
  id: string;
  /** Id of the model evaluated. */
  modelId: string;
  /** The evaluator that produced it. */
  evaluator: {
    /** Its `type`. */
    type: string;
    /** Its version, as a string (`'1'` when none was given). */
    version: string;
    /** Its config, canonical (sorted keys). */
    config: unknown;
  };
  /** What `evaluate` returned, as JSON. */
  metrics: Record<string, unknown>;
  /** When the evaluation started, ms since epoch (on the machine that ran it). */
  start: number;
  /** How long `evaluate` took, ms. */
  durationMs: number;
  /** The modelcache version that ran it. */
  modelcacheVersion: string;
  /** The machine that ran it. */
  host: string;
}

const RUN = NAMESPACES.pipelineRun;
const EVAL = NAMESPACES.pipelineEval;
const FAILURE = NAMESPACES.pipelineFailure;

/** A fresh run id (sortable by time). */
export function newRunId(start: number): string {
  return `${start.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

/** When a record's run happened here: its start, or when this machine took it from the shared cache. */
export function recordTime(r: RunRecord): number {
  return r.served?.at ?? r.start;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isRun(v: unknown): v is RunRecord {
  return isRecord(v) && typeof v.runId === 'string' && isRecord(v.pass) && typeof v.outputId === 'string' && Number.isFinite(v.start) && typeof v.status === 'string';
}

function isEvaluation(v: unknown, id?: string): v is EvaluationRecord {
  return isRecord(v) && typeof v.id === 'string' && (id === undefined || v.id === id) && isRecord(v.metrics) && isRecord(v.evaluator);
}

/** The records of one Cache (its local tiers, and for evaluations its shared tier when allowed). */
export class RecordStore {
  readonly #cache: Cache;

  constructor(cache: Cache) {
    this.#cache = cache;
  }

  async #put(ns: string, key: string, value: unknown, shared: boolean): Promise<void> {
    await this.#cache.put(key, Buffer.from(JSON.stringify(value)), { namespace: ns, kind: ns, shared });
  }

  async #get(ns: string, key: string, shared: boolean): Promise<unknown> {
    const v = await this.#cache.get(key, { namespace: ns, shared });
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v.toString('utf8'));
    } catch {
      logDebug(`pipeline records: unreadable ${ns}/${key}`);
      return undefined;
    }
  }

  /** Every local value of `ns` that `valid` accepts. */
  async #all<T>(ns: string, valid: (v: unknown) => v is T): Promise<T[]> {
    const keys = new Set<string>();
    for await (const e of this.#cache.entries(ns, { shared: false })) keys.add(e.key);
    const out: T[] = [];
    for (const key of keys) {
      const v = await this.#get(ns, key, false);
      if (valid(v)) out.push(v);
    }
    return out;
  }

  putRun(rec: RunRecord): Promise<void> {
    return this.#put(RUN, rec.runId, rec, false);
  }

  /** Run records, oldest first. */
  async runs(): Promise<RunRecord[]> {
    return (await this.#all(RUN, isRun)).sort((a, b) => recordTime(a) - recordTime(b) || a.runId.localeCompare(b.runId));
  }

  /** Stores an evaluation here, and in the shared tier when `shared`. */
  putEvaluation(rec: EvaluationRecord, shared: boolean): Promise<void> {
    return this.#put(EVAL, rec.id, rec, shared);
  }

  /** The evaluation `id`: from the local tiers, or with `shared` also from the shared tier (kept locally then). */
  async evaluation(id: string, shared: boolean): Promise<EvaluationRecord | undefined> {
    const v = await this.#get(EVAL, id, shared);
    if (v === undefined || isEvaluation(v, id)) return v;
    warn('ERR_CORRUPT', `pipeline evaluation ${id} is unusable; dropped`);
    await this.#cache.delete(id, { namespace: EVAL, shared: false });
    return undefined;
  }

  /** Evaluations stored locally, oldest first. */
  async evaluations(): Promise<EvaluationRecord[]> {
    return (await this.#all(EVAL, (v): v is EvaluationRecord => isEvaluation(v))).sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
  }

  /** Records that the pass producing `rec.outputId` failed (only with `cacheFailures: true`). */
  putFailure(rec: RunRecord): Promise<void> {
    return this.#put(FAILURE, rec.outputId, rec, false);
  }

  async failure(outputId: string): Promise<RunRecord | undefined> {
    const v = await this.#get(FAILURE, outputId, false);
    return isRun(v) ? v : undefined;
  }
}
