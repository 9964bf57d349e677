// Shared by the ort tests: inputs for the real models, output comparison, a small generated
// transformer with external data, a uniquely named cache dir per test, and what a cache dir holds.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { randomBytes, tempDir } from '../helpers.js';
import { DiskTier, type DiskEntry } from '../../src/store/disk/tier.js';
import { models } from '../models.js';
import { tokenIds, transformerModel } from '../../bench/lib/gen-transformer.mjs';

type Feeds = Record<string, ort.Tensor>;

function image(dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const noise = randomBytes(n, seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = noise[i] / 127.5 - 1;
  return new ort.Tensor('float32', data, dims);
}

/** Each real model with deterministic inputs it accepts. */
export const realModels: { name: string; path: string; feeds: () => Feeds }[] = [
  { name: 'PaddleOCR cls', path: models.ocrCls, feeds: () => ({ x: image([1, 3, 48, 192], 1) }) },
  { name: 'PaddleOCR det', path: models.ocrDet, feeds: () => ({ x: image([1, 3, 96, 128], 2) }) },
  { name: 'PaddleOCR rec', path: models.ocrRec, feeds: () => ({ x: image([1, 3, 48, 160], 3) }) },
  {
    name: 'Silero VAD v5',
    path: models.sileroVad,
    feeds: () => ({
      input: image([1, 512], 4),
      state: new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]),
      sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
    }),
  },
];

export const clsFeeds = realModels[0].feeds;

/** Runs a session and returns its outputs' bytes by name. */
export async function outputs(session: ort.InferenceSession, feeds: Feeds): Promise<Record<string, Buffer>> {
  const out = await session.run(feeds);
  const bytes: Record<string, Buffer> = {};
  for (const [name, t] of Object.entries(out)) {
    const d = t.data as ArrayBufferView;
    bytes[name] = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  }
  return bytes;
}

/** A 2-layer, hidden-768, small-vocabulary transformer with its weights in model.onnx.data. */
export function tinyTransformer(dir: string): { path: string; dataPath: string; feeds: () => Feeds } {
  const m = transformerModel({ layers: 2, vocab: 512, dir: join(dir, 'tiny-transformer') }) as { path: string; dataPath: string };
  return {
    ...m,
    feeds: () => ({ input_ids: new ort.Tensor('int64', tokenIds(1, 12, 512) as BigInt64Array, [1, 12]) }),
  };
}

/** A fresh directory for each call within one test file. */
export function dirs(prefix: string): () => string {
  const root = tempDir(prefix);
  let n = 0;
  return () => {
    const d = join(root, `d${n++}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
}

/** A private copy of a model file (tests that modify or touch it). */
export function copyModel(path: string, dir: string, name = 'model.onnx'): string {
  const dest = join(dir, name);
  copyFileSync(path, dest);
  return dest;
}

/** The files of every session entry of a cache dir (under files/), by entry. */
export function entryFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let list;
    try {
      list = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of list) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/^model\.(ort|onnx|onnx\.data)$/.test(e.name)) out.push(join(d, e.name));
    }
  };
  walk(join(dir, 'files'));
  return out.sort();
}

/** The one file named `name` among a cache dir's session entries. */
export function entryFile(dir: string, name = 'model.ort'): string {
  const found = entryFiles(dir).filter((f) => f.endsWith(`/${name}`));
  if (found.length !== 1) throw new Error(`expected one ${name} in ${dir}, found ${found.length}`);
  return found[0];
}

/** The session entries of a cache dir, as the disk tier lists them. */
export async function listSessions(dir: string): Promise<DiskEntry[]> {
  const disk = new DiskTier({ dir, readOnly: true });
  try {
    return disk.list('session');
  } finally {
    await disk.close();
  }
}

/** Whether two output maps are equal bit for bit (same names, same bytes). */
export function sameOutputs(a: Record<string, Buffer>, b: Record<string, Buffer>): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((n) => b[n] !== undefined && a[n].equals(b[n]));
}
