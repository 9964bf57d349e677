// float32 <-> float16 / bfloat16 for compact storage (`cacheDtype`). 16-bit values travel as
// Uint16Array bit patterns, since Node 20 has no Float16Array.
import { invalidType, rethrowNative } from './errors.js';
import { native } from './native.js';

function view(name: string, data: unknown, ctor: Float32ArrayConstructor | Uint16ArrayConstructor): Uint8Array {
  if (!(data instanceof ctor)) throw invalidType(name, ctor.name, data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function run(data: Uint8Array, kind: number): Buffer {
  try {
    return native.cast(data, kind);
  } catch (err) {
    rethrowNative(err, 'cast');
  }
}

function f32(b: Buffer): Float32Array {
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
function u16(b: Buffer): Uint16Array {
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}

/** float32 -> IEEE float16 bits, round to nearest even; overflow gives ±Inf, NaN stays NaN. */
export function castFloat32ToFloat16(data: Float32Array): Uint16Array {
  return u16(run(view('data', data, Float32Array), 0));
}
/** IEEE float16 bits -> float32 (exact). */
export function castFloat16ToFloat32(data: Uint16Array): Float32Array {
  return f32(run(view('data', data, Uint16Array), 1));
}
/** float32 -> bfloat16 bits, round to nearest even; NaN stays NaN. */
export function castFloat32ToBfloat16(data: Float32Array): Uint16Array {
  return u16(run(view('data', data, Float32Array), 2));
}
/** bfloat16 bits -> float32 (exact). */
export function castBfloat16ToFloat32(data: Uint16Array): Float32Array {
  return f32(run(view('data', data, Uint16Array), 3));
}
