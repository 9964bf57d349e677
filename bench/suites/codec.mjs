// codec: our frame (byte-shuffle + zstd/lz4, chunked in parallel) against zstd-napi, lz4-napi
// and node:zlib on real float32 weights and activations of the PaddleOCR recognition model.
import zlib from 'node:zlib';
import * as zstdNapi from 'zstd-napi';
import lz4Napi from 'lz4-napi';
import { compress, decompress } from '../../dist/index.js';
import { loadModelBytes, modelActivations, modelWeights } from '../lib/model-data.mjs';
import { looped, mbps, measureRounds } from '../lib/measure.mjs';
import { addCases, createGroup, finishGroup, medianOf, target } from '../lib/result.mjs';

const MiB = 1024 * 1024;
const BASELINE = 'zstd-napi -1';

const CODECS = [
  ['modelcache shuffle+zstd-1', (d) => compress(d, { codec: 'zstd', level: 1, elementSize: 4 }), decompress],
  ['modelcache shuffle+lz4', (d) => compress(d, { codec: 'lz4', elementSize: 4 }), decompress],
  ['modelcache zstd-3', (d) => compress(d, { codec: 'zstd', level: 3 }), decompress],
  [BASELINE, (d) => zstdNapi.compress(d, { compressionLevel: 1 }), (c) => zstdNapi.decompress(c)],
  ['zstd-napi -3', (d) => zstdNapi.compress(d, { compressionLevel: 3 }), (c) => zstdNapi.decompress(c)],
  ['lz4-napi', (d) => lz4Napi.compressSync(d), (c) => lz4Napi.uncompressSync(c)],
  ['zlib gzip -1', (d) => zlib.gzipSync(d, { level: 1 }), (c) => zlib.gunzipSync(c)],
  [
    'zlib brotli q1',
    (d) => zlib.brotliCompressSync(d, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: d.byteLength } }),
    (c) => zlib.brotliDecompressSync(c),
  ],
];

/**
 * Each sample times compress and decompress separately over enough calls to last ~60 ms, so a
 * 10 MiB decompress (a few ms) is not at the mercy of one scheduler tick.
 */
function codecCases(data) {
  return CODECS.map(([name, enc, dec]) => {
    const frame = enc(data);
    if (!dec(frame).equals(data)) throw new Error(`${name}: round trip changed the bytes`);
    const ratio = data.byteLength / frame.byteLength;
    const compressMs = looped(() => enc(data), 60);
    const decompressMs = looped(() => dec(frame), 60);
    return {
      name,
      sample: () => ({ ratio, comp: mbps(data.byteLength, compressMs()), decomp: mbps(data.byteLength, decompressMs()) }),
    };
  });
}

/**
 * The best ratio any coder reaches by modelling each byte plane of the float32s on its own
 * (order-0 entropy of shuffled bytes): the ceiling for byte-shuffle + an entropy coder, printed so
 * a ratio target can be judged against what the data allows.
 */
function bytePlaneBound(bytes) {
  const n = bytes.byteLength >> 2;
  const counts = Array.from({ length: 4 }, () => new Float64Array(256));
  for (let i = 0; i < n; i++) for (let k = 0; k < 4; k++) counts[k][bytes[4 * i + k]]++;
  let bits = 0;
  for (const h of counts) for (const c of h) if (c > 0) bits -= (c / n) * Math.log2(c / n);
  return 32 / bits;
}

const COLUMNS = [
  { key: 'ratio', label: 'ratio', unit: 'raw/comp', better: 'higher' },
  { key: 'comp', label: 'compress', unit: 'MB/s', better: 'higher' },
  { key: 'decomp', label: 'decompress', unit: 'MB/s', better: 'higher' },
];

export default {
  name: 'codec',
  title: 'compression of real float32 tensors (PaddleOCR PP-OCRv4 rec)',
  async run({ quick }) {
    const rounds = quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 7, max: 15, budgetMs: 4000 };
    const modelBytes = loadModelBytes();
    const weights = modelWeights(modelBytes);
    const acts = await modelActivations(modelBytes, quick ? 8 * MiB : 32 * MiB);
    const datasets = [
      [`weights: ${weights.tensors} float32 tensors, ${(weights.bytes.byteLength / MiB).toFixed(1)} MiB`, weights.bytes],
      [`activations: ${acts.tensors} float32 outputs on a seeded text-line image [1,3,48,320], ${(acts.bytes.byteLength / MiB).toFixed(1)} MiB`, acts.bytes],
    ];
    const notes = [
      'Every codec round-trips the bytes exactly (checked before timing). MB = 1e6 raw bytes; ratio = raw / compressed.',
      `modelcache compresses 1 MiB chunks on its native thread pool (this box: ${(await import('node:os')).availableParallelism()} cores); the peers are single-threaded calls.`,
    ];

    const groups = [];
    for (const [name, data] of datasets) {
      const note = `Order-0 entropy of the 4 byte planes bounds byte-shuffle + entropy coding at ratio ${bytePlaneBound(data).toFixed(3)} on these bytes.`;
      const g = createGroup(name, { baseline: BASELINE, columns: COLUMNS, note });
      addCases(g, await measureRounds(`codec ${name.split(':')[0]}`, codecCases(data), rounds));
      groups.push(finishGroup(g));
    }

    const targets = [];
    for (const g of groups) {
      const kind = g.name.split(':')[0];
      targets.push(
        target(
          `${kind}: shuffle+zstd-1 ratio vs zstd-napi -1`,
          medianOf(g, 'modelcache shuffle+zstd-1', 'ratio') / medianOf(g, BASELINE, 'ratio'),
          1.15,
        ),
        target(
          `${kind}: shuffle+lz4 decompress vs lz4-napi`,
          medianOf(g, 'modelcache shuffle+lz4', 'decomp') / medianOf(g, 'lz4-napi', 'decomp'),
          1.0,
        ),
      );
    }
    return { notes, groups, targets };
  },
};
