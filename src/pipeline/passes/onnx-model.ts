// The ONNX model a built-in pass receives: a single .onnx file (with the external data files it
// names beside it, which its id covers), or a folder with one .onnx file and its external data.
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { externalLocations } from '../../ort/onnx.js';
import { externalFiles } from '../model.js';
import type { PassInput } from '../pass.js';
import { passInputError } from './define.js';

export interface OnnxModel {
  /** The .onnx file. */
  file: string;
  /** Its folder (external data locations are relative to it). */
  dir: string;
  bytes: Buffer;
  /** The model has tensors in external data files. */
  external: boolean;
  /** Other files of a folder model (relative, '/'-separated), external data included. */
  companions: string[];
}

async function listFiles(dir: string, root = dir, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, e.name);
    if (e.isDirectory()) await listFiles(full, root, out);
    else out.push(relative(root, full).split(sep).join('/'));
  }
  return out.sort();
}

/** Locates and reads the model of `input`. */
export async function readOnnxModel(input: PassInput): Promise<OnnxModel> {
  if (input.kind === 'file') {
    const bytes = await readFile(input.path);
    const companions = await externalFiles(input.path, bytes);
    return { file: input.path, dir: dirname(input.path), bytes, external: companions.length > 0, companions };
  }
  const all = await listFiles(input.path);
  const top = all.filter((f) => !f.includes('/') && f.endsWith('.onnx'));
  const main = top.length === 1 ? top[0] : top.includes('model.onnx') ? 'model.onnx' : undefined;
  if (!main) throw passInputError(`model folder ${input.path} should hold one .onnx file at its top (or model.onnx); found ${top.length ? top.join(', ') : 'none'}`);
  const file = join(input.path, main);
  const bytes = await readFile(file);
  return { file, dir: input.path, bytes, external: externalLocations(bytes).length > 0, companions: all.filter((f) => f !== main) };
}

/** Copies `files` (relative to `from`) into `to`, cloning where the file system can. */
export async function copyCompanions(from: string, files: readonly string[], to: string): Promise<void> {
  for (const f of files) {
    const dest = join(to, ...f.split('/'));
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(join(from, ...f.split('/')), dest, constants.COPYFILE_FICLONE);
  }
}

/** The name of the main model file in an output folder: the input's, for folders (data files keep their names). */
export function outputName(model: OnnxModel): string {
  return model.companions.length > 0 ? basename(model.file) : 'model.onnx';
}
