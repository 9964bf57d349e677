// Exports a pipeline's final model out of the cache (where LRU may evict it) into a folder of the
// user's: its files plus modelcache.json (ids, the chain of passes that produced it, input
// attributes), the descriptor written last. A folder that is not empty is refused unless
// `overwrite` is set and it holds an earlier export, which is then replaced as a whole: files
// that are not ours are never deleted.
import { constants } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { CacheError, invalidType } from '../errors.js';
import { hashFile } from '../hash.js';
import { placeInto } from '../place.js';
import type { ModelFile } from './model.js';
import type { PipelineResult } from './pipeline.js';
import { MODELCACHE_VERSION } from './records.js';

/** The file describing an export. */
export const EXPORT_DESCRIPTOR = 'modelcache.json';
const FORMAT = 'modelcache-export-v1';

/** Options of {@link PipelineResult.save}. */
export interface SaveOptions {
  /** Replace an earlier export in the folder (a folder holding other files is still refused). Default false. */
  overwrite?: boolean;
}

/** Where a model was exported. */
export interface SavedModel {
  /** The export folder, absolute. */
  dir: string;
  /** The model file (file models, beside their external data) or `dir` (folder models). */
  path: string;
  /** Every file of the model, absolute. */
  files: string[];
  /** The descriptor, `dir/modelcache.json`. */
  descriptor: string;
}

/** One pass of the chain as the descriptor records it. */
export interface ExportedPass {
  /** The pass's name in the pipeline. */
  name: string;
  /** The pass's `type`. */
  type: string;
  /** The pass's version; recorded by workflow runs, absent from `PipelineResult.save` (which does not know it). */
  version?: string;
  /** The pass's config as the workflow gave it; present when `version` is. */
  config?: unknown;
  /** Id of the model the pass took. */
  inputId: string;
  /** Id of its output. */
  outputId: string;
}

/** The content of modelcache.json. */
export interface ExportDescriptor {
  /** Always `'modelcache-export-v1'`: how an earlier export is recognised (only such a folder is replaced with `overwrite`). */
  format: typeof FORMAT;
  /** Id of the exported model (the last pass's output id). */
  id: string;
  /** `'file'`: a model file with its external data; `'dir'`: a folder model. */
  kind: 'file' | 'dir';
  /** File models: the model file's name among `files`. */
  main?: string;
  /** Every exported file, relative to the folder, with its size and hash as copied: to check the export later. */
  files: ModelFile[];
  /** Attributes of the final model. */
  attributes: Record<string, unknown>;
  /** The pipeline's input model. */
  input: {
    /** Its id (content hash, with its attributes). */
    id: string;
    /** The attributes it was given. */
    attributes: Record<string, unknown>;
  };
  /** The passes that produced the model, in order. */
  chain: ExportedPass[];
  /** The final model's evaluation, when the pipeline has an evaluator. */
  evaluation?: {
    /** Id of the evaluation. */
    id: string;
    /** What the evaluator returned. */
    metrics: Record<string, unknown>;
  };
  /** The modelcache version that exported it. */
  modelcacheVersion: string;
  /** When it was exported (ISO 8601, UTC). */
  exportedAt: string;
}

