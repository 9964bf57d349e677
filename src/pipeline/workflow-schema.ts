// The JSON Schema of a workflow file, composed from the built-in passes' and evaluators' config
// schemas. The same object validates workflows (./schema.ts) and is shipped as
// schema/workflow.schema.json for editors (`node scripts/workflow-schema.mjs` writes it; a test
// checks the shipped file is this object).
import { BUILTIN_EVALUATORS, BUILTIN_PASSES } from './passes/index.js';
import type { Schema } from './schema.js';

const CONTAINER_URL = 'a blob container URL such as https://<account>.blob.core.windows.net/<container>';
const nonEmpty: Schema = { type: 'string', minLength: 1 };

/** A pass or evaluator entry: a built-in `type`, or `module` (+ `export`) for one of your own. */
function entrySchema(kind: 'pass' | 'evaluator', builtins: Record<string, { description: string; schema: Schema }>): Schema {
  const names = Object.keys(builtins);
  const configs: Schema[] = names.map((type) => ({
    if: { required: ['type'], properties: { type: { const: type } }, not: { required: ['module'] } },
    then: { properties: { config: { $ref: `#/$defs/${type}` } } },
  }));
  return {
    type: 'object',
    additionalProperties: false,
    required: ['type'],
    properties: {
      type: {
        type: 'string',
        minLength: 1,
        description: `A built-in ${kind} (${names.join(', ')}), or the type of the ${kind} that \`module\` exports.`,
        examples: names,
      },
      ...(kind === 'pass' ? { name: { ...nonEmpty, description: 'Unique within the workflow. Default: type (type_2, type_3 for repeats).' } } : {}),
      version: {
        type: ['string', 'integer'],
        description: `Must equal the ${kind}'s own version when it declares one (a pin: a changed ${kind} fails instead of silently recomputing); otherwise it is the version. Default "1".`,
      },
      config: { type: 'object', description: `The ${kind}'s config: part of every id it produces.` },
      module: {
        ...nonEmpty,
        description: `Path of an ES module (relative to the workflow file) exporting the ${kind}: an object { type, version?, ${kind === 'pass' ? 'run' : 'evaluate'} } or a function (config) => such an object.`,
      },
      export: { ...nonEmpty, description: 'Name of the export of `module`. Default "default".' },
    },
    allOf: [
      {
        if: { required: ['module'] },
        else: {
          properties: {
            type: { enum: names, errorMessage: `one of the built-in ${kind === 'pass' ? 'passes' : 'evaluators'} ${names.map((n) => JSON.stringify(n)).join(', ')}, or a "module" exporting your own ${kind}` },
            export: { not: {}, errorMessage: 'no "export" without "module" (it names an export of that module)' },
          },
        },
      },
      ...configs,
    ],
  };
}

function defsOf(builtins: Record<string, { description: string; schema: Schema }>): Record<string, Schema> {
  return Object.fromEntries(Object.entries(builtins).map(([type, b]) => [type, { ...b.schema, description: b.description }]));
}

const cacheDir: Schema = {
  type: ['string', 'array'],
  minLength: 1,
  items: nonEmpty,
  minItems: 1,
  description:
    `A local folder, ${CONTAINER_URL} (the shared cache; the local one is then MODELCACHE_DIR or the platform cache dir), ` +
    'or a list of local folders and one such URL (as ["local_cache", "https://..."]): the first folder is written, the others only read.',
};

/** The workflow file's JSON Schema. */
export function workflowSchema(): Schema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'modelcache workflow',
    description: 'A model-optimization pipeline run by `modelcache pipeline run <file>` or Pipeline.fromWorkflow(file). Relative paths are relative to this file.',
    type: 'object',
    additionalProperties: false,
    required: ['input_model', 'passes'],
    properties: {
      $schema: { type: 'string' },
      input_model: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: { ...nonEmpty, description: 'The model: an .onnx file, or a folder with one .onnx file and its external data.' },
          attributes: { type: 'object', description: 'Facts about the model carried along the passes (JSON values).' },
        },
      },
      passes: {
        type: ['array', 'object'],
        items: { $ref: '#/$defs/pass' },
        additionalProperties: { $ref: '#/$defs/pass' },
        description: 'The passes in order: a list, or (as Olive writes them) an object whose keys name the passes.',
      },
      evaluator: { $ref: '#/$defs/evaluator' },
      accelerator: {
        type: 'object',
        additionalProperties: false,
        properties: {
          device: { ...nonEmpty, description: 'cpu, gpu, npu...; default cpu.' },
          execution_provider: { ...nonEmpty, description: 'onnxruntime execution provider; default CPUExecutionProvider.' },
        },
        description: 'Part of every output id: what the model is optimized for.',
      },
      output_dir: { ...nonEmpty, description: 'Folder the final model is exported to (with modelcache.json describing it).' },
      cache_dir: cacheDir,
      cache_config: {
        type: 'object',
        additionalProperties: false,
        properties: {
          cache_dir: cacheDir,
          account_name: { type: 'string', pattern: '^[a-z0-9]{3,24}$', errorMessage: 'a storage account name (3-24 lowercase letters and digits)' },
          container_name: { type: 'string', pattern: '^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$', errorMessage: 'a container name (3-63 lowercase letters, digits and single hyphens)' },
          update_shared_cache: { type: 'boolean', default: true, description: 'Upload outputs computed here to the shared cache.' },
          enable_shared_cache: { type: 'boolean', description: 'false: ignore the shared cache given here.' },
        },
        description: "Olive's cache settings: the shared cache in account_name + container_name, or in cache_dir.",
      },
    },
    $defs: {
      pass: entrySchema('pass', BUILTIN_PASSES),
      evaluator: entrySchema('evaluator', BUILTIN_EVALUATORS),
      ...defsOf(BUILTIN_PASSES),
      ...defsOf(BUILTIN_EVALUATORS),
    },
  };
}
