// The public types tell the truth: checked by the TypeScript compiler on snippets a user would write.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';

const SRC = fileURLToPath(new URL('../../src/index.js', import.meta.url));

function typeErrors(source: string): string[] {
  const dir = join(tempDir(), 'types');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'snippet.ts');
  writeFileSync(file, source.replaceAll('MODELCACHE', SRC));
  const program = ts.createProgram([file], {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext, types: ['node'], skipLibCheck: true, lib: ['lib.es2023.d.ts'],
  });
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe('tensorCache types', () => {
  it('a wrapped synchronous function returns a Promise of its result, with .cache', () => {
    expect(typeErrors(`
      import { tensorCache, contentOf, type TensorLike } from 'MODELCACHE';
      const t: TensorLike = { type: 'float32', dims: [1, 1], data: new Float32Array(1) };
      const sync = (x: TensorLike, k: number): TensorLike => x;
      const m = tensorCache({ dependsOn: [2, contentOf('m.onnx')], rows: [0, 'texts'] })(sync);
      const ok: Promise<TensorLike> = m(t, 2);
      // @ts-expect-error the result is a Promise, not a tensor
      const wrong: TensorLike = m(t, 2);
      // @ts-expect-error the parameters are kept
      m(t, 'two');
      const hash: string = m.cache.moduleHash;
      const s: TensorLike = { type: 'string', dims: [2], data: ['a', 'b'] };
    `)).toEqual([]);
  });
});