/** What is at `dir` now: nothing, an empty folder, or an earlier export (anything else throws). */
export async function checkOutputDir(dir: string, overwrite: boolean): Promise<'absent' | 'empty' | 'export'> {
  let st;
  try {
    st = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
  if (!st.isDirectory()) throw new CacheError('ERR_BAD_INPUT', `output folder ${dir} exists and is not a folder`);
  if ((await readdir(dir)).length === 0) return 'empty';
  if (!overwrite) throw new CacheError('ERR_BAD_INPUT', `output folder ${dir} is not empty; set overwrite (--overwrite) to replace a model exported there`);
  let previous: unknown;
  try {
    previous = JSON.parse(await readFile(join(dir, EXPORT_DESCRIPTOR), 'utf8'));
  } catch {
    previous = undefined;
  }
  if ((previous as { format?: unknown } | undefined)?.format !== FORMAT) {
    throw new CacheError('ERR_BAD_INPUT', `output folder ${dir} holds files but no ${EXPORT_DESCRIPTOR} of an earlier export; refusing to delete them (choose an empty or new folder)`);
  }
  return 'export';
}

/** Copies the model's files (relative to `root`) into `into`, cloning where the file system can; returns them hashed. */
async function copyModel(files: readonly string[], root: string, into: string): Promise<ModelFile[]> {
  const out: ModelFile[] = [];
  for (const src of files) {
    const rel = relative(root, src).split(sep).join('/');
    const dest = join(into, ...rel.split('/'));
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(src, dest, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
    out.push({ path: rel, size: (await lstat(dest)).size, hash: await hashFile(dest) });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Replaces the earlier export at `dir` by what `fill` writes, staged beside it. */
async function replaceExport(dir: string, fill: (staging: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  const staging = await mkdtemp(join(parent, `.${basename(dir)}.modelcache-partial-`));
  try {
    await fill(staging);
    const old = `${staging}-old`;
    await rename(dir, old);
    try {
      await rename(staging, dir);
    } catch (err) {
      await rename(old, dir);
      throw err;
    }
    await rm(old, { recursive: true, force: true });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Exports `result`'s final model into `dir` (see the module comment). `chain` adds pass versions
 * and configs to the descriptor when the caller knows them (a workflow does).
 */
export async function saveResult(result: PipelineResult, dir: string, options: SaveOptions = {}, chain?: readonly Pick<ExportedPass, 'version' | 'config'>[]): Promise<SavedModel> {
  if (typeof dir !== 'string' || dir.length === 0) throw invalidType('dir', 'a folder path', dir);
  if (options === null || typeof options !== 'object') throw invalidType('options', 'object', options);
  if (options.overwrite !== undefined && typeof options.overwrite !== 'boolean') throw invalidType('options.overwrite', 'boolean', options.overwrite);
  const target = resolve(dir);
  const state = await checkOutputDir(target, options.overwrite ?? false);
  const model = await result.materialized();
  // A file model's folder holds its external data too.
  const root = model.kind === 'file' ? dirname(model.path) : model.path;
  const main = model.kind === 'file' ? basename(model.path) : undefined;
  const fill = async (staging: string) => {
    const files = await copyModel(model.files, root, staging);
    const descriptor: ExportDescriptor = {
      format: FORMAT,
      id: result.id,
      kind: model.kind,
      ...(main !== undefined ? { main } : {}),
      files,
      attributes: result.attributes,
      input: { id: result.inputId, attributes: result.inputAttributes },
      chain: result.passes.map((p, i) => ({ name: p.name, type: p.type, ...(chain?.[i] ?? {}), inputId: p.inputId, outputId: p.outputId })),
      ...(result.evaluation ? { evaluation: { id: result.evaluation.id, metrics: result.evaluation.metrics } } : {}),
      modelcacheVersion: MODELCACHE_VERSION,
      exportedAt: new Date().toISOString(),
    };
    if (files.some((f) => f.path === EXPORT_DESCRIPTOR)) throw new CacheError('ERR_BAD_INPUT', `the model has a file named ${EXPORT_DESCRIPTOR}, which the export needs for itself`);
    await writeFile(join(staging, EXPORT_DESCRIPTOR), JSON.stringify(descriptor, null, 2) + '\n');
  };
  if (state === 'export') await replaceExport(target, fill);
  else await placeInto(target, fill, { last: EXPORT_DESCRIPTOR });
  const files = model.files.map((f) => join(target, relative(root, f)));
  return { dir: target, path: model.kind === 'file' ? join(target, main!) : target, files, descriptor: join(target, EXPORT_DESCRIPTOR) };
}
