// The source files of a model, for weightless entries: where onnxruntime can read unchanged weights
// in place (a model file with its external data beside it), or the files mapped for rebuilding the
// model in memory (bytes, in-memory external data).
import { basename, dirname, isAbsolute, normalize, resolve } from 'node:path';
import { mapFile, type MappedFile } from '../mmap.js';
import type { ModelArg } from './args.js';
import type { ExternalFile } from './identity.js';
import type { SourceFiles } from './weightless.js';

/**
 * The source folder and the names its files go by there, when onnxruntime can read a weightless
 * entry's references in place: a model file whose external data are files beside it (relative
 * locations that stay inside its folder). Otherwise (bytes, in-memory external data) undefined.
 */
export function sourceFolder(model: ModelArg, external: readonly ExternalFile[]): { dir: string; names: string[] } | undefined {
  if (!('path' in model)) return undefined;
  const names = [basename(model.path)];
  for (const e of external) {
    if (!e.path || isAbsolute(e.location) || normalize(e.location).startsWith('..')) return undefined;
    names.push(e.location);
  }
  return { dir: dirname(resolve(model.path)), names };
}

/** Maps the source files a weightless entry refers to; `close()` unmaps them. */
export function openSources(model: ModelArg, external: readonly ExternalFile[]): SourceFiles & { close(): void } {
  const maps: MappedFile[] = [];
  const open = (path: string) => {
    const m = mapFile(path);
    maps.push(m);
    return m.buffer;
  };
  try {
    const bytes = ['path' in model ? open(model.path) : model.bytes, ...external.map((e) => e.bytes ?? open(e.path!))];
    return { bytes, locations: external.map((e) => e.location), close: () => maps.forEach((m) => m.close()) };
  } catch (err) {
    maps.forEach((m) => m.close());
    throw err;
  }
}
