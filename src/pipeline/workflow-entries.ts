// The passes and the evaluator of a workflow file: a built-in by `type`, or what a module exports.
// Export convention: `module` (a path relative to the workflow file) exports, as `export` (default
// "default"), either the pass itself, `{ type, version?, run(input, config, ctx) }` (an evaluator:
// `evaluate(model, config, ctx)`), which gets the workflow's `config`, or a factory
// `(config) => pass` called with it (its returned `config`, if any, is the one that is hashed).
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { Evaluator } from './evaluate.js';
import { applyDefaults, type Pass } from './pass.js';
import { BUILTIN_EVALUATORS, BUILTIN_PASSES } from './passes/index.js';
import { instantiate, instantiateEvaluator } from './passes/define.js';
import { describeValue } from './schema.js';

/** Reports a problem with a field and stops loading. */
export type Fail = (field: string, message: string, cause?: unknown) => never;

/** A pass of a workflow, loaded. */
export interface LoadedEntry {
  /** The name given in the file (or its key in the object form); undefined: the pipeline's default. */
  name?: string;
  type: string;
  version: string;
  config: unknown;
  /** 'builtin', or the module's absolute path. */
  source: string;
  pass: Pass;
}

type Kind = 'pass' | 'evaluator';
const METHOD: Record<Kind, string> = { pass: 'run', evaluator: 'evaluate' };

/** The error a built-in's config check throws carries its field path apart from its message. */
function rethrowConfig(err: unknown, fail: Fail): never {
  const e = err as Error & { field?: string; problem?: string };
  if (e.field !== undefined && e.problem !== undefined) return fail(e.field, e.problem, err);
  throw err;
}

async function importExport(kind: Kind, entry: Record<string, unknown>, at: string, base: string, fail: Fail): Promise<{ impl: Record<string, unknown>; factory: boolean }> {
  const path = resolve(base, entry.module as string);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    return fail(`${at}.module`, `cannot import ${path} (${(err as Error).message})`, err);
  }
  const name = (entry.export as string | undefined) ?? 'default';
  const field = entry.export !== undefined ? `${at}.export` : `${at}.module`;
  const value = mod[name];
  const exported = Object.keys(mod).sort();
  const what = `an object { type, version?, ${METHOD[kind]}(...) } or a function (config) => such an object`;
  if (value === undefined) {
    return fail(field, `${path} has no ${name === 'default' ? 'default export' : `export ${JSON.stringify(name)}`} (its exports: ${exported.length ? exported.join(', ') : 'none'}); expected it to export the ${kind} as ${what}`);
  }
  let impl: unknown = value;
  if (typeof value === 'function') {
    try {
      impl = await (value as (config: unknown) => unknown)(entry.config ?? {});
    } catch (err) {
      return fail(`${at}.config`, `the ${kind} factory ${name} of ${path} refused it: ${(err as Error).message}`, err);
    }
  }
  if (impl === null || typeof impl !== 'object' || typeof (impl as Record<string, unknown>)[METHOD[kind]] !== 'function') {
    return fail(field, `${name === 'default' ? 'the default export' : `export ${JSON.stringify(name)}`} of ${path} is not a ${kind}: expected ${what}, got ${typeof value === 'function' ? `a function returning ${describeValue(impl)}` : describeValue(impl)}`);
  }
  return { impl: impl as Record<string, unknown>, factory: typeof value === 'function' };
}

/** Type, version and config of a module's pass or evaluator, checked against the workflow's. */
function reconcile(kind: Kind, { impl, factory }: { impl: Record<string, unknown>; factory: boolean }, entry: Record<string, unknown>, at: string, fail: Fail): { version: string; config: unknown } {
  if (impl.type !== undefined && impl.type !== entry.type) fail(`${at}.type`, `the module's ${kind} is of type ${describeValue(impl.type)}, not ${describeValue(entry.type)}`);
  const own = impl.version === undefined ? undefined : String(impl.version);
  if (own !== undefined && entry.version !== undefined && String(entry.version) !== own) {
    fail(`${at}.version`, `the module's ${JSON.stringify(entry.type)} is version ${JSON.stringify(own)}; the workflow pins ${JSON.stringify(String(entry.version))}`);
  }
  const config = factory ? (impl.config ?? entry.config) : (entry.config ?? impl.config);
  return { version: own ?? (entry.version !== undefined ? String(entry.version) : '1'), config };
}

function pinnedVersion(builtin: { type: string; version: string }, entry: Record<string, unknown>, at: string, fail: Fail): void {
  if (entry.version !== undefined && String(entry.version) !== builtin.version) {
    fail(`${at}.version`, `the built-in ${JSON.stringify(builtin.type)} is version ${JSON.stringify(builtin.version)}; the workflow pins ${JSON.stringify(String(entry.version))}`);
  }
}

/** Loads the pass at `at` (`key`: its key in the object form of `passes`). */
export async function loadPass(entry: Record<string, unknown>, at: string, key: string | undefined, base: string, fail: Fail): Promise<LoadedEntry> {
  if (key !== undefined && entry.name !== undefined && entry.name !== key) fail(`${at}.name`, `${describeValue(entry.name)} differs from the pass's key ${JSON.stringify(key)}`);
  const name = (entry.name as string | undefined) ?? key;
  const type = entry.type as string;
  if (entry.module === undefined) {
    const def = BUILTIN_PASSES[type];
    pinnedVersion(def, entry, at, fail);
    let pass: Pass;
    try {
      pass = instantiate(def, entry.config, `${at}.config`);
    } catch (err) {
      return rethrowConfig(err, fail);
    }
    const config = applyDefaults(at, pass.config, pass.defaults); // what the id is computed from
    return { ...(name !== undefined ? { name } : {}), type, version: def.version, config, source: 'builtin', pass: { ...pass, ...(name !== undefined ? { name } : {}) } };
  }
  const loaded = await importExport('pass', entry, at, base, fail);
  const { version, config } = reconcile('pass', loaded, entry, at, fail);
  const impl = loaded.impl;
  const run = impl.run as Pass['run'];
  const extra = Object.fromEntries(['defaults', 'acceleratorAgnostic'].filter((k) => impl[k] !== undefined).map((k) => [k, impl[k]]));
  const pass = { ...extra, type, version, config, ...(name !== undefined ? { name } : {}), run: (input, cfg, ctx) => run.call(impl, input, cfg, ctx) } as Pass;
  return { ...(name !== undefined ? { name } : {}), type, version, config, source: resolve(base, entry.module as string), pass };
}

/** Loads the evaluator at `at`. */
export async function loadEvaluator(entry: Record<string, unknown>, at: string, base: string, fail: Fail): Promise<{ evaluator: Evaluator }> {
  const type = entry.type as string;
  if (entry.module === undefined) {
    const def = BUILTIN_EVALUATORS[type];
    pinnedVersion(def, entry, at, fail);
    try {
      return { evaluator: instantiateEvaluator(def, entry.config, `${at}.config`) };
    } catch (err) {
      return rethrowConfig(err, fail);
    }
  }
  const loaded = await importExport('evaluator', entry, at, base, fail);
  const { version, config } = reconcile('evaluator', loaded, entry, at, fail);
  const impl = loaded.impl;
  const evaluate = impl.evaluate as Evaluator['evaluate'];
  return { evaluator: { type, version, config, evaluate: (model, cfg, ctx) => evaluate.call(impl, model, cfg, ctx) } };
}
