// Evaluations of models: cached by (model id, evaluator type, version, canonical config,
// accelerator), locally and, when the model's id and the evaluator's config are portable, in the
// shared tier. The model's files are fetched only when the evaluation must really run.
import { CacheError, checkOptionNames, invalidType } from '../errors.js';
import { canonicalConfig, evaluationId, type CanonicalConfig } from './config.js';
import type { AcceleratorSpec, PassInput } from './pass.js';
import { HOST, MODELCACHE_VERSION, type EvaluationRecord, type RecordStore } from './records.js';
import type { EvaluationResult, PipelineResult, PipelineStats } from './result.js';

/** Scores a model; its result is cached by (model id, evaluator type, version, canonical config, accelerator). */
export interface Evaluator<C = unknown> {
  /** What the evaluator measures (`'latency'`, `'accuracy'`, ...): part of the evaluation id. */
  type: string;
  /** Bump when `evaluate` changes what it measures. Default '1'. */
  version?: string | number;
  /**
   * Plain data passed to `evaluate`, part of the evaluation id. A function in it is a TypeError
   * when the pipeline is made; a class instance keeps the evaluation's result local (not shared).
   */
  config?: C;
  /**
   * Scores `model` (on local disk: a shared model is downloaded first) and returns metrics as a
   * plain object (kept as JSON); anything else rejects with CacheError `ERR_BAD_INPUT`. Runs only
   * when no cached result has the same id.
   */
  evaluate(model: PassInput, config: C, ctx: { accelerator: AcceleratorSpec }): Record<string, unknown> | Promise<Record<string, unknown>>;
}

export function checkEvaluator(name: string, e: unknown): void {
  if (e === null || typeof e !== 'object') throw invalidType(name, 'an evaluator { type, version?, config?, evaluate }', e);
  checkOptionNames(name, e, ['type', 'version', 'config', 'evaluate']);
  const ev = e as Evaluator;
  if (typeof ev.type !== 'string' || ev.type.length === 0) throw invalidType(`${name}.type`, 'non-empty string', ev.type);
  if (ev.version !== undefined && typeof ev.version !== 'string' && typeof ev.version !== 'number') throw invalidType(`${name}.version`, 'string or number', ev.version);
  if (typeof ev.evaluate !== 'function') throw invalidType(`${name}.evaluate`, 'function (model, config, ctx) => metrics', ev.evaluate);
  canonicalConfig(ev.config, `${name}.config`); // refused now when it cannot be keyed
}

/** What an evaluation needs of its pipeline. */
export interface EvaluateDeps {
  records: RecordStore;
  /** Evaluations may be read from (and, with `update`, written to) the shared tier. */
  shared: boolean;
  update: boolean;
  accelerator: CanonicalConfig;
  acceleratorSpec: AcceleratorSpec;
  count(key: keyof PipelineStats): void;
}

/** The evaluation of `target` by `evaluator`: cached, or run on its materialized files. */
export async function evaluateModel(d: EvaluateDeps, target: PipelineResult, evaluator: Evaluator): Promise<EvaluationResult> {
  const config = canonicalConfig(evaluator.config, 'evaluator.config');
  const version = String(evaluator.version ?? '1');
  const id = evaluationId({ modelId: target.id, type: evaluator.type, version, config, accelerator: d.accelerator });
  // Shared only when both the model's id and the evaluator's config are portable.
  const lastPass = target.passes[target.passes.length - 1];
  const shareable = d.shared && config.shareable && (lastPass ? lastPass.shareable : true);
  for (const where of shareable ? (['local', 'shared'] as const) : (['local'] as const)) {
    const rec = await d.records.evaluation(id, where === 'shared');
    if (rec) {
      d.count('evaluationHits');
      return { id, modelId: target.id, metrics: rec.metrics, cached: where };
    }
  }
  const model = await target.materialized();
  const start = Date.now();
  const t0 = performance.now();
  const { files: _files, ...view } = model;
  const metrics = await evaluator.evaluate(view, evaluator.config, { accelerator: d.acceleratorSpec });
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw new CacheError('ERR_BAD_INPUT', `evaluator ${evaluator.type} returned ${metrics === null ? 'null' : typeof metrics}; expected an object of metrics`);
  }
  const rec: EvaluationRecord = {
    id, modelId: target.id, evaluator: { type: evaluator.type, version, config: config.json }, metrics: JSON.parse(JSON.stringify(metrics)) as Record<string, unknown>,
    start, durationMs: performance.now() - t0, modelcacheVersion: MODELCACHE_VERSION, host: HOST,
  };
  d.count('evaluations');
  await d.records.putEvaluation(rec, shareable && d.update);
  return { id, modelId: target.id, metrics: rec.metrics, cached: false };
}
