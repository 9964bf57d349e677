// Tensors and tensor functions for tensorCache tests, and a way to run real TypeScript decorator
// syntax: the fixture is compiled by the TypeScript compiler (as a user's build would) and imported.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

export interface T {
  type: string;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint16Array | Uint8Array;
}

export function f32(rows: number[][]): T {
  return { type: 'float32', dims: [rows.length, rows[0]?.length ?? 0], data: new Float32Array(rows.flat()) };
}

export function rowsOf(t: T): number[][] {
  const n = t.dims[0];
  const w = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) out.push(Array.from(t.data.subarray(i * w, (i + 1) * w) as Float32Array).map(Number));
  return out;
}

/** A row-wise function: out[i] = [sum(x[i]) * scale, x[i][0]]; records which rows it saw. */
export function rowFn(seen: number[][][] = []) {
  return async (x: T, scale = 1): Promise<T> => {
    const rows = rowsOf(x);
    seen.push(rows);
    return f32(rows.map((r) => [r.reduce((a, b) => a + b, 0) * scale, r[0]]));
  };
}

const ROOT = new URL('../../', import.meta.url);

/** Compiles TypeScript source with the real compiler and imports it. `modelcache` resolves to dist/. */
export async function importTs(dir: string, name: string, source: string, options: { legacy?: boolean } = {}): Promise<Record<string, unknown>> {
  const dist = new URL('dist/index.js', ROOT).href;
  const out = ts.transpileModule(source.replaceAll("'modelcache'", `'${dist}'`), {
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      experimentalDecorators: Boolean(options.legacy),
    },
  });
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.mjs`);
  writeFileSync(file, out.outputText);
  return import(pathToFileURL(file).href);
}
