// Workflow files: a pipeline described in JSON as Olive users write one (input model, passes in
// order, evaluator, accelerator, output folder, cache in Olive's field names), validated as a
// whole before anything runs (one error naming the field path), then built into a Pipeline with
// built-in passes or passes imported from modules, run, and exported to its output folder.
// JSON only: the schema gives editors completion, and a YAML parser would be a runtime dependency
// for a second spelling of the same file.
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { CacheError, invalidType } from '../errors.js';
import { checkOutputDir, saveResult, type SavedModel } from './export.js';
import type { SharedTierTuning } from './location.js';
import type { ModelInput } from './model.js';
import { loadEvaluator, loadPass, type LoadedEntry } from './workflow-entries.js';
import { workflowCache, type WorkflowCacheFields } from './workflow-cache.js';
import { workflowSchema } from './workflow-schema.js';
import { checkSchema, memberPath } from './schema.js';
import { Pipeline, type Evaluator, type PipelineOptions, type PipelineResult } from './pipeline.js';
import type { AcceleratorSpec } from './pass.js';

/** A workflow that cannot be run: `field` is the path of the offending field (`passes[1].config.level`). */
export class WorkflowError extends CacheError {
  /** Path of the offending field, e.g. `passes[1].config.level` or `input_model.path`; `''` when the file as a whole is bad (unreadable, not JSON). */
  readonly field: string;
  /** The workflow file, absolute; undefined for a workflow given as an object. */
  readonly file: string | undefined;

  constructor(field: string, message: string, file?: string, options?: { cause?: unknown }) {
    super('ERR_BAD_INPUT', `${file ? `${file}: ` : ''}${field ? `${field}: ` : ''}${message}`, options);
    this.name = 'WorkflowError';
    this.field = field;
    this.file = file;
  }
}

/** Options of {@link loadWorkflow} / `Pipeline.fromWorkflow`. */
export interface WorkflowOptions {
  /** Where relative paths of a workflow object resolve. Default: the file's folder, else the working directory. */
  baseDir?: string;
  /** A local cache folder used instead of the workflow's (its shared cache is kept). */
  cacheDir?: string;
  /** Replace an earlier export in `output_dir`. Default false. */
  overwrite?: boolean;
  /** Receives the pipeline's events. */
  onEvent?: PipelineOptions['onEvent'];
  /** Tuning of the shared cache's blob client (timeouts, retries, progress bars). */
  sharedOptions?: SharedTierTuning;
}

interface WorkflowFile extends WorkflowCacheFields {
  input_model: { path: string; attributes?: Record<string, unknown> };
  passes: Record<string, unknown>[] | Record<string, Record<string, unknown>>;
  evaluator?: Record<string, unknown>;
  accelerator?: { device?: string; execution_provider?: string };
  output_dir?: string;
}

/** The outcome of {@link Workflow.run}. */
export interface WorkflowRun {
  /** The pipeline's result: pass reports, stats, ids and the final model. */
  result: PipelineResult;
  /** The export, when the workflow has an `output_dir`. */
  output?: SavedModel;
}

/** A loaded, valid workflow: its pipeline, input model and output folder. */
export class Workflow {
  /** The workflow file, absolute; undefined when the workflow was given as an object. */
  readonly file: string | undefined;
  /** The pipeline built from the workflow (its passes added, its cache open): `run` runs it; `close` closes it. */
  readonly pipeline: Pipeline;
  /** The input model (`input_model`), its path resolved against the workflow's folder. */
  readonly input: ModelInput;
  /** Where `run` exports the final model (`output_dir`, absolute); undefined when the workflow has none. */
  readonly outputDir: string | undefined;
  /** The passes as loaded (name, type, version, config, where each came from). */
  readonly passes: readonly LoadedEntry[];
  readonly #overwrite: boolean;

  /** @internal */
  constructor(init: { file?: string; pipeline: Pipeline; input: ModelInput; outputDir?: string; passes: LoadedEntry[]; overwrite: boolean }) {
    this.file = init.file;
    this.pipeline = init.pipeline;
    this.input = init.input;
    this.outputDir = init.outputDir;
    this.passes = init.passes;
    this.#overwrite = init.overwrite;
  }

