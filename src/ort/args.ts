// The arguments of onnxruntime-node's `InferenceSession.create` overloads: a model path, bytes, or
// a range of an ArrayBuffer, then the options. Checked here with messages that name the argument.
import { invalidType, outOfRange } from '../errors.js';

/** The model a create() call names: a path or bytes. */
export type ModelArg = { path: string } | { bytes: Uint8Array };

/** The model as onnxruntime takes it. */
export function modelInput(m: ModelArg): string | Uint8Array {
  return 'path' in m ? m.path : m.bytes;
}

function optionsArg(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidType(name, 'an options object', v);
  return v as Record<string, unknown>;
}

/** Reads every `create` overload: (path, options?), (bytes, options?), (buffer, offset?, length?, options?). */
export function parseArgs(args: unknown[]): { model: ModelArg; options: Record<string, unknown> } {
  const [arg0, arg1, arg2, arg3] = args;
  if (typeof arg0 === 'string') {
    if (arg0.length === 0) throw invalidType('path', 'non-empty string', arg0);
    return { model: { path: arg0 }, options: optionsArg(arg1, 'options') };
  }
  if (arg0 instanceof Uint8Array) return { model: { bytes: arg0 }, options: optionsArg(arg1, 'options') };
  if (arg0 instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && arg0 instanceof SharedArrayBuffer)) {
    const buffer = arg0 as ArrayBufferLike;
    if (typeof arg1 !== 'number') return { model: { bytes: new Uint8Array(buffer) }, options: optionsArg(arg1, 'options') };
    if (!Number.isSafeInteger(arg1) || arg1 < 0 || arg1 >= buffer.byteLength) {
      throw outOfRange('byteOffset', `an integer in [0, ${buffer.byteLength})`, arg1);
    }
    let length = buffer.byteLength - arg1;
    // (buffer, byteOffset, undefined, options) keeps its options (onnxruntime would drop them).
    let options = arg2 === undefined ? arg3 : arg2;
    if (typeof arg2 === 'number') {
      if (!Number.isSafeInteger(arg2) || arg2 <= 0 || arg1 + arg2 > buffer.byteLength) {
        throw outOfRange('byteLength', `an integer in (0, ${buffer.byteLength - arg1}]`, arg2);
      }
      length = arg2;
      options = arg3;
    } else if (arg2 !== undefined) {
      throw invalidType('byteLength', 'number', arg2);
    }
    return { model: { bytes: new Uint8Array(buffer, arg1, length) }, options: optionsArg(options, 'options') };
  }
  throw invalidType('the first argument', 'a model path (string), a Uint8Array or an ArrayBuffer', arg0);
}
