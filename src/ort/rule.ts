// The rule that picks the form of a session entry for `format: 'auto'` in mode 'speed', decided at
// build time from the source graph (cheap to walk: external data is never read).
//
// 'onnx-prepacked' when the weights feeding MatMul/Gemm (their B input) are at least half of the
// model's tensor bytes and at least 16 MiB, and no node has a subgraph; 'ort' otherwise, and
// always for encrypted entries. Why, as measured with onnxruntime 1.30 (perf on its session
// initialization; see the README): at load, onnxruntime re-packs every MatMul weight and hashes
// the packed bytes to find the saved copy, so saved pre-packed weights spare only the allocation
// and first touch of the packed buffers. That pays on large transformer weights (a generated
// 12-layer encoder loads about 25% faster than from ORT format) and costs on convolutions (ORT
// format loads faster). onnxruntime writes invalid ONNX for initializers of subgraphs, and crashed
// running a saved pre-packed model with convolutions and MatMuls (PaddleOCR rec): so the builder
// publishes a pre-packed entry only after running it against the freshly optimized session with
// identical outputs, and saves 'ort' otherwise. An encrypted entry is loaded from its decrypted
// buffer, which onnxruntime uses in place for ORT format but copies for external data (4-layer
// encoder: 130 ms from memory vs 45 ms by path).
import { readModel } from '../onnx/graph.js';
import type { TensorRef } from '../onnx/tensor.js';
import type { EntryFormat } from './format.js';
import type { EntryFormatOption } from './options.js';

/** Thresholds of the rule (see the module comment). */
export const PREPACK_MIN_SHARE = 0.5;
export const PREPACK_MIN_BYTES = 16 << 20;

/** What the rule looks at: MatMul/Gemm weight bytes against all tensor bytes, and subgraphs. */
export interface GraphFacts {
  tensorBytes: number;
  matmulWeightBytes: number;
  subgraphs: boolean;
}

function tensorBytes(t: TensorRef): number {
  if (t.raw) return t.raw.length;
  const ext = Number(t.external?.length);
  if (Number.isSafeInteger(ext) && ext >= 0) return ext;
  return t.dims.reduce((a, b) => a * b, 1) * 4; // float_data and friends: small tensors, sized roughly
}

/** Walks the main graph of a serialized model (the graph file; external data is never read). */
export function graphFacts(model: Uint8Array): GraphFacts {
  const { graph } = readModel(model);
  const sizes = new Map<string, number>();
  for (const t of graph.initializers) sizes.set(t.name, tensorBytes(t));
  let subgraphs = false;
  for (const n of graph.nodes) {
    for (const a of n.attributes) {
      if (a.g || a.graphs.length > 0) subgraphs = true;
      if (n.opType === 'Constant' && a.t && n.outputs[0] !== undefined) sizes.set(n.outputs[0], tensorBytes(a.t));
    }
  }
  let matmul = 0;
  for (const n of graph.nodes) {
    if ((n.opType === 'MatMul' || n.opType === 'Gemm') && (n.domain === '' || n.domain === 'ai.onnx')) matmul += sizes.get(n.inputs[1] ?? '') ?? 0;
  }
  let total = 0;
  for (const b of sizes.values()) total += b;
  return { tensorBytes: total, matmulWeightBytes: matmul, subgraphs };
}

/** The entry form for a model; `why` says what decided it (kept in the entry's metadata). */
export function chooseFormat(requested: EntryFormatOption, mode: 'speed' | 'size', encrypted: boolean, facts: () => GraphFacts): { format: EntryFormat; why: string } {
  if (mode === 'size') return { format: 'onnx-weightless', why: "mode 'size'" };
  if (encrypted) return { format: 'ort', why: 'encrypted entries are ORT format (used in place once decrypted)' };
  if (requested === 'ort') return { format: 'ort', why: "format 'ort' was asked for" };
  if (requested === 'onnx') return { format: 'onnx-prepacked', why: "format 'onnx' was asked for" };
  const f = facts();
  const share = f.tensorBytes > 0 ? f.matmulWeightBytes / f.tensorBytes : 0;
  const pct = `${(100 * share).toFixed(0)}% of ${(f.tensorBytes / 1e6).toFixed(1)} MB`;
  if (f.subgraphs) return { format: 'ort', why: 'the graph has subgraphs' };
  if (share >= PREPACK_MIN_SHARE && f.matmulWeightBytes >= PREPACK_MIN_BYTES) return { format: 'onnx-prepacked', why: `MatMul/Gemm weights are ${pct}` };
  return { format: 'ort', why: `MatMul/Gemm weights are ${pct}` };
}
