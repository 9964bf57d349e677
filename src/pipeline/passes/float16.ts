// OnnxFloatToFloat16: float32 -> float16 weights and compute, as onnxconverter-common's
// convert_float_to_float16 does it (same config names and defaults as Olive's pass of the same
// name, except keep_io_types, true here: callers keep feeding and reading float32). A model with
// external data keeps it: every external tensor is rewritten into one new model.onnx.data.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { convertFloatToFloat16, DEFAULT_OP_BLOCK_LIST } from '../../onnx/float16.js';
import { ExternalReader, ExternalWriter } from '../../onnx/external.js';
import { joinPieces } from '../../onnx/wire.js';
import { appendExternal, rebuildTensor, rewriteTensors, TensorField } from '../../ort/onnx.js';
import type { BuiltinPass } from './define.js';
import { readOnnxModel } from './onnx-model.js';

/** Config of the `OnnxFloatToFloat16` pass ({@link onnxFloatToFloat16}), with onnxconverter-common's option names. */
export interface OnnxFloatToFloat16Config {
  /** Graph inputs and outputs stay float32 (Casts at the edges). Default true. */
  keep_io_types: boolean;
  /** Op types kept in float32. Default onnxconverter-common's DEFAULT_OP_BLOCK_LIST. */
  op_block_list: string[];
  /** Node names kept in float32. Default []. */
  node_block_list: string[];
  /** Non-zero weights smaller in magnitude become this. Default 1e-7. */
  min_positive_val: number;
  /** Finite weights larger in magnitude become this. Default 1e4. */
  max_finite_val: number;
}

const DATA_FILE = 'model.onnx.data';
const names = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true } as const;

export const onnxFloatToFloat16Pass: BuiltinPass<OnnxFloatToFloat16Config> = {
  type: 'OnnxFloatToFloat16',
  version: '1',
  // Casts weights only: the same on every accelerator.
  acceleratorAgnostic: true,
  description: "float32 -> float16 weights and compute with Casts at float32 boundaries, as onnxconverter-common's convert_float_to_float16",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      keep_io_types: { type: 'boolean', default: true, description: 'Graph inputs and outputs stay float32.' },
      op_block_list: { ...names, items: { ...names.items }, default: [...DEFAULT_OP_BLOCK_LIST], description: 'Op types computed in float32 (replaces the default list).' },
      node_block_list: { ...names, items: { ...names.items }, default: [], description: 'Node names computed in float32.' },
      min_positive_val: { type: 'number', exclusiveMinimum: 0, default: 1e-7, description: 'Non-zero weights smaller in magnitude are raised to this.' },
      max_finite_val: { type: 'number', exclusiveMinimum: 0, default: 1e4, description: 'Finite weights larger in magnitude are lowered to this (float16 tops out at 65504).' },
    },
  },
  async run(input, config, ctx) {
    const model = await readOnnxModel(input);
    const options = {
      keepIoTypes: config.keep_io_types,
      opBlockList: config.op_block_list,
      nodeBlockList: config.node_block_list,
      minPositiveVal: config.min_positive_val,
      maxFiniteVal: config.max_finite_val,
    };
    const out = ctx.outputPath('model.onnx');
    if (!model.external) {
      const r = convertFloatToFloat16(model.bytes, options);
      await writeFile(out, joinPieces(r.model));
      ctx.log(`${r.tensors} tensors to float16, ${r.clamped} values clamped, ${r.casts} casts`);
      return { path: out, attributes: { float16: { tensors: r.tensors, clamped: r.clamped, casts: r.casts } } };
    }
    // Converted tensors are marked with a location no input can use, so that the second sweep
    // moves every other external tensor (any type, anywhere) into the same new file.
    const marker = `${DATA_FILE}.${randomBytes(8).toString('hex')}`;
    const reader = new ExternalReader(model.dir);
    const writer = new ExternalWriter(ctx.outputPath(DATA_FILE), DATA_FILE);
    try {
      const r = convertFloatToFloat16(model.bytes, options, { read: (t) => reader.read(t), write: (_t, bytes) => writer.write(bytes, marker) });
      const converted = joinPieces(r.model);
      const relocated = rewriteTensors(converted, (t) => {
        if (!t.external) return undefined;
        const entries = t.external.location === marker ? { ...t.external, location: DATA_FILE } : writer.write(reader.read(t));
        return rebuildTensor(converted, t, [TensorField.externalData, TensorField.dataLocation], (w) => appendExternal(w, entries));
      });
      await writeFile(out, joinPieces(relocated));
      ctx.log(`${r.tensors} tensors to float16, ${r.clamped} values clamped, ${r.casts} casts; external data ${writer.size} bytes`);
      return { path: ctx.outputDir, attributes: { float16: { tensors: r.tensors, clamped: r.clamped, casts: r.casts } } };
    } finally {
      reader.close();
      writer.close();
    }
  },
};
