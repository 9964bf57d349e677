#!/usr/bin/env node
// `npm run stress`: kills a cache writer with SIGKILL at random points, --kills times (default
// 1000), while a reader checks every value it gets; then reopens, repairs and verifies the cache.
// Exits non-zero on any torn read or any check that fails afterwards. Uses dist/ (npm run build).
//
//   node scripts/stress.mjs [--kills N] [--dir DIR] [--seed N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as lib from '../dist/index.js';
import { checkAfterCrashes, runCrashLoop } from '../test/fixtures/crash-harness.mjs';

function usage(message) {
  console.error(`stress: ${message}\nusage: node scripts/stress.mjs [--kills N] [--dir DIR] [--seed N]`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: { kills: { type: 'string', default: '1000' }, dir: { type: 'string' }, seed: { type: 'string', default: '1' } },
  }).values;
} catch (err) {
  usage(err.message);
}
const kills = Number(args.kills);
if (!Number.isInteger(kills) || kills < 1) usage(`expected a positive integer for --kills but received ${JSON.stringify(args.kills)}`);
const seed = Number(args.seed);
if (!Number.isInteger(seed) || seed < 1) usage(`expected a positive integer for --seed but received ${JSON.stringify(args.seed)}`);
const ownDir = args.dir === undefined;
const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'modelcache-stress-'));

const tty = process.stderr.isTTY;
const started = Date.now();
function progress(done, total) {
  if (!tty) return;
  const s = ((Date.now() - started) / 1000).toFixed(0);
  process.stderr.write(`\r${done}/${total} kills, ${s} s`);
}

/** 'orphan-file x 12, stale-tmp x 1' */
function countOf(names) {
  const n = new Map();
  for (const x of names) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n].map(([k, v]) => `${k} x ${v}`).join(', ');
}

let failed = false;
try {
  const loop = await runCrashLoop({ dir, kills, seed, onProgress: progress });
  if (tty) process.stderr.write('\n');
  const after = await checkAfterCrashes(lib, dir);
  const r = loop.reader;
  const checks = [
    ['writers killed while running', loop.killed === kills && loop.writerFailures.length === 0, `${loop.killed}/${kills}`, loop.writerFailures],
    ['torn reads', !r.failed && r.torn.length === 0, r.failed ?? `${r.torn.length} in ${r.hits} hits (${r.mappedHits} mapped) of ${r.reads} reads`, r.torn],
    ['damaged entries met by the reader', r.corrupt === 0 && r.errors === 0, `${r.corrupt} corrupt, ${r.errors} errors`, r.warnings],
    ['stale tmp files after reopening', after.tmpAfterOpen.length === 0, `${after.tmpAfterOpen.length} (the kills left ${after.tmpBeforeOpen})`, after.tmpAfterOpen],
    ['wrong values after reopening', after.wrong.length === 0 && after.corruptOnRead === 0, `${after.wrong.length} wrong, ${after.corruptOnRead} corrupt, ${after.readable} correct`, after.wrong],
    ['verify after verify --repair', after.problemsAfterRepair.length === 0, `${after.problemsAfterRepair.length} problems (repair found: ${countOf(after.repairFound) || 'nothing'})`, after.problemsAfterRepair],
    ['entries kept by the repair', after.readableAfterRepair === after.readable, `${after.readableAfterRepair}/${after.readable}`, []],
    ['put/get after the crashes', after.roundTrip.every(Boolean), after.roundTrip.join(', '), []],
  ];
  for (const [name, ok, detail, items] of checks) {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
    if (!ok) {
      failed = true;
      for (const item of items.slice(0, 10)) console.log(`       ${typeof item === 'string' ? item : JSON.stringify(item)}`);
    }
  }
  console.log(`${kills} kills in ${((Date.now() - started) / 1000).toFixed(1)} s: ${failed ? 'FAILED' : 'passed'}${ownDir ? '' : ` (cache left in ${dir})`}`);
} catch (err) {
  console.error(`stress: ${err?.stack ?? err}`);
  failed = true;
} finally {
  if (ownDir) rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
