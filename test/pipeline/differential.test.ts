// Differential suite for pipelines: random chains of passes over random inputs, attributes,
// configs (with and without defaults, defaults spelled out or left out) and accelerators, run on
// one long-lived cache, must give what the same run gives on an empty cache: the final model's
// bytes and attributes, and the evaluation. Seeded; MODELCACHE_PROPERTY_RUNS runs it longer.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pipeline, type AcceleratorSpec, type Pass, type PassContext, type PassInput } from '../../src/pipeline/index.js';
import { tempDir } from '../helpers.js';
import { propertyRuns } from '../property.js';

const ACCELERATORS: AcceleratorSpec[] = [
  { device: 'cpu', executionProvider: 'CPUExecutionProvider' },
  { device: 'gpu', executionProvider: 'CUDAExecutionProvider' },
];

/** What a pass makes of its input: every fact it may depend on, written into the output. */
function passOf(d: { type: string; version: number; agnostic: boolean; defaults: boolean }, config: Record<string, unknown>): Pass {
  return {
    type: d.type,
    version: d.version,
    config,
    ...(d.defaults ? { defaults: { level: 1, mode: 'fast' } } : {}),
    ...(d.agnostic ? { acceleratorAgnostic: true } : {}),
    run(input: PassInput, cfg: unknown, ctx: PassContext) {
      const text = readFileSync(input.path, 'utf8');
      const device = d.agnostic ? '-' : ctx.accelerator.device;
      const attrs = JSON.stringify(input.attributes, Object.keys(input.attributes).sort());
      writeFileSync(ctx.outputPath('m.txt'), `${text}|${d.type}@${d.version}${JSON.stringify(cfg, Object.keys(cfg as object).sort())}${device}${attrs}`);
      return { path: ctx.outputPath('m.txt'), attributes: { last: d.type, [`${d.type}Level`]: (cfg as { level?: unknown }).level ?? null } };
    },
  };
}

const passDef = fc.record({
  type: fc.constantFrom('Fuse', 'Quantize', 'Meta'),
  version: fc.constantFrom(1, 2),
  agnostic: fc.boolean(),
  defaults: fc.boolean(),
});
// Chosen per run: members left out, spelled out at their default, or changed.
const config = fc.constantFrom<Record<string, unknown>>({}, { level: 1 }, { level: 2 }, { mode: 'fast' }, { mode: 'slow', level: 1 }, { level: undefined });

// Runs pick one of a program's few chains, so that chains repeat over other inputs, attributes and accelerators.
const runDef = fc.record({
  chain: fc.nat(2),
  configs: fc.array(config, { minLength: 3, maxLength: 3 }),
  input: fc.nat(1),
  attributes: fc.constantFrom<Record<string, unknown> | undefined>(undefined, {}, { opset: 13 }, { opset: 17 }, { opset: 13, tag: 'a' }),
  accelerator: fc.nat(1),
});

const evaluator = {
  type: 'Probe',
  evaluate: (m: PassInput, _c: unknown, ctx: { accelerator: AcceleratorSpec }) => ({ text: readFileSync(m.path, 'utf8'), device: ctx.accelerator.device }),
};

describe('pipelines against a run on an empty cache (differential)', () => {
  const root = tempDir();
  let n = 0;

  it('random chains, inputs, attributes, configs and accelerators give what an empty cache gives', async () => {
    const inputs = ['model-a', 'model-b'].map((text) => {
      const p = join(root, `${text}.txt`);
      writeFileSync(p, text);
      return p;
    });
    const once = async (dir: string, defs: Pass[], r: { input: number; attributes?: Record<string, unknown>; accelerator: number }) => {
      const p = new Pipeline({ cache: dir, accelerator: ACCELERATORS[r.accelerator] });
      for (const d of defs) p.add(d);
      try {
        const result = await p.run(r.attributes ? { path: inputs[r.input], attributes: r.attributes } : inputs[r.input]);
        const evaluation = await p.evaluate(result, evaluator);
        return { text: readFileSync(await result.path(), 'utf8'), attributes: result.attributes, metrics: evaluation.metrics };
      } finally {
        await p.close();
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(passDef, { minLength: 5, maxLength: 5 }), fc.array(fc.array(fc.nat(4), { maxLength: 3 }), { minLength: 3, maxLength: 3 }), fc.array(runDef, { minLength: 1, maxLength: 6 }), async (pool, chains, runs) => {
        const shared = join(root, `s${n++}`);
        for (const r of runs) {
          const defs = chains[r.chain].map((i, k) => passOf(pool[i], r.configs[k]));
          const cached = await once(shared, defs, r);
          const fresh = await once(join(root, `f${n++}`), defs, r);
          expect(cached).toEqual(fresh);
        }
      }),
      propertyRuns(25),
    );
  });
});
