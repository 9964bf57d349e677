// What a pass is (type, version, config, run) and how one run's output becomes a stored model:
// the pass writes into an empty folder (or returns a path elsewhere, which is copied in), and the
// result is normalised to a file model or a directory model with hashed files.
import { cp, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { CacheError, checkOptionNames, invalidType } from '../errors.js';
import { logDebug } from '../log.js';
import { canonicalConfig } from './config.js';
import { readModel, type ModelContent } from './model.js';

/** The input model as a pass receives it. */
export interface PassInput {
  /** The model file, or the folder of a directory model. Read only: never modify it. */
  path: string;
  /** `'file'`: one model file (with the external data files it names, beside it); `'dir'`: a folder model, `path` is the folder. */
  kind: 'file' | 'dir';
  /** The model's id (for the pipeline's input: content hash and attributes; for a pass output: its output id). */
  id: string;
  /**
   * Plain-data facts about the model (`{ precision: 'fp16' }`): those given with the pipeline's
   * input, merged with those each earlier pass returned. A copy: changing it changes nothing.
   */
  attributes: Record<string, unknown>;
}

/** How a pass hands back its output: a path (file or folder), optionally with attributes. */
export type PassOutput = string | {
  /** The output: a model file (its external data is taken along) or `ctx.outputDir` for a folder model; a path elsewhere is copied in. */
  path: string;
  /** Attributes to set on the output model, over those of the input (plain data, stored with the output). */
  attributes?: Record<string, unknown>;
} | void | undefined;

/** What the accelerator is: part of every output id (except those of accelerator-agnostic passes). */
export interface AcceleratorSpec {
  /** The device kind, e.g. `'cpu'` or `'gpu'`. */
  device?: string;
  /** The onnxruntime execution provider, e.g. `'CPUExecutionProvider'`. */
  executionProvider?: string;
  [key: string]: unknown;
}

/** Which pass: as a pass context gives it, and as run records keep it. */
export interface PassRef {
  /** The pass's `type`. */
  type: string;
  /** Its name in the pipeline (unique). */
  name: string;
  /** Its version, as a string (`'1'` when none was given). */
  version: string;
}

/** Given to a pass's `run`. */
export interface PassContext {
  /** An empty folder for the output; it is the output when `run` returns nothing. */
  outputDir: string;
  /** `join(outputDir, name)`; default name `model.onnx`. */
  outputPath(name?: string): string;
  /** The accelerator the output is made for (an error to read in an accelerator-agnostic pass). */
  accelerator: AcceleratorSpec;
  /** Which pass of the pipeline is running. */
  pass: PassRef;
  /** Id of the input model (the same as `input.id`). */
  inputId: string;
  /** Id the output will be cached under (32 hex): a pass can use it to name things it writes elsewhere. */
  outputId: string;
  /** A debug line (shown with NODE_DEBUG=modelcache). */
  log(message: string): void;
}

/**
 * A step of a pipeline. Its output is cached under the id of (type, version, canonical config
 * with defaults applied, input model id, accelerator unless `acceleratorAgnostic`): bump `version`
 * whenever `run` changes what it produces.
 */
export interface Pass<C = unknown> {
  /** What the pass does ('OnnxGraphOptimization', 'Float16', ...). */
  type: string;
  /** Version of the pass's code. Default '1'. */
  version?: string | number;
  /** Unique within the pipeline. Default: `type` (with `_2`, `_3` for repeats). */
  name?: string;
  /** Plain data (JSON-like values, typed arrays, Dates): part of the output id. A function is a TypeError; a class instance keeps the outputs local. */
  config?: C;
  /**
   * Default values of the config's top-level members. A config that leaves a member out (or
   * `undefined`) and one that spells out its default get the same output id, and `run` receives
   * the config with the defaults applied. With `defaults`, every config member must be one of
   * them (a misspelled member is a TypeError, as in Olive).
   */
  defaults?: Partial<C>;
  /**
   * True when the output does not depend on the accelerator (metadata, format conversion): its
   * output id leaves the accelerator out, so it is reused under every accelerator. Reading
   * `ctx.accelerator` in `run` is then an error.
   */
  acceleratorAgnostic?: boolean;
  /**
   * Produces the output from `input`: writes it into `ctx.outputDir` (and returns nothing, or
   * its path), or returns the path of a file or folder it wrote elsewhere (copied in). `config` is
   * the pass's config with `defaults` applied. What it throws fails the run with a
   * {@link PassError} (its `cause`); a failure is not cached unless `cacheFailures` is set.
   */
  run(input: PassInput, config: C, ctx: PassContext): PassOutput | Promise<PassOutput>;
}

/** A pass after validation. */
export interface NormalizedPass {
  type: string;
  version: string;
  name: string;
  /** The config with the defaults applied: what ids are computed from and what `run` receives. */
  config: unknown;
  acceleratorAgnostic: boolean;
  run: Pass['run'];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * `config` over `defaults` (top-level members; an `undefined` member takes its default): the one
 * rule for passes in code, built-in passes and evaluators. With defaults, every config member
 * must be one of them (a misspelled member is a TypeError, as in Olive).
 */
export function applyDefaults(name: string, config: unknown, defaults: unknown): unknown {
  if (defaults === undefined) return config;
  if (!isPlainObject(defaults)) throw invalidType(`${name}.defaults`, 'a plain object of default config values', defaults);
  if (config === undefined) return { ...defaults };
  if (!isPlainObject(config)) throw invalidType(`${name}.config`, 'a plain object (the pass declares defaults)', config);
  const merged: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(config)) {
    if (!Object.hasOwn(defaults, k)) {
      throw invalidType(`${name}.config.${k}`, `one of the members of ${name}.defaults (${Object.keys(defaults).join(', ') || 'none'})`, k);
    }
    if (v !== undefined) merged[k] = v;
  }
  return merged;
}

/** Validates a pass definition (`name` for messages, e.g. `pass #2`). */
export function normalizePass(name: string, pass: unknown, takenNames: ReadonlySet<string>): NormalizedPass {
  if (pass === null || typeof pass !== 'object') throw invalidType(name, 'a pass { type, version?, name?, config?, defaults?, acceleratorAgnostic?, run }', pass);
  checkOptionNames(name, pass, ['type', 'version', 'name', 'config', 'defaults', 'acceleratorAgnostic', 'run']);
  const p = pass as Pass;
  if (typeof p.type !== 'string' || p.type.length === 0 || p.type.length > 200) throw invalidType(`${name}.type`, 'non-empty string', p.type);
  if (p.version !== undefined && typeof p.version !== 'string' && typeof p.version !== 'number') throw invalidType(`${name}.version`, 'string or number', p.version);
  if (typeof p.run !== 'function') throw invalidType(`${name}.run`, 'function (input, config, ctx) => output', p.run);
  if (p.acceleratorAgnostic !== undefined && typeof p.acceleratorAgnostic !== 'boolean') throw invalidType(`${name}.acceleratorAgnostic`, 'boolean', p.acceleratorAgnostic);
  const config = applyDefaults(name, p.config, p.defaults);
  canonicalConfig(config, `${name}.config`); // a config that cannot be keyed is refused now, not at run()
  let passName: string;
  if (p.name !== undefined) {
    if (typeof p.name !== 'string' || p.name.length === 0) throw invalidType(`${name}.name`, 'non-empty string', p.name);
    if (takenNames.has(p.name)) throw new CacheError('ERR_BAD_INPUT', `${name}.name ${JSON.stringify(p.name)} is already used by another pass of this pipeline`);
    passName = p.name;
  } else {
    passName = p.type;
    for (let i = 2; takenNames.has(passName); i++) passName = `${p.type}_${i}`;
  }
  return { type: p.type, version: String(p.version ?? '1'), name: passName, config, acceleratorAgnostic: p.acceleratorAgnostic ?? false, run: p.run };
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

/** A pass's output, hashed: its files are `content.files`, relative to `root`. */
export interface CollectedOutput {
  content: ModelContent;
  root: string;
  attributes?: Record<string, unknown>;
}

/** What a pass returned: a path (or none) and the attributes it reported. */
function parseReturned(passName: string, returned: PassOutput): { path?: string; attributes?: Record<string, unknown> } {
  if (typeof returned === 'string') return { path: returned };
  if (returned === undefined || returned === null) return {};
  if (typeof returned !== 'object' || typeof (returned as { path?: unknown }).path !== 'string') {
    throw new CacheError('ERR_BAD_INPUT', `pass ${passName} returned ${typeof returned === 'object' ? 'an object without a path' : typeof returned}; expected nothing, a path, or { path, attributes? }`);
  }
  const a = (returned as { attributes?: unknown }).attributes;
  if (a !== undefined && (a === null || typeof a !== 'object' || Array.isArray(a))) throw new CacheError('ERR_BAD_INPUT', `pass ${passName} returned attributes that are not a plain object`);
  return { path: (returned as { path: string }).path, ...(a !== undefined ? { attributes: a as Record<string, unknown> } : {}) };
}

/**
 * Turns what a pass returned into the model to store from `modelDir` (its ctx.outputDir): a file
 * model is its file and the external data files it names (nothing else of the folder is kept); a
 * directory model is the whole folder. A path outside the folder is copied in first.
 */
export async function collectOutput(passName: string, returned: PassOutput, modelDir: string): Promise<CollectedOutput> {
  const { path: outPath, attributes } = parseReturned(passName, returned);
  const done = async (model: string): Promise<CollectedOutput> => ({ content: await readModel(model), root: modelDir, ...(attributes ? { attributes } : {}) });
  if (outPath === undefined) {
    // Nothing returned: the folder is the output; a single top-level file makes a file model.
    const entries = await readdir(modelDir, { withFileTypes: true });
    if (entries.length === 0) throw new CacheError('ERR_BAD_INPUT', `pass ${passName} wrote nothing into ctx.outputDir and returned no path`);
    return done(entries.length === 1 && entries[0].isFile() ? join(modelDir, entries[0].name) : modelDir);
  }
  const abs = resolve(outPath);
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw new CacheError('ERR_BAD_INPUT', `pass ${passName} returned ${outPath}, which does not exist`);
  }
  if (isInside(abs, modelDir)) {
    if (st.isDirectory() && abs !== modelDir) throw new CacheError('ERR_BAD_INPUT', `pass ${passName} returned a sub-folder of its outputDir; return outputDir itself for a directory model`);
    if (st.isFile() && dirname(abs) !== modelDir) throw new CacheError('ERR_BAD_INPUT', `pass ${passName} returned a file below a sub-folder of outputDir; write it at the top (ctx.outputPath())`);
    return done(abs);
  }
  // Outside the work folder (e.g. a tool wrote elsewhere): copied in, with its external data.
  logDebug(`pipeline: copying the output of ${passName} from ${abs}`);
  for (const entry of await readdir(modelDir)) await rm(join(modelDir, entry), { recursive: true, force: true });
  if (st.isDirectory()) {
    await cp(abs, modelDir, { recursive: true });
    return done(modelDir);
  }
  const source = await readModel(abs);
  for (const f of source.files) await cp(join(dirname(abs), ...f.path.split('/')), join(modelDir, ...f.path.split('/')));
  return done(join(modelDir, basename(abs)));
}
