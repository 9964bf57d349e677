// Generated transformer-style ONNX models for the session suite (and the ort tests): a BERT-like
// encoder (Gather embedding, per layer Q/K/V/O MatMul+Add, attention, GELU feed-forward, residuals
// and LayerNorm written out as ReduceMean/Sub/Pow/Sqrt/Div, the way older PyTorch exports look, so
// onnxruntime has fusions to do), float32 weights in an external data file. Weights are
// deterministic (seeded), so a model is generated once and reused from os.tmpdir().
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { mulberry32 } from '../../test/fixtures/prng.mjs';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;
const ALIGN = 4096; // external data offsets page-aligned, as onnx's save_model(align=...) does
const GENERATOR_VERSION = 1;

/**
 * Describes (and on first use writes) a model: `{ layers, hidden, heads, ffn, vocab }`.
 * Returns `{ path, dataPath, bytes, name }`; files live in `dir` (default: a folder under
 * os.tmpdir() that survives between bench runs).
 */
export function transformerModel({ layers = 6, hidden = 768, heads = 12, ffn = 4 * hidden, vocab = 30522, dir } = {}) {
  const name = `transformer-L${layers}-H${hidden}-V${vocab}-g${GENERATOR_VERSION}`;
  const root = dir ?? path.join(os.tmpdir(), 'modelcache-bench-models', name);
  const modelPath = path.join(root, 'model.onnx');
  const dataPath = path.join(root, 'model.onnx.data');
  if (!existsSync(modelPath) || !existsSync(dataPath)) {
    mkdirSync(root, { recursive: true });
    writeTransformer({ layers, hidden, heads, ffn, vocab, modelPath, dataPath });
  }
  return { name, path: modelPath, dataPath, dir: root };
}

