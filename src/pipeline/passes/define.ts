// What a built-in pass or evaluator is: a type, a version, a JSON Schema for its config (the one
// that also ships in the workflow schema, so editors and this code enforce the same rules) and
// defaults. Instantiating one validates the config when it is given and fills in the defaults, so
// a config written with a default value and without it name the same output.
import { CacheError } from '../../errors.js';
import type { Evaluator } from '../pipeline.js';
import type { Pass, PassContext, PassInput, PassOutput } from '../pass.js';
import { checkSchema, type Schema } from '../schema.js';

/** A built-in pass: `instantiate` turns a config into a {@link Pass}. */
export interface BuiltinPass<C extends object> {
  type: string;
  version: string;
  /** One line for the schema and docs. */
  description: string;
  /** The config's schema (an object schema with `additionalProperties: false`). */
  schema: Schema;
  defaults: C;
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
  defaults: C;
  evaluate: Evaluator<C>['evaluate'];
}

/** A TypeError with code ERR_BAD_INPUT whose message is `field: problem` (both kept apart too). */
export function configError(field: string, problem: string): TypeError & { field: string; problem: string } {
  const err = new TypeError(`${field}: ${problem}`) as TypeError & { code: string; field: string; problem: string };
  err.code = 'ERR_BAD_INPUT';
  err.field = field;
  err.problem = problem;
  return err;
}

/** `config` checked against `schema` (errors name `name` and the field), with defaults filled in. */
export function checkedConfig<C extends object>(schema: Schema, defaults: C, config: unknown, name: string): C {
  const given = config ?? {};
  const problem = checkSchema(given, schema, name);
  if (problem) throw configError(problem.path, problem.message);
  return { ...defaults, ...(given as Partial<C>) };
}

/** A pass of a built-in kind with `config` (validated now; defaults filled in). */
export function instantiate<C extends object>(def: BuiltinPass<C>, config: unknown, name = 'config'): Pass<C> {
  const full = checkedConfig(def.schema, def.defaults, config, name);
  return {
    type: def.type,
    version: def.version,
    config: full,
    acceleratorAgnostic: def.acceleratorAgnostic,
    run: (input, cfg, ctx) => def.run(input, cfg, ctx),
  };
}

/** An evaluator of a built-in kind with `config` (validated now; defaults filled in). */
export function instantiateEvaluator<C extends object>(def: BuiltinEvaluator<C>, config: unknown, name = 'config'): Evaluator<C> {
  const full = checkedConfig(def.schema, def.defaults, config, name);
  return { type: def.type, version: def.version, config: full, evaluate: def.evaluate };
}

/** Thrown by a pass for a model it cannot handle. */
export function passInputError(message: string): CacheError {
  return new CacheError('ERR_BAD_INPUT', message);
}
