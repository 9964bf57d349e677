// Normalises the byte-like inputs the public API accepts into the Uint8Array view the addon takes.
import { invalidType } from './errors.js';

/** Anything modelcache can read as bytes: a Buffer, any TypedArray, a DataView, an ArrayBuffer or a string (UTF-8). */
export type BytesLike = ArrayBufferView | ArrayBuffer | SharedArrayBuffer | string;

export function toBytes(name: string, data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && data instanceof SharedArrayBuffer)) {
    return new Uint8Array(data);
  }
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  throw invalidType(name, 'Buffer, TypedArray, DataView, ArrayBuffer or string', data);
}

/** A Buffer view over the same memory as a Uint8Array (no copy). */
export function asBuffer(u8: Uint8Array): Buffer {
  return Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}
