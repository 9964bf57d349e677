// External data files of an ONNX model on disk: reading a tensor's bytes from the file its
// `location` names (which must stay inside the model's folder: a model is untrusted input), and
// appending tensors to a new data file with page-aligned offsets, as onnxruntime writes them.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { CacheError } from '../errors.js';
import { externalRange, type TensorRef } from './tensor.js';

/** Tensors of at least ALIGN_MIN bytes start at multiples of ALIGN (lets onnxruntime map them in place, as it aligns its own). */
const ALIGN = 4096;
const ALIGN_MIN = 1 << 20;

/** Where `location` points inside `dir`, or a CacheError when it leaves it. */
export function externalPath(dir: string, location: string | undefined): string {
  if (!location || isAbsolute(location) || location.includes('\0') || normalize(location).split(sep).includes('..')) {
    throw new CacheError('ERR_CORRUPT', `not a valid ONNX model: external data location ${JSON.stringify(location)} is not a file inside the model's folder`);
  }
  return join(dir, location);
}

/** Reads tensors' external data from the files of a model folder. */
export class ExternalReader {
  readonly #dir: string;
  readonly #files = new Map<string, { fd: number; size: number }>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  read(t: TensorRef): Uint8Array {
    const path = externalPath(this.#dir, t.external?.location);
    let f = this.#files.get(path);
    if (!f) {
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (err) {
        throw new CacheError('ERR_BAD_INPUT', `external data file ${JSON.stringify(t.external?.location)} of tensor ${JSON.stringify(t.name)} cannot be read (${(err as Error).message})`);
      }
      f = { fd, size: fstatSync(fd).size };
      this.#files.set(path, f);
    }
    const { offset, length } = externalRange(t, f.size);
    const out = Buffer.allocUnsafe(length);
    for (let got = 0; got < length; ) {
      const n = readSync(f.fd, out, got, length - got, offset + got);
      if (n === 0) throw new CacheError('ERR_CORRUPT', `external data of tensor ${JSON.stringify(t.name)} ends early`);
      got += n;
    }
    return out;
  }

  close(): void {
    for (const f of this.#files.values()) closeSync(f.fd);
    this.#files.clear();
  }
}

/** Appends tensors to one new data file; `location` is its name relative to the model file. */
export class ExternalWriter {
  readonly location: string;
  readonly #fd: number;
  #size = 0;

  constructor(path: string, location: string) {
    this.location = location;
    this.#fd = openSync(path, 'wx');
  }

  /** Appends `bytes`; returns the external_data entries that point at them. */
  write(bytes: Uint8Array, location = this.location): Record<string, string> {
    const offset = bytes.byteLength >= ALIGN_MIN ? Math.ceil(this.#size / ALIGN) * ALIGN : this.#size;
    if (offset > this.#size) writeSync(this.#fd, new Uint8Array(offset - this.#size), 0, offset - this.#size, this.#size);
    for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.#fd, bytes, done, bytes.byteLength - done, offset + done);
    this.#size = offset + bytes.byteLength;
    return { location, offset: String(offset), length: String(bytes.byteLength) };
  }

  get size(): number {
    return this.#size;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
