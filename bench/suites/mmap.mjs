// mmap: time until a 1 GiB file is a usable Buffer, mapFile against readFileSync, and (to be
// fair to readFileSync, which has touched every page by then) time to a first full pass.
import { readFileSync } from 'node:fs';
import { mapFile } from '../../dist/index.js';
import { measureRounds } from '../lib/measure.mjs';
import { addCases, createGroup, finishGroup, medianOf, target } from '../lib/result.mjs';
import { warmPageCache, writeRandomFile } from '../lib/tmpfile.mjs';

const MiB = 1024 * 1024;
const PAGE = 4096;

/** Reads one byte per page: what it costs to bring every page of the buffer into play. */
function touchPages(buf) {
  let sum = 0;
  for (let i = 0; i < buf.length; i += PAGE) sum += buf[i];
  return sum;
}

function timeToBufferAndPass(open) {
  const t0 = performance.now();
  const { buf, close } = open();
  const t1 = performance.now();
  const sum = touchPages(buf);
  const t2 = performance.now();
  close();
  if (sum < 0) throw new Error('unreachable');
  return { open: t1 - t0, pass: t2 - t0 };
}

export default {
  name: 'mmap',
  title: 'mapFile vs readFileSync',
  async run({ quick }) {
    const size = quick ? 256 * MiB : 1024 * MiB;
    const file = writeRandomFile(size, 'mmap-input.bin');
    try {
      warmPageCache(file.path);
      let mapped = true;
      const cases = [
        { name: 'readFileSync', sample: () => timeToBufferAndPass(() => ({ buf: readFileSync(file.path), close() {} })) },
        {
          name: 'modelcache mapFile',
          sample: () =>
            timeToBufferAndPass(() => {
              const m = mapFile(file.path);
              mapped &&= m.mapped;
              return { buf: m.buffer, close: () => m.close() };
            }),
        },
      ];
      const rounds = { ...(quick ? { min: 3, max: 3, budgetMs: 0 } : { min: 9, max: 15, budgetMs: 12000 }), settleMs: 300 };
      const g = createGroup(`${size / MiB} MiB file (warm page cache)`, {
        baseline: 'readFileSync',
        columns: [
          { key: 'open', label: 'to usable Buffer', unit: 'ms', better: 'lower' },
          { key: 'pass', label: 'to Buffer + 1 byte/4 KiB pass', unit: 'ms', better: 'lower' },
        ],
        note: 'The file was read once before timing. Every mapFile sample is a fresh mapping, so its pass pays the page faults; readFileSync pays the copy up front.',
      });
      addCases(g, await measureRounds('mmap', cases, rounds));
      finishGroup(g);
      const notes = [`mapFile ${mapped ? 'mapped the file (zero copy)' : 'FELL BACK to a copy (external buffers refused)'}.`];
      const targets = [
        target('mapFile time to usable Buffer vs readFileSync', medianOf(g, 'readFileSync', 'open') / medianOf(g, 'modelcache mapFile', 'open'), 50),
      ];
      return { notes, groups: [g], targets };
    } finally {
      file.remove();
    }
  },
};
