// mode 'size' (weightless, like OpenVINO's): the cache entry is the optimized model with every
// tensor that also exists in the source model (same bytes, found by name or else by content)
// replaced by a reference into the source files; only new or changed tensors (fused, folded,
// re-laid-out weights) are stored. Loading points the references at the source files for
// onnxruntime to read in place, or (for models given as bytes) reassembles a complete model in memory.
import { CacheError } from '../errors.js';
import {
  appendExternal,
  externalRange,
  joinPieces,
  listTensors,
  rebuildTensor,
  rewriteTensors,
  TensorField,
  type Pieces,
  type TensorRef,
} from './onnx.js';

/** The external data `location` of a reference to source file `i`. */
const REF_PREFIX = '@modelcache/source/';
/** Tensors smaller than this stay in the entry: a reference would not be worth its bytes. */
const MIN_REF_BYTES = 256;

/**
 * The source of a model: file 0 is the model itself, files 1.. are its external data files in the
 * order of `locations` (as the model names them).
 */
export interface SourceFiles {
  /** Bytes of file i (usually a memory map). */
  bytes: Uint8Array[];
  /** The external data location each file i >= 1 answers to. */
  locations: string[];
}

interface SourceTensor {
  file: number;
  offset: number;
  length: number;
}

/** Where each source tensor's bytes are, by name and by length (for the content fallback). */
function indexSource(src: SourceFiles): { byName: Map<string, SourceTensor>; byLength: Map<number, SourceTensor[]> } {
  const byName = new Map<string, SourceTensor>();
  const byLength = new Map<number, SourceTensor[]>();
  for (const t of listTensors(src.bytes[0])) {
    let ref: SourceTensor | undefined;
    if (t.raw) ref = { file: 0, offset: t.raw.offset, length: t.raw.length };
    else if (t.external?.location !== undefined) {
      const file = src.locations.indexOf(t.external.location) + 1;
      if (file === 0) continue;
      ref = { file, ...externalRange(t, src.bytes[file].byteLength) };
    }
    if (!ref || ref.length < MIN_REF_BYTES) continue;
    if (t.name && !byName.has(t.name)) byName.set(t.name, ref);
    const list = byLength.get(ref.length);
    if (list) list.push(ref);
    else byLength.set(ref.length, [ref]);
  }
  return { byName, byLength };
}

function bytesOf(src: SourceFiles, r: SourceTensor): Uint8Array {
  return src.bytes[r.file].subarray(r.offset, r.offset + r.length);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function reference(model: Uint8Array, t: TensorRef, r: SourceTensor): Pieces {
  return rebuildTensor(model, t, [TensorField.rawData, TensorField.externalData, TensorField.dataLocation], (w) =>
    appendExternal(w, { location: `${REF_PREFIX}${r.file}`, offset: String(r.offset), length: String(r.length) }),
  );
}

/** What {@link stripWeights} kept and what it left to the source. */
export interface WeightlessStats {
  /** Bytes of tensors replaced by references. */
  referencedBytes: number;
  /** Tensors replaced by references. */
  referenced: number;
  /** Tensors kept in the entry (new or changed, or small). */
  stored: number;
}

/**
 * The entry for mode 'size': `optimized` (an ONNX model onnxruntime saved) with every tensor the
 * source holds byte for byte replaced by a reference. External data references onnxruntime wrote
 * back to the source's own files become references too.
 */
export function stripWeights(optimized: Uint8Array, src: SourceFiles): { model: Buffer; stats: WeightlessStats } {
  const { byName, byLength } = indexSource(src);
  const stats: WeightlessStats = { referencedBytes: 0, referenced: 0, stored: 0 };
  const pieces = rewriteTensors(optimized, (t) => {
    if (t.external) {
      const file = src.locations.indexOf(t.external.location ?? '') + 1;
      if (file === 0) {
        throw new CacheError('ERR_BAD_INPUT', `optimized model refers to external data ${JSON.stringify(t.external.location)} that is not one of the source model's files`);
      }
      const r = { file, ...externalRange(t, src.bytes[file].byteLength) };
      stats.referenced++;
      stats.referencedBytes += r.length;
      return reference(optimized, t, r);
    }
    if (!t.raw || t.raw.length < MIN_REF_BYTES) {
      stats.stored++;
      return undefined;
    }
    const mine = optimized.subarray(t.raw.offset, t.raw.offset + t.raw.length);
    const named = byName.get(t.name);
    let match = named && sameBytes(bytesOf(src, named), mine) ? named : undefined;
    match ??= byLength.get(mine.byteLength)?.find((r) => sameBytes(bytesOf(src, r), mine));
    if (!match) {
      stats.stored++;
      return undefined;
    }
    stats.referenced++;
    stats.referencedBytes += match.length;
    return reference(optimized, t, match);
  });
  return { model: joinPieces(pieces), stats };
}

function sourceIndex(loc: string, files: number): number {
  const file = loc.startsWith(REF_PREFIX) ? Number(loc.slice(REF_PREFIX.length)) : NaN;
  if (!Number.isInteger(file) || file < 0 || file >= files) {
    throw new CacheError('ERR_CORRUPT', `weightless entry refers to ${JSON.stringify(loc)}, which is not one of the ${files} source files`);
  }
  return file;
}

/**
 * The entry with its references turned into ordinary external data references to the source files
 * themselves (`names[i]`: file i's name relative to the source folder), for onnxruntime to read in
 * place (mapping the aligned ones) when given that folder: no copy of the weights on our side.
 */
export function pointAtSourceFiles(entry: Uint8Array, names: readonly string[]): Buffer {
  const pieces = rewriteTensors(entry, (t) => {
    const loc = t.external?.location;
    if (loc === undefined) return undefined;
    const file = sourceIndex(loc, names.length);
    return rebuildTensor(entry, t, [TensorField.externalData, TensorField.dataLocation], (w) => appendExternal(w, { ...t.external, location: names[file] }));
  });
  return joinPieces(pieces);
}

/**
 * A complete model from a weightless entry and the source files it refers to. Throws ERR_CORRUPT
 * when a reference does not fit its source file (the entry or the source is not what was stored).
 */
export function restoreWeights(entry: Uint8Array, src: SourceFiles): Buffer {
  const pieces = rewriteTensors(entry, (t) => {
    const loc = t.external?.location;
    if (loc === undefined) return undefined;
    const file = sourceIndex(loc, src.bytes.length);
    const { offset, length } = externalRange(t, src.bytes[file].byteLength);
    return rebuildTensor(entry, t, [TensorField.rawData, TensorField.externalData, TensorField.dataLocation], (w) =>
      w.field(TensorField.rawData, src.bytes[file].subarray(offset, offset + length)),
    );
  });
  return joinPieces(pieces);
}
