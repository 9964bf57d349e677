// The built-in passes and evaluators by type name (what a workflow file's `type` refers to), and
// their factories for code: `onnxFloatToFloat16({ op_block_list: [...] })` is the Pass a workflow
// entry `{ "type": "OnnxFloatToFloat16", "config": { ... } }` gives, with the same output ids.
import type { Evaluator } from '../evaluate.js';
import type { Pass } from '../pass.js';
import { instantiate, instantiateEvaluator, type BuiltinEvaluator, type BuiltinPass } from './define.js';
import { onnxFloatToFloat16Pass, type OnnxFloatToFloat16Config } from './float16.js';
import { ortLatencyEvaluator, type OrtLatencyConfig } from './latency.js';
import { onnxMetadataPass, type OnnxMetadataConfig } from './metadata.js';
import { ortGraphOptimizationPass, type OrtGraphOptimizationConfig } from './ort-optimize.js';

export type { OnnxFloatToFloat16Config, OnnxMetadataConfig, OrtGraphOptimizationConfig, OrtLatencyConfig };

/** Built-in passes by type. */
export const BUILTIN_PASSES: Readonly<Record<string, BuiltinPass<object>>> = Object.freeze({
  [ortGraphOptimizationPass.type]: ortGraphOptimizationPass as unknown as BuiltinPass<object>,
  [onnxFloatToFloat16Pass.type]: onnxFloatToFloat16Pass as unknown as BuiltinPass<object>,
  [onnxMetadataPass.type]: onnxMetadataPass as unknown as BuiltinPass<object>,
});

/** Built-in evaluators by type. */
export const BUILTIN_EVALUATORS: Readonly<Record<string, BuiltinEvaluator<object>>> = Object.freeze({
  [ortLatencyEvaluator.type]: ortLatencyEvaluator as unknown as BuiltinEvaluator<object>,
});

/**
 * onnxruntime graph optimization saved as ONNX (needs onnxruntime-node).
 *
 * @example
 * pipeline.add(ortGraphOptimization({ level: 'extended' }))
 */
export function ortGraphOptimization(config: Partial<OrtGraphOptimizationConfig> = {}): Pass<OrtGraphOptimizationConfig> {
  return instantiate(ortGraphOptimizationPass, config);
}

/**
 * float32 -> float16 conversion as onnxconverter-common's convert_float_to_float16 (graph inputs
 * and outputs stay float32 unless `keep_io_types: false`).
 *
 * @example
 * pipeline.add(onnxFloatToFloat16({ op_block_list: [...DEFAULT_OP_BLOCK_LIST, 'BatchNormalization'] }))
 */
export function onnxFloatToFloat16(config: Partial<OnnxFloatToFloat16Config> = {}): Pass<OnnxFloatToFloat16Config> {
  return instantiate(onnxFloatToFloat16Pass, config);
}

/**
 * Sets producer name/version, doc string and metadata_props.
 *
 * @example
 * pipeline.add(onnxMetadata({ producer_name: 'my-team', metadata_props: { stage: 'release' } }))
 */
export function onnxMetadata(config: Partial<OnnxMetadataConfig>): Pass<OnnxMetadataConfig> {
  return instantiate(onnxMetadataPass, config);
}

/**
 * Latency of the model in onnxruntime on the pipeline's accelerator (needs onnxruntime-node).
 *
 * @example
 * new Pipeline({ evaluator: ortLatency({ runs: 20, inputs: { x: [1, 3, 48, 320] } }) })
 */
export function ortLatency(config: Partial<OrtLatencyConfig> = {}): Evaluator<OrtLatencyConfig> {
  return instantiateEvaluator(ortLatencyEvaluator, config);
}
