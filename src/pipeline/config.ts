// Canonical form of a pass's config: what its output id is computed from, what run records show,
// and whether it may be shared. Values with no portable encoding (functions, class instances,
// symbols) still give a stable local key, but turn sharing off; the first one is named by path.
import { invalidType } from '../errors.js';
import { hash } from '../hash.js';
import { encodeKey } from '../keys.js';

/** A config in canonical form. */
export interface CanonicalConfig {
  /** What keys are computed from: plain data only (functions and instances replaced by descriptions). */
  value: unknown;
  /** Readable JSON of the config for records (sorted keys; unportable values described). */
  json: unknown;
  /** True when every value has a portable encoding, so outputs may be shared across machines. */
  shareable: boolean;
  /** Path and description of the first unportable value (e.g. `config.callback (a function)`). */
  problem?: string;
}

function pathOf(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

interface State {
  problem?: string;
  seen: Set<object>;
}

function localOnly(state: State, path: string, what: string): void {
  state.problem ??= `${path} (${what})`;
}

/** Returns [key value, json value]; `undefined` members of objects are dropped (as JSON does). */
function walk(v: unknown, path: string, state: State): [unknown, unknown] {
  switch (typeof v) {
    case 'undefined':
    case 'boolean':
    case 'string':
      return [v, v];
    case 'number':
      // JSON has no NaN/Infinity/-0: keep them exact in the key, readable in the record.
      return [v, Number.isFinite(v) && !Object.is(v, -0) ? v : String(Object.is(v, -0) ? '-0' : v)];
    case 'bigint':
      return [v, `${v}n`];
    case 'symbol':
      localOnly(state, path, 'a symbol');
      return [{ $symbol: v.description ?? '' }, `<symbol ${v.description ?? ''}>`];
    case 'function': {
      localOnly(state, path, 'a function');
      const source = Function.prototype.toString.call(v);
      return [{ $function: source }, `<function ${v.name || 'anonymous'}>`];
    }
  }
  if (v === null) return [null, null];
  const obj = v as object;
  if (state.seen.has(obj)) {
    localOnly(state, path, 'a circular reference');
    return [{ $cycle: true }, '<circular>'];
  }
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    const bytes = obj instanceof ArrayBuffer ? new Uint8Array(obj) : new Uint8Array(obj.buffer, obj.byteOffset, obj.byteLength);
    const name = (obj as object).constructor?.name ?? 'bytes';
    return [obj, `<${name} ${bytes.byteLength} bytes ${hash(bytes).slice(0, 16)}>`];
  }
  if (obj instanceof Date) {
    return [{ $date: obj.toISOString() }, obj.toISOString()];
  }
  state.seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const key: unknown[] = [];
      const json: unknown[] = [];
      obj.forEach((item, i) => {
        const [k, j] = walk(item, pathOf(path, i), state);
        key.push(k);
        json.push(j === undefined ? null : j);
      });
      return [key, json];
    }
    const proto = Object.getPrototypeOf(obj);
    const plain = proto === Object.prototype || proto === null;
    const key: Record<string, unknown> = {};
    const json: Record<string, unknown> = {};
    for (const name of Object.keys(obj).sort()) {
      const member = (obj as Record<string, unknown>)[name];
      if (member === undefined) continue;
      const [k, j] = walk(member, pathOf(path, name), state);
      key[name] = k;
      json[name] = j;
    }
    if (plain) return [key, json];
    // A class instance: its class's source and own fields identify it here, not elsewhere.
    const ctor = (proto as { constructor?: unknown }).constructor;
    const className = typeof ctor === 'function' ? ctor.name || 'anonymous class' : 'object';
    localOnly(state, path, `an instance of ${className}`);
    const source = typeof ctor === 'function' ? Function.prototype.toString.call(ctor) : '';
    return [{ $class: className, $source: source, $fields: key }, { [`<${className}>`]: json }];
  } finally {
    state.seen.delete(obj);
  }
}

/**
 * The canonical form of `config` (named `name` in messages). Object keys are sorted and members
 * that are `undefined` dropped, so `{ a: 1, b: undefined }` and `{ a: 1 }` are the same config.
 */
export function canonicalConfig(config: unknown, name = 'config'): CanonicalConfig {
  const state: State = { seen: new Set() };
  const [value, json] = walk(config, name, state);
  return { value, json: json === undefined ? null : json, shareable: state.problem === undefined, ...(state.problem ? { problem: state.problem } : {}) };
}

/** Key format of pipeline ids: bumped when what an id covers changes. */
export const PIPELINE_KEY_VERSION = 1;

/**
 * The id of a pass's output: XXH3-128 (32 hex chars) over the pass type, version, canonical
 * config, input model id and accelerator spec. Computed before the pass runs: a cached chain is
 * found from ids alone, without hashing (or downloading) any output.
 */
export function outputId(parts: { type: string; version: string; config: CanonicalConfig; inputId: string; accelerator: CanonicalConfig }): string {
  if (!/^[0-9a-f]{32}$/.test(parts.inputId)) throw invalidType('inputId', 'a 32-hex model id', parts.inputId);
  return hash(encodeKey(`modelcache-pipeline-output-v${PIPELINE_KEY_VERSION}`, [parts.type, parts.version, parts.config.value, parts.inputId, parts.accelerator.value]).bytes);
}

/** The id of an evaluation: model id + evaluator type, version and canonical config. */
export function evaluationId(parts: { modelId: string; type: string; version: string; config: CanonicalConfig }): string {
  return hash(encodeKey(`modelcache-pipeline-eval-v${PIPELINE_KEY_VERSION}`, [parts.modelId, parts.type, parts.version, parts.config.value]).bytes);
}
