// hash: XXH3-128 of buffers against xxhash-addon's XXH3-128, sha256 and a plain memcpy (the
// ceiling of anything that reads every byte once), and hashFile against readFile + hash.
import { createHash, randomFillSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import xxhashAddon from 'xxhash-addon';
import { hash, hashFile } from '../../dist/index.js';
import { gbps, looped, measureRounds, timeOnce } from '../lib/measure.mjs';
import { addCases, createGroup, finishGroup, medianOf, target } from '../lib/result.mjs';
import { warmPageCache, writeRandomFile } from '../lib/tmpfile.mjs';

const { XXHash128 } = xxhashAddon;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const label = (n) => (n >= GiB ? `${n / GiB} GiB` : n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`);

function bufferCases(data) {
  const sink = Buffer.allocUnsafe(data.byteLength);
  let keep = 0; // consumes results so no call is dead code
  const cases = [
    ['modelcache hash', () => { keep ^= hash(data).length; }],
    ['xxhash-addon XXH128', () => { keep ^= XXHash128.hash(data).length; }],
    ['node:crypto sha256', () => { keep ^= createHash('sha256').update(data).digest().length; }],
    ['memcpy (Buffer.copy)', () => { keep ^= data.copy(sink, 0); }],
  ];
  const small = data.byteLength < 16 * MiB;
  return cases.map(([name, fn]) => {
    const perCall = small ? looped(fn) : null;
    return {
      name,
      sample: async () => ({ gbps: gbps(data.byteLength, small ? perCall() : await timeOnce(fn)) }),
    };
  });
}

export default {
  name: 'hash',
  title: 'XXH3-128 throughput and file hashing',
  async run({ quick }) {
    const sizes = quick ? [4 * KiB, 1 * MiB, 32 * MiB] : [4 * KiB, 1 * MiB, 256 * MiB];
    const fileSize = quick ? 256 * MiB : 1 * GiB;
    const rounds = quick ? { min: 3, max: 5, budgetMs: 500 } : { min: 7, max: 15, budgetMs: 2500 };

    const big = Buffer.allocUnsafe(sizes.at(-1));
    randomFillSync(big);
    const notes = [];
    const probe = big.subarray(0, 4 * KiB);
    const agrees = hash(probe) === XXHash128.hash(probe).toString('hex');
    notes.push(`modelcache hash() digest ${agrees ? 'equals' : 'DIFFERS FROM'} xxhash-addon XXH128 on the same bytes. GB = 1e9 bytes.`);
    notes.push('4 KiB and 1 MiB samples each time many calls (~25 ms per sample) and divide; larger sizes time single calls.');

    const groups = [];
    for (const size of sizes) {
      const data = big.subarray(0, size);
      const g = createGroup(`buffer ${label(size)}`, {
        baseline: 'memcpy (Buffer.copy)',
        columns: [{ key: 'gbps', label: 'throughput', unit: 'GB/s', better: 'higher' }],
      });
      const settleMs = size >= 16 * MiB ? 50 : 0;
      addCases(g, await measureRounds(`hash ${label(size)}`, bufferCases(data), { ...rounds, settleMs }));
      groups.push(finishGroup(g));
    }

    const file = writeRandomFile(fileSize, 'hash-input.bin');
    let fileGroup;
    try {
      warmPageCache(file.path);
      const timed = async (fn) => {
        const ms = await timeOnce(fn);
        return { ms, gbps: gbps(fileSize, ms) };
      };
      const cases = [
        { name: 'readFile + hash', sample: () => timed(async () => hash(await readFile(file.path))) },
        { name: 'modelcache hashFile', sample: () => timed(() => hashFile(file.path)) },
      ];
      fileGroup = createGroup(`file ${label(fileSize)} (warm page cache)`, {
        baseline: 'readFile + hash',
        columns: [
          { key: 'ms', label: 'time', unit: 'ms', better: 'lower' },
          { key: 'gbps', label: 'throughput', unit: 'GB/s', better: 'higher' },
        ],
        note: 'The file was read once before timing, so both sides read from the page cache (no disk I/O). hashFile digests a 16 MiB-leaf tree, so its digest differs from hash(bytes) by design.',
      });
      const fileRounds = { ...(quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 5, max: 7, budgetMs: 8000 }), settleMs: 300 };
      addCases(fileGroup, await measureRounds(`hash file ${label(fileSize)}`, cases, fileRounds));
      groups.push(finishGroup(fileGroup));
    } finally {
      file.remove();
    }

    const last = groups[sizes.length - 1];
    const targets = [
      target(
        `hash ${label(sizes.at(-1))} throughput vs memcpy`,
        medianOf(last, 'modelcache hash', 'gbps') / medianOf(last, 'memcpy (Buffer.copy)', 'gbps'),
        0.7,
      ),
      target(
        `hashFile ${label(fileSize)} speed vs readFile + hash (warm)`,
        medianOf(fileGroup, 'readFile + hash', 'ms') / medianOf(fileGroup, 'modelcache hashFile', 'ms'),
        1.5,
      ),
    ];
    return { notes, groups, targets };
  },
};
