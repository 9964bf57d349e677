// What a built-in pass or evaluator is: a type, a version and a JSON Schema for its config (the one
// that also ships in the workflow schema, so editors and this code enforce the same rules), whose
// `default`s are its defaults. Instantiating one validates the config when it is given; the
// defaults are applied by the one rule every pass follows (`applyDefaults`), so a config written
// with a default value and without it name the same output.
import { CacheError } from '../../errors.js';
import type { Evaluator } from '../evaluate.js';
import { applyDefaults, type Pass, type PassContext, type PassInput, type PassOutput } from '../pass.js';
import { checkSchema, type Schema } from '../schema.js';

/** A built-in pass: `instantiate` turns a config into a {@link Pass}. */
export interface BuiltinPass<C extends object> {
  type: string;
  version: string;
  /** One line for the schema and docs. */
  description: string;
  /** The config's schema: an object schema with `additionalProperties: false`, a `default` per member that has one. */
  schema: Schema;
  /** True when the output does not depend on the accelerator (its id leaves the accelerator out). */
  acceleratorAgnostic: boolean;
  run(input: PassInput, config: C, ctx: PassContext): Promise<PassOutput>;
}

/** A built-in evaluator. */
export interface BuiltinEvaluator<C extends object> {
  type: string;
  version: string;
  description: string;
  schema: Schema;
  evaluate: Evaluator<C>['evaluate'];
}

/**
 * The defaults of a config schema: every member's `default` (a member without one is listed as
 * undefined, so that a config may name it). Copied, so a caller cannot change the schema's.
 */
export function schemaDefaults<C extends object>(schema: Schema): Partial<C> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(schema.properties ?? {})) out[k] = s.default === undefined ? undefined : structuredClone(s.default);
  return out as Partial<C>;
}

/** A TypeError with code ERR_BAD_INPUT whose message is `field: problem` (both kept apart too). */
export function configError(field: string, problem: string): TypeError & { field: string; problem: string } {
  const err = new TypeError(`${field}: ${problem}`) as TypeError & { code: string; field: string; problem: string };
  err.code = 'ERR_BAD_INPUT';
  err.field = field;
  err.problem = problem;
  return err;
}

/**
 * `config` (default `{}`) checked against `schema`; errors name `name` and the field. A member
 * that is `undefined` is left out: it takes its default, as in every pass.
 */
function checkConfig(schema: Schema, config: unknown, name: string): object {
  const given = config !== null && typeof config === 'object' && !Array.isArray(config) ? Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) : (config ?? {});
  const problem = checkSchema(given, schema, name);
  if (problem) throw configError(problem.path, problem.message);
  return given as object;
}

/** A pass of a built-in kind with `config` (validated now; its defaults applied when it is added). */
export function instantiate<C extends object>(def: BuiltinPass<C>, config: unknown, name = 'config'): Pass<C> {
  return {
    type: def.type,
    version: def.version,
    config: checkConfig(def.schema, config, name) as C,
    defaults: schemaDefaults<C>(def.schema),
    acceleratorAgnostic: def.acceleratorAgnostic,
    run: (input, cfg, ctx) => def.run(input, cfg, ctx),
  };
}

/** An evaluator of a built-in kind with `config` (validated now; defaults applied). */
export function instantiateEvaluator<C extends object>(def: BuiltinEvaluator<C>, config: unknown, name = 'config'): Evaluator<C> {
  const full = applyDefaults(name, checkConfig(def.schema, config, name), schemaDefaults(def.schema)) as C;
  return { type: def.type, version: def.version, config: full, evaluate: def.evaluate };
}

/** Thrown by a pass for a model it cannot handle. */
export function passInputError(message: string): CacheError {
  return new CacheError('ERR_BAD_INPUT', message);
}
