// What pipeline ids are computed from: a pass's canonical config (with its defaults applied), the
// input model, the accelerator unless the pass is agnostic of it, and evaluations with their
// accelerator. A config holds plain data: a function, a symbol or a circular reference cannot be
// keyed (a closure's captured state is invisible to any hash) and is a TypeError naming its path.
// A class instance is merely unportable: keyed here by its class's code and own fields, it keeps
// the pass's outputs (and those after it) on this machine, never shared.
import { invalidType } from '../errors.js';
import { hash } from '../hash.js';
import { describeValue } from '../keycopy.js';
import { codeDigest, encodeKey, Opaque, unportableError } from '../keys.js';

/** A config in canonical form. */
export interface CanonicalConfig {
  /** Digest (32 hex chars) of the canonical encoding: what ids are computed from. */
  key: string;
  /** Readable JSON of the config for records (sorted keys; instances described, e.g. "<Tokenizer>"). */
  json: unknown;
  /** True when every value has a portable encoding, so outputs may be shared across machines. */
  shareable: boolean;
  /** Path and description of the first unportable value (e.g. `config.tokenizer (an instance of Tokenizer)`). */
  problem?: string;
}

const HINT = 'a config is plain data (JSON-like values, typed arrays, Dates); put the code in the pass\'s run() and the values it depends on in its config, and bump the pass version when the code changes';

/**
 * The canonical form of `config` (named `name` in messages). Object keys are sorted and members
 * that are `undefined` dropped, so `{ a: 1, b: undefined }` and `{ a: 1 }` are the same config.
 */
export function canonicalConfig(config: unknown, name = 'config'): CanonicalConfig {
  let problem: string | undefined;
  const { bytes, json } = describeValue(config, name, {
    dropUndefined: true,
    describe(u, path) {
      if (u.kind !== 'instance') throw unportableError(u, path, HINT);
      problem ??= `${path} (an instance of ${u.className})`;
      // Its class chain's code and its own fields identify it here, not elsewhere.
      const fields: Record<string, unknown> = {};
      for (const k of Object.keys(u.value)) fields[k] = (u.value as Record<string, unknown>)[k];
      return new Opaque('instance', `${u.className}\n${codeDigest(Object.getPrototypeOf(u.value))}`, `<${u.className}>`, fields);
    },
  });
  return { key: hash(bytes), json, shareable: problem === undefined, ...(problem ? { problem } : {}) };
}

/** Key format of pipeline ids: bumped when what an id covers changes. */
export const PIPELINE_KEY_VERSION = 2;

const HEX_ID = /^[0-9a-f]{32}$/;

/**
 * The id of a pass's output: XXH3-128 (32 hex chars) over the pass type, version, canonical
 * config (defaults applied), input model id and accelerator, which an accelerator-agnostic pass
 * leaves out (`accelerator: null`). Computed before the pass runs: a cached chain is found from
 * ids alone, without hashing (or downloading) any output.
 */
export function outputId(parts: { type: string; version: string; config: CanonicalConfig; inputId: string; accelerator: CanonicalConfig | null }): string {
  if (!HEX_ID.test(parts.inputId)) throw invalidType('inputId', 'a 32-hex model id', parts.inputId);
  const accelerator = parts.accelerator === null ? null : parts.accelerator.key;
  return hash(encodeKey(`modelcache-pipeline-output-v${PIPELINE_KEY_VERSION}`, [parts.type, parts.version, parts.config.key, parts.inputId, accelerator]));
}

/** The id of an evaluation: model id, evaluator type, version and canonical config, and the accelerator it ran on. */
export function evaluationId(parts: { modelId: string; type: string; version: string; config: CanonicalConfig; accelerator: CanonicalConfig }): string {
  return hash(encodeKey(`modelcache-pipeline-eval-v${PIPELINE_KEY_VERSION}`, [parts.modelId, parts.type, parts.version, parts.config.key, parts.accelerator.key]));
}

/**
 * The id of an input model: its content id alone when it has no attributes, else a hash of the
 * content id and the canonical attributes (a pass may read them). Attributes are plain data: a
 * value without a portable encoding is a TypeError naming it.
 */
export function inputModelId(contentId: string, attributes: Record<string, unknown> | undefined, name = 'model.attributes'): string {
  if (!attributes) return contentId;
  const { bytes, json } = describeValue(attributes, name, { dropUndefined: true, hint: 'model attributes are plain data (JSON-like)' });
  if (json !== null && typeof json === 'object' && Object.keys(json).length === 0) return contentId;
  return hash(encodeKey(`modelcache-pipeline-input-v${PIPELINE_KEY_VERSION}`, [contentId, hash(bytes)]));
}
