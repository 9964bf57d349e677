// File entries of the disk tier: a work folder filled from the caller's files (moved or copied,
// mode 0600; a link is copied, never moved in) and hashed, to be moved in whole as `files/<id>/`;
// and the hit path, which reads the entry's head (a key-derived path) and never opens the index.
import { chmodSync, lstatSync, readFileSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { copyFile, mkdir, rename, stat, writeFile, chmod } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { hashFile } from '../../hash.js';
import { encodeManifest, filesId, parseManifest } from '../manifest.js';
import { checkFileNames } from '../namespace.js';
import type { FileEntryInfo, FileSource, LocalFileEntry, StoredFile } from '../tier.js';
import { writeNewFile, type Layout } from './layout.js';
import { invalidType } from '../../errors.js';

/** A filled work folder, ready to be queued. */
export interface PreparedFiles {
  work: string;
  files: StoredFile[];
  size: number;
  id: string;
}

/** Validates file sources (names by the grammar, a path or bytes each). */
export function checkSources(sources: unknown): FileSource[] {
  if (!Array.isArray(sources)) throw invalidType('files', 'an array of { name, path } or { name, data }', sources);
  for (const [i, s] of sources.entries()) {
    const src = s as Record<string, unknown>;
    if (src === null || typeof src !== 'object') throw invalidType(`files[${i}]`, '{ name, path } or { name, data }', s);
    if (src.data !== undefined ? !(src.data instanceof Uint8Array) : typeof src.path !== 'string' || src.path.length === 0) {
      throw invalidType(`files[${i}]`, '{ name, path } (a file path) or { name, data } (a Uint8Array)', s);
    }
  }
  checkFileNames(sources.map((s) => (s as FileSource).name));
  return sources as FileSource[];
}

/** Fills a fresh work folder in tmp/ with `sources` and hashes every file. */
export async function prepareFiles(layout: Layout, sources: readonly FileSource[], durable: boolean): Promise<PreparedFiles> {
  layout.ensure();
  const work = layout.workPath();
  await mkdir(work, { mode: 0o700 });
  const moved: [string, string][] = [];
  try {
    const files = await Promise.all(sources.map(async (s): Promise<StoredFile> => {
      const dest = join(work, ...s.name.split('/'));
      await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
      if ('data' in s) {
        if (durable) writeNewFile(dest, s.data, true);
        else await writeFile(dest, s.data, { mode: 0o600, flag: 'wx' });
      } else if (s.move && lstatSync(s.path).isFile()) {
        try {
          await rename(s.path, dest);
          moved.push([dest, s.path]);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await copyFile(s.path, dest);
        }
        await chmod(dest, 0o600);
      } else {
        await copyFile(s.path, dest);
        await chmod(dest, 0o600);
      }
      const [hash, st] = await Promise.all([hashFile(dest), stat(dest)]);
      return { name: s.name, size: st.size, hash };
    }));
    files.sort((a, b) => (a.name < b.name ? -1 : 1));
    return { work, files, size: files.reduce((n, f) => n + f.size, 0), id: filesId(files) };
  } catch (err) {
    // The caller's files go back where they were: a failed put must not lose them.
    for (const [from, to] of moved) {
      try {
        renameSync(from, to);
      } catch {
        /* its folder is gone */
      }
    }
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** Writes the head of an entry to a work file (moved to its key-derived path by the commit). */
export function writeHead(layout: Layout, entry: FileEntryInfo, durable: boolean): string {
  const path = layout.workPath('.head');
  writeNewFile(path, encodeManifest(entry), durable);
  return path;
}

/**
 * The entry of `key`, from its head alone (no index): every file present as a regular file of the
 * recorded size. Undefined when there is no head; `damaged` when the head or a file is wrong.
 */
export function readHead(layout: Layout, ns: string, key: string): { entry: LocalFileEntry } | { damaged: string; id?: string } | undefined {
  let text: Buffer;
  try {
    text = readFileSync(layout.headPath(ns, key));
  } catch {
    return undefined;
  }
  let info: FileEntryInfo;
  try {
    info = parseManifest(text, ns, key).entry;
  } catch (err) {
    return { damaged: (err as Error).message };
  }
  const id = filesId(info.files);
  const dir = layout.entryDir(id);
  const files = info.files.map((f) => ({ ...f, path: join(dir, ...f.name.split('/')) }));
  for (const f of files) {
    let st;
    try {
      st = lstatSync(f.path);
    } catch {
      return { damaged: `${f.name} is missing`, id };
    }
    if (!st.isFile() || st.size !== f.size) return { damaged: `${f.name} is not a file of ${f.size} bytes`, id };
  }
  return { entry: { ...info, dir, files } };
}

/** Checks every file of a local entry against its hash; the first problem, if any. */
export async function verifyFiles(entry: LocalFileEntry): Promise<string | undefined> {
  for (const f of entry.files) {
    try {
      if ((await hashFile(f.path)) !== f.hash) return `${f.name} does not match its hash`;
    } catch {
      return `${f.name} cannot be read`;
    }
  }
  return undefined;
}

/**
 * Whether `path` is a work file of this cache: a regular file (a link is never moved in) directly
 * inside its tmp/, compared as real paths of the folders (never by a string prefix: neither
 * `<dir>/tmp-models/m.onnx` nor `<dir>/tmp/../m.onnx` is one).
 */
export function isWorkFile(layout: Layout, path: string): boolean {
  try {
    return lstatSync(path).isFile() && realpathSync(dirname(resolve(path))) === realpathSync(layout.tmp);
  } catch {
    return false;
  }
}

/** Moves a caller's work file into tmp/ (for the legacy single-file put), or copies it there. */
export async function stageFile(layout: Layout, path: string, move: boolean): Promise<string> {
  layout.ensure();
  const tmp = layout.workPath();
  try {
    if (move) renameSync(path, tmp);
    else await copyFile(path, tmp);
    chmodSync(tmp, 0o600); // the caller's file may have been created 0644
    return tmp;
  } catch (err) {
    rmSync(tmp, { force: true });
    if (move && (err as NodeJS.ErrnoException).code === 'EXDEV') return stageFile(layout, path, false);
    throw err;
  }
}
