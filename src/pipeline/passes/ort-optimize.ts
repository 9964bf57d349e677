// OrtGraphOptimization: onnxruntime's graph optimizer applied offline (fusions, constant folding,
// layout changes at level 'all'), the optimized graph saved as ONNX for the pipeline's accelerator.
// Weights go to an external data file when the input has one or the model nears protobuf's 2 GB
// limit (session config keys session.optimized_model_external_initializers_file_name and
// ..._min_size_in_bytes of onnxruntime_session_options_config_keys.h).
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AcceleratorSpec } from '../pass.js';
import { passInputError, type BuiltinPass } from './define.js';
import { readOnnxModel } from './onnx-model.js';

/** Config of the `OrtGraphOptimization` pass ({@link ortGraphOptimization}); the JSON names are those of workflow files. */
export interface OrtGraphOptimizationConfig {
  /** onnxruntime's graphOptimizationLevel. Default 'extended' (portable across machines of one platform). */
  level: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /** 'auto': external data when the input has some or weighs more than 1.9 GB. Default 'auto'. */
  external_data: 'auto' | 'always' | 'never';
  /** Initializers smaller than this stay inline when writing external data. Default 1024. */
  external_data_min_size: number;
}

/** Models at least this large (with their external data) are written with external data under 'auto'. */
export const AUTO_EXTERNAL_BYTES = 1_900_000_000;
const DATA_FILE = 'model.onnx.data';

/** The onnxruntime-node name of the accelerator's execution provider ('CUDAExecutionProvider' -> 'cuda'). */
export function executionProviderName(accelerator: AcceleratorSpec): string {
  const ep = accelerator.executionProvider ?? 'CPUExecutionProvider';
  return ep.replace(/ExecutionProvider$/, '').toLowerCase();
}

/** Size of a model input in bytes (a file, or every file of a folder). */
async function sizeOf(model: { file: string; dir: string; companions: string[] }): Promise<number> {
  let n = (await stat(model.file)).size;
  for (const c of model.companions) n += (await stat(join(model.dir, ...c.split('/')))).size;
  return n;
}

export const ortGraphOptimizationPass: BuiltinPass<OrtGraphOptimizationConfig> = {
  type: 'OrtGraphOptimization',
  version: '1',
  // onnxruntime fuses nodes per execution provider: the output depends on the accelerator.
  acceleratorAgnostic: false,
  description: "onnxruntime's graph optimizations applied offline and saved as ONNX (external data past 2 GB)",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      level: {
        enum: ['disabled', 'basic', 'extended', 'layout', 'all'],
        default: 'extended',
        description: "onnxruntime graphOptimizationLevel. 'extended' and below give models that load on any machine of the platform; 'layout' and 'all' may be specific to the CPU or provider.",
      },
      external_data: {
        enum: ['auto', 'always', 'never'],
        default: 'auto',
        description: "Write weights to model.onnx.data: 'auto' when the input has external data or weighs more than 1.9 GB.",
      },
      external_data_min_size: { type: 'integer', minimum: 0, default: 1024, description: 'Initializers smaller than this many bytes stay in the .onnx file.' },
    },
  },
  async run(input, config, ctx) {
    const { ort } = await import('../../ort/runtime.js');
    const model = await readOnnxModel(input);
    const external = config.external_data === 'always' || (config.external_data === 'auto' && (model.external || (await sizeOf(model)) >= AUTO_EXTERNAL_BYTES));
    if (model.external && !external) throw passInputError(`external_data is 'never' but model ${input.path} has external data; onnxruntime would point the optimized model at the input's data files`);
    const out = ctx.outputPath('model.onnx');
    const extra: Record<string, string> = external
      ? {
          'session.optimized_model_external_initializers_file_name': DATA_FILE,
          'session.optimized_model_external_initializers_min_size_in_bytes': String(config.external_data_min_size),
        }
      : {};
    const session = await ort.InferenceSession.create(model.file, {
      graphOptimizationLevel: config.level,
      optimizedModelFilePath: out,
      executionProviders: [executionProviderName(ctx.accelerator)],
      logSeverityLevel: 3,
      extra,
    });
    await session.release();
    ctx.log(`optimized at level ${config.level}${external ? ' with external data' : ''}`);
    // onnxruntime writes no data file when no initializer reaches the minimum size.
    return existsSync(ctx.outputPath(DATA_FILE)) ? ctx.outputDir : out;
  },
};
