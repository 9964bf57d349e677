// codec: our frame (byte-shuffle + zstd/lz4, chunked in parallel) against zstd-napi, lz4-napi
// and node:zlib on real float32 weights and activations of the PaddleOCR recognition model.
import zlib from 'node:zlib';
import * as zstdNapi from 'zstd-napi';
import lz4Napi from 'lz4-napi';
import { compress, decompress } from '../../dist/index.js';
import { loadModelBytes, modelActivations, modelWeights } from '../lib/model-data.mjs';
import { mbps, measureRounds, timeOnce } from '../lib/measure.mjs';
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

function codecCases(data) {
  return CODECS.map(([name, enc, dec]) => {
    const frame = enc(data);
    if (!dec(frame).equals(data)) throw new Error(`${name}: round trip changed the bytes`);
    const ratio = data.byteLength / frame.byteLength;
    return {
      name,
      sample: async () => {
        let out;
        const c = await timeOnce(() => { out = enc(data); });
        const d = await timeOnce(() => dec(out));
        return { ratio, comp: mbps(data.byteLength, c), decomp: mbps(data.byteLength, d) };
      },
    };
  });
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
      const g = createGroup(name, { baseline: BASELINE, columns: COLUMNS });
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
