// Small synthetic passes for pipeline tests: files of text, so a test can see what each did.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Pass } from '../../src/pipeline/index.js';

/** Appends `text` to the input file; counts its runs in `calls`. */
export function appendPass(text: string, calls: { n: number } = { n: 0 }, extra: Partial<Pass<{ text: string }>> = {}): Pass<{ text: string }> {
  return {
    type: 'Append',
    version: '1',
    config: { text },
    run(input, cfg, ctx) {
      calls.n++;
      writeFileSync(ctx.outputPath('model.txt'), readFileSync(input.path, 'utf8') + cfg.text);
      return ctx.outputPath('model.txt');
    },
    ...extra,
  };
}

/** A pass that throws `message`. */
export function failingPass(message: string, calls: { n: number } = { n: 0 }): Pass<{ message: string }> {
  return {
    type: 'Fails',
    config: { message },
    run() {
      calls.n++;
      throw new Error(message);
    },
  };
}
