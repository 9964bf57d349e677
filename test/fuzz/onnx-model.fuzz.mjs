// Fuzz target (scripts/fuzz-js.mjs) for the ONNX model decoders of the pipeline's passes
// (src/onnx: graph view, type sweep, float16 conversion, metadata rewrite), which read model files
// a user or a shared cache hands over. Bad bytes must end in CacheError ERR_CORRUPT (or
// ERR_BAD_INPUT for a well-formed model the conversion refuses); whatever is accepted must give a
// model that decodes again, with the metadata that was set. Seeds: test/fuzz/onnx-seeds.mjs.
import { CacheError } from '../../dist/errors.js';
import { convertFloatToFloat16 } from '../../dist/onnx/float16.js';
import { readModel } from '../../dist/onnx/graph.js';
import { readMetadataProps, setMetadata } from '../../dist/onnx/metadata.js';
import { externalRange } from '../../dist/onnx/tensor.js';
import { joinPieces } from '../../dist/onnx/wire.js';

/** External data of the fuzzed model: a 4 KiB file of zeros, range-checked like a real one. */
const external = {
  read: (t) => new Uint8Array(externalRange(t, 4096).length),
  write: (_t, bytes) => ({ location: 'out.data', offset: '0', length: String(bytes.byteLength) }),
};

function expected(err) {
  return err instanceof CacheError && (err.code === 'ERR_CORRUPT' || err.code === 'ERR_BAD_INPUT');
}

function bug(what, input, err) {
  throw new Error(`${what}${err ? ` (${err.stack ?? err})` : ''}: ${input.toString('hex').slice(0, 400)}`);
}

export function run(input) {
  let converted;
  try {
    converted = joinPieces(convertFloatToFloat16(input, {}, external).model);
  } catch (err) {
    if (!expected(err)) bug('float16 conversion threw an unexpected error', input, err);
  }
  if (converted) {
    try {
      readModel(converted);
    } catch (err) {
      bug('a converted model does not decode', input, err);
    }
  }
  let withMeta;
  try {
    withMeta = joinPieces(setMetadata(input, { producerName: 'fuzz', props: { zz: 'fuzz' } }));
  } catch (err) {
    if (!expected(err)) bug('setMetadata threw an unexpected error', input, err);
    return;
  }
  try {
    readModel(withMeta);
    const props = readMetadataProps(withMeta);
    if (props.at(-1)?.[0] !== 'zz' || props.at(-1)?.[1] !== 'fuzz') bug('the metadata that was set is not the last entry', input);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('the metadata')) throw err;
    bug('a model with metadata set does not decode', input, err);
  }
}

const TYPES = [0, 1, 2, 6, 7, 8, 9, 10, 11, 16, 255];

/** Structure-aware mutation: sets the value after a data_type / elem_type / to tag to another type. */
export function mutate(input, r) {
  const spots = [];
  for (let i = 0; i + 1 < input.length; i++) if ((input[i] === 0x10 || input[i] === 0x08 || input[i] === 0x18) && input[i + 1] < 0x80) spots.push(i + 1);
  if (spots.length === 0) return input;
  const out = Buffer.from(input);
  out[r.pick(spots)] = r.pick(TYPES);
  return out;
}