function writeTransformer({ layers, hidden, heads, ffn, vocab, modelPath, dataPath }) {
  const tmpData = `${dataPath}.${process.pid}.tmp`;
  const tmpModel = `${modelPath}.${process.pid}.tmp`;
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  const initializers = [];
  let seed = 1;
  try {
    // Appends a float32 tensor filled by `fill(i, rand)` to the data file; returns its name.
    const weight = (tname, dims, fill) => {
      const n = dims.reduce((a, b) => a * b, 1);
      const rand = mulberry32(seed++);
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = fill(i, rand);
      const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
      if (pad) {
        writeSync(fd, Buffer.alloc(pad));
        offset += pad;
      }
      const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
      for (let o = 0; o < bytes.length; ) o += writeSync(fd, bytes, o);
      initializers.push({
        name: tname,
        dims,
        dataType: FLOAT,
        dataLocation: 1, // EXTERNAL
        externalData: [
          { key: 'location', value: path.basename(dataPath) },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.length) },
        ],
      });
      offset += bytes.length;
      return tname;
    };
    const normal = (scale) => (_, r) => (r() + r() + r() - 1.5) * scale; // roughly N(0, 0.5*scale)
    const constant = (v) => () => v;
    const small = (tname, dataType, dims, values) => {
      initializers.push(
        dataType === INT64
          ? { name: tname, dims, dataType, int64Data: values }
          : { name: tname, dims, dataType, floatData: values },
      );
      return tname;
    };

    const nodes = [];
    let nid = 0;
    const node = (opType, inputs, attrs = {}, outName) => {
      const out = outName ?? `t${nid}`;
      const attribute = Object.entries(attrs).map(([k, v]) =>
        Array.isArray(v) ? { name: k, type: 7, ints: v } : Number.isInteger(v) ? { name: k, type: 2, i: v } : { name: k, type: 1, f: v },
      );
      nodes.push({ opType, input: inputs, output: [out], name: `${opType}_${nid++}`, attribute });
      return out;
    };
    const dh = hidden / heads;
    small('shape_heads', INT64, [4], [0, 0, heads, dh]);
    small('shape_hidden', INT64, [3], [0, 0, hidden]);
    small('scale', FLOAT, [], [Math.sqrt(dh)]);
    small('eps', FLOAT, [], [1e-12]);
    small('two', FLOAT, [], [2]);
    small('one', FLOAT, [], [1]);
    small('half', FLOAT, [], [0.5]);
    small('sqrt2', FLOAT, [], [Math.SQRT2]);

    const layerNorm = (x, p) => {
      const gamma = weight(`${p}.ln.weight`, [hidden], constant(1));
      const beta = weight(`${p}.ln.bias`, [hidden], constant(0));
      const mean = node('ReduceMean', [x], { axes: [-1] });
      const d = node('Sub', [x, mean]);
      const sq = node('Pow', [d, 'two']);
      const v = node('ReduceMean', [sq], { axes: [-1] });
      const sd = node('Sqrt', [node('Add', [v, 'eps'])]);
      return node('Add', [node('Mul', [node('Div', [d, sd]), gamma]), beta]);
    };
    const linear = (x, p, nIn, nOut) => {
      const w = weight(`${p}.weight`, [nIn, nOut], normal(0.04));
      const b = weight(`${p}.bias`, [nOut], normal(0.02));
      return node('Add', [node('MatMul', [x, w]), b]);
    };

    const emb = weight('embeddings.word', [vocab, hidden], normal(0.04));
    let x = layerNorm(node('Gather', [emb, 'input_ids'], { axis: 0 }), 'embeddings');
    for (let l = 0; l < layers; l++) {
      const p = `layer${l}`;
      const heads4 = (t, perm) => node('Transpose', [node('Reshape', [t, 'shape_heads'])], { perm });
      const q = heads4(linear(x, `${p}.q`, hidden, hidden), [0, 2, 1, 3]);
      const k = heads4(linear(x, `${p}.k`, hidden, hidden), [0, 2, 3, 1]);
      const v = heads4(linear(x, `${p}.v`, hidden, hidden), [0, 2, 1, 3]);
      const probs = node('Softmax', [node('Div', [node('MatMul', [q, k]), 'scale'])], { axis: -1 });
      const ctx = node('Reshape', [node('Transpose', [node('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), 'shape_hidden']);
      const attn = layerNorm(node('Add', [linear(ctx, `${p}.o`, hidden, hidden), x]), `${p}.attn`);
      const h = linear(attn, `${p}.ffn1`, hidden, ffn);
      const gelu = node('Mul', [node('Mul', [h, node('Add', [node('Erf', [node('Div', [h, 'sqrt2'])]), 'one'])]), 'half']);
      x = layerNorm(node('Add', [linear(gelu, `${p}.ffn2`, ffn, hidden), attn]), `${p}.out`);
    }
    nodes[nodes.length - 1].output = ['last_hidden_state'];

    const dim = (v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v });
    const tensorType = (elemType, dims) => ({ tensorType: { elemType, shape: { dim: dims.map(dim) } } });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'modelcache-bench',
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: `transformer_L${layers}`,
        node: nodes,
        initializer: initializers,
        input: [{ name: 'input_ids', type: tensorType(INT64, ['batch', 'sequence']) }],
        output: [{ name: 'last_hidden_state', type: tensorType(FLOAT, ['batch', 'sequence', hidden]) }],
      },
    });
    closeSync(fd);
    writeFileSync(tmpModel, onnx.ModelProto.encode(model).finish());
    renameSync(tmpData, dataPath);
    renameSync(tmpModel, modelPath);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* closed already */
    }
    rmSync(tmpData, { force: true });
    rmSync(tmpModel, { force: true });
    throw err;
  }
}

/** A deterministic int64 input_ids tensor's data for `batch` x `seq` tokens below `vocab`. */
export function tokenIds(batch, seq, vocab = 30522, seed = 7) {
  const rand = mulberry32(seed);
  const ids = new BigInt64Array(batch * seq);
  for (let i = 0; i < ids.length; i++) ids[i] = BigInt(Math.floor(rand() * vocab));
  return ids;
}