  /** Runs the passes (only what is not cached) and exports the final model to `output_dir`. */
  async run(): Promise<WorkflowRun> {
    const result = await this.pipeline.run(this.input);
    if (this.outputDir === undefined) return { result };
    const output = await saveResult(result, this.outputDir, { overwrite: this.#overwrite }, this.passes.map((p) => ({ version: p.version, config: p.config })));
    return { result, output };
  }

  /** Waits for uploads and closes the pipeline. */
  close(): Promise<void> {
    return this.pipeline.close();
  }
}

async function readWorkflowFile(file: string): Promise<unknown> {
  if (/^\.ya?ml$/i.test(extname(file))) throw new WorkflowError('', 'YAML workflows are not supported; write the workflow as JSON (schema: modelcache/workflow.schema.json)', file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new WorkflowError('', `cannot be read (${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message})`, file);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WorkflowError('', `not valid JSON (${(err as Error).message})`, file);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function accelerator(a: WorkflowFile['accelerator']): AcceleratorSpec | undefined {
  if (a === undefined) return undefined;
  return { device: a.device ?? 'cpu', executionProvider: a.execution_provider ?? 'CPUExecutionProvider' };
}

/**
 * Loads a workflow: a path to a JSON file or the parsed object. Every field is checked and every
 * module imported before anything runs; the first problem throws a {@link WorkflowError}.
 */
export async function loadWorkflow(source: string | object, options: WorkflowOptions = {}): Promise<Workflow> {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
  const file = typeof source === 'string' ? resolve(source) : undefined;
  if (source === null || (typeof source !== 'string' && typeof source !== 'object')) throw invalidType('workflow', 'a workflow file path or object', source);
  const raw = file !== undefined ? await readWorkflowFile(file) : source;
  const fail = (field: string, message: string, cause?: unknown): never => {
    throw new WorkflowError(field, message, file, cause !== undefined ? { cause } : undefined);
  };
  const problem = checkSchema(raw, workflowSchema());
  if (problem) fail(problem.path, problem.message);
  const w = raw as WorkflowFile;
  const base = options.baseDir !== undefined ? resolve(options.baseDir) : file !== undefined ? dirname(file) : process.cwd();

  const inputPath = resolve(base, w.input_model.path);
  if (!(await exists(inputPath))) fail('input_model.path', `no such file or folder: ${inputPath}`);
  const outputDir = w.output_dir !== undefined ? resolve(base, w.output_dir) : undefined;
  if (outputDir !== undefined) {
    try {
      await checkOutputDir(outputDir, options.overwrite ?? false);
    } catch (err) {
      fail('output_dir', (err as Error).message);
    }
  }
  const cache = workflowCache(w, base, options.cacheDir, options.sharedOptions);
  if ('path' in cache && 'message' in cache) return fail(cache.path, cache.message);

  const entries = Array.isArray(w.passes) ? w.passes.map((p, i) => [memberPath('passes', i), p, undefined] as const) : Object.entries(w.passes).map(([k, p]) => [memberPath('passes', k), p, k] as const);
  const passes: LoadedEntry[] = [];
  const taken = new Map<string, string>();
  for (const [at, entry, key] of entries) {
    const loaded = await loadPass(entry, at, key, base, fail);
    if (loaded.name !== undefined) {
      const clash = taken.get(loaded.name);
      if (clash) fail(`${at}.name`, `${JSON.stringify(loaded.name)} is already the name of ${clash}`);
      taken.set(loaded.name, at);
    }
    passes.push(loaded);
  }
  let evaluator: Evaluator | undefined;
  if (w.evaluator !== undefined) evaluator = (await loadEvaluator(w.evaluator, 'evaluator', base, fail)).evaluator;

  let pipeline: Pipeline;
  try {
    const acc = accelerator(w.accelerator);
    pipeline = new Pipeline({ cache, ...(acc ? { accelerator: acc } : {}), ...(evaluator ? { evaluator } : {}), ...(options.onEvent ? { onEvent: options.onEvent } : {}) });
  } catch (err) {
    return fail(w.cache_config ? 'cache_config' : 'cache_dir', (err as Error).message, err);
  }
  for (const [i, p] of passes.entries()) {
    try {
      pipeline.add(p.pass);
    } catch (err) {
      await pipeline.close();
      fail(entries[i][0], (err as Error).message, err);
    }
  }
  return new Workflow({
    ...(file !== undefined ? { file } : {}),
    pipeline,
    input: { path: inputPath, ...(w.input_model.attributes ? { attributes: w.input_model.attributes } : {}) },
    ...(outputDir !== undefined ? { outputDir } : {}),
    passes,
    overwrite: options.overwrite ?? false,
  });
}
