// OnnxMetadata: sets the model's producer name and version, doc string and metadata_props (what
// onnxruntime reports as session metadata); the graph and weights are copied byte for byte.
import { writeFile } from 'node:fs/promises';
import { setMetadata } from '../../onnx/metadata.js';
import { joinPieces } from '../../onnx/wire.js';
import type { BuiltinPass } from './define.js';
import { copyCompanions, outputName, readOnnxModel } from './onnx-model.js';

/** Config of the `OnnxMetadata` pass ({@link onnxMetadata}): at least one member must be given. Unset fields keep the model's values. */
export interface OnnxMetadataConfig {
  /** Sets `ModelProto.producer_name`: the tool that made the model, as onnxruntime's session metadata reports it. */
  producer_name?: string;
  /** Sets `ModelProto.producer_version`. */
  producer_version?: string;
  /** Sets `ModelProto.doc_string`: a free-text description of the model. */
  doc_string?: string;
  /** Entries of metadata_props to set (an entry with the same key is replaced). */
  metadata_props: Record<string, string>;
  /** Remove every existing metadata_props entry first. Default false. */
  replace_metadata_props: boolean;
}

export const onnxMetadataPass: BuiltinPass<OnnxMetadataConfig> = {
  type: 'OnnxMetadata',
  version: '1',
  acceleratorAgnostic: true,
  description: "sets the model's producer name and version, doc string and metadata_props",
  schema: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      producer_name: { type: 'string', description: 'ModelProto.producer_name.' },
      producer_version: { type: 'string', description: 'ModelProto.producer_version.' },
      doc_string: { type: 'string', description: 'ModelProto.doc_string.' },
      metadata_props: {
        type: 'object',
        additionalProperties: { type: 'string' },
        propertyNames: { minLength: 1 },
        default: {},
        description: 'metadata_props entries to set (string values); an existing entry with the same key is replaced.',
      },
      replace_metadata_props: { type: 'boolean', default: false, description: 'Remove every existing metadata_props entry first.' },
    },
  },
  async run(input, config, ctx) {
    const model = await readOnnxModel(input);
    const bytes = setMetadata(model.bytes, {
      ...(config.producer_name !== undefined ? { producerName: config.producer_name } : {}),
      ...(config.producer_version !== undefined ? { producerVersion: config.producer_version } : {}),
      ...(config.doc_string !== undefined ? { docString: config.doc_string } : {}),
      props: config.metadata_props,
      replaceProps: config.replace_metadata_props,
    });
    const out = ctx.outputPath(outputName(model));
    await writeFile(out, joinPieces(bytes));
    if (model.companions.length === 0) return out;
    await copyCompanions(model.dir, model.companions, ctx.outputDir);
    return ctx.outputDir;
  },
};
