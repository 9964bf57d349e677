// OrtLatency: loads the model in onnxruntime on the pipeline's accelerator and times `runs`
// inferences on seeded pseudo-random inputs (after `warmup` untimed ones). Inputs with dynamic
// dimensions need their shape in `inputs`.
import { performance } from 'node:perf_hooks';
import { CacheError } from '../../errors.js';
import type { BuiltinEvaluator } from './define.js';
import { executionProviderName } from './ort-optimize.js';
import { readOnnxModel } from './onnx-model.js';

/**
 * Config of the `OrtLatency` evaluator ({@link ortLatency}): runs the model in onnxruntime on the
 * pipeline's accelerator with random inputs and reports `latency_avg_ms`, `latency_p50_ms`,
 * `latency_p90_ms`, `latency_min_ms` and `runs`. An input with dynamic dimensions and no shape
 * in `inputs`, or of an unsupported type, rejects with CacheError `ERR_BAD_INPUT`.
 */
export interface OrtLatencyConfig {
  /** Timed runs. Default 10. */
  runs: number;
  /** Untimed runs first. Default 1. */
  warmup: number;
  /** Shapes of inputs, by name (required for inputs with dynamic dimensions). */
  inputs: Record<string, number[]>;
}

const TYPED: Record<string, (n: number, next: () => number) => unknown> = {
  float32: (n, r) => Float32Array.from({ length: n }, r),
  float64: (n, r) => Float64Array.from({ length: n }, r),
  int32: (n, r) => Int32Array.from({ length: n }, () => Math.floor(r() * 16)),
  int64: (n, r) => BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 16))),
  bool: (n, r) => Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0)),
};

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export const ortLatencyEvaluator: BuiltinEvaluator<OrtLatencyConfig> = {
  type: 'OrtLatency',
  version: '1',
  description: 'inference latency in onnxruntime on the pipeline accelerator (ms: avg, p50, p90, min)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      runs: { type: 'integer', minimum: 1, maximum: 100000, default: 10, description: 'Timed runs.' },
      warmup: { type: 'integer', minimum: 0, maximum: 100000, default: 1, description: 'Untimed runs first.' },
      inputs: {
        type: 'object',
        additionalProperties: { type: 'array', items: { type: 'integer', minimum: 1 }, errorMessage: 'a shape: an array of positive integers' },
        default: {},
        description: 'Shape of each input by name; needed for inputs with dynamic dimensions.',
      },
    },
  },
  async evaluate(model, config, ctx) {
    const { ort } = await import('../../ort/runtime.js');
    const { file } = await readOnnxModel(model);
    const session = await ort.InferenceSession.create(file, { executionProviders: [executionProviderName(ctx.accelerator)], logSeverityLevel: 3 });
    try {
      let seed = 0x9e3779b9;
      const next = () => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return ((seed >>> 0) / 4294967296) * 2 - 1;
      };
      const feeds: Record<string, unknown> = {};
      for (const meta of session.inputMetadata) {
        if (!meta.isTensor) throw new CacheError('ERR_BAD_INPUT', `OrtLatency: input ${meta.name} is not a tensor`);
        const shape = config.inputs[meta.name] ?? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : NaN));
        if (shape.some((d) => !Number.isInteger(d))) throw new CacheError('ERR_BAD_INPUT', `OrtLatency: input ${meta.name} has dynamic dimensions (${JSON.stringify(meta.shape)}); give its shape in config.inputs.${meta.name}`);
        const make = TYPED[meta.type];
        if (!make) throw new CacheError('ERR_BAD_INPUT', `OrtLatency: input ${meta.name} has type ${meta.type}; supported: ${Object.keys(TYPED).join(', ')}`);
        const n = shape.reduce((a, b) => a * b, 1);
        feeds[meta.name] = new ort.Tensor(meta.type as 'float32', make(n, next) as Float32Array, shape);
      }
      for (let i = 0; i < config.warmup; i++) await session.run(feeds as never);
      const times: number[] = [];
      for (let i = 0; i < config.runs; i++) {
        const t0 = performance.now();
        await session.run(feeds as never);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      const round = (x: number) => Math.round(x * 1000) / 1000;
      return {
        latency_avg_ms: round(times.reduce((a, b) => a + b, 0) / times.length),
        latency_p50_ms: round(quantile(times, 0.5)),
        latency_p90_ms: round(quantile(times, 0.9)),
        latency_min_ms: round(times[0]),
        runs: times.length,
      };
    } finally {
      await session.release();
    }
  },
};
