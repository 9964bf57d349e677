#!/usr/bin/env node
// Fuzzes the TypeScript decoders of stored bytes (as built in dist/): a seeded mutation loop over
// each target's seed corpus, the JS twin of native/test/fuzz/replay_main.cc. A target is a module
// test/fuzz/<name>.fuzz.mjs exporting
//   run(input: Buffer): void             throws only for a bug (bad bytes must end in the decoder's
//                                        own typed error, caught by the target)
//   mutate?(input: Buffer, rng): Buffer  optional structure-aware mutation (e.g. of JSON fields)
// with seeds in test/fuzz/corpus/<name>/. Adding a decoder is adding those two things.
// Every seed runs first (earlier crash-* inputs too: a crash fails every run until fixed); then
// mutations run until the time budget. A failing input is saved as corpus/<name>/crash-<hash>.
// The last stdout line is {"suite":"fuzz-js","passed":N,"failed":M}, one test per target.
// Usage: node scripts/fuzz-js.mjs [--seconds N] [--target NAME] [--seed N]   (after `npm run build`)
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const fuzzDir = path.join(root, 'test', 'fuzz');
const MAX_LEN = 1 << 16;

/** Names of the JS fuzz targets (test/fuzz/<name>.fuzz.mjs). */
export function jsTargets() {
  if (!fs.existsSync(fuzzDir)) return [];
  return fs.readdirSync(fuzzDir).filter((f) => f.endsWith('.fuzz.mjs')).map((f) => f.slice(0, -'.fuzz.mjs'.length)).sort();
}

/** A small fast PRNG (mulberry32): the same seed gives the same run. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, below: (n) => (n > 0 ? Math.floor(next() * n) : 0), pick: (list) => list[Math.floor(next() * list.length)] };
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x2f, 0x5c, 0x2e, 0x30, 0x39, 0x2d, 0x7b, 0x5b];
const INTERESTING_TEXT = ['"', '\\', '/', '..', '{}', '[]', 'null', '-1', '1e300', '-1e18', '0.5', '9007199254740993', '\\u0000', 'true'];

/** One generic mutation of the bytes (bit flips, byte sets, inserted tokens, erasures, splices). */
export function mutateBytes(input, corpus, r) {
  let b = Buffer.from(input);
  switch (r.below(8)) {
    case 0:
      if (b.length) b[r.below(b.length)] ^= 1 << r.below(8);
      break;
    case 1:
      if (b.length) b[r.below(b.length)] = r.below(2) ? r.pick(INTERESTING_BYTES) : r.below(256);
      break;
    case 2: {
      const at = r.below(b.length + 1);
      b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(INTERESTING_TEXT)), b.subarray(at)]);
      break;
    }
    case 3:
      if (b.length) b = b.subarray(0, r.below(b.length));
      break;
    case 4: {
      if (!b.length) break;
      const at = r.below(b.length);
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.below(32)))]);
      break;
    }
    case 5: {
      if (b.length < 2) break;
      const from = r.below(b.length);
      const len = 1 + r.below(Math.min(64, b.length - from));
      const at = r.below(b.length + 1);
      b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + len), b.subarray(at)]);
      break;
    }
    case 6:
      if (b.length) b[r.below(b.length)] += r.below(33) - 16;
      break;
    default: {
      const other = r.pick(corpus);
      if (!other) break;
      b = Buffer.concat([b.subarray(0, r.below(b.length + 1)), other.subarray(r.below(other.length + 1))]);
    }
  }
  return b.length > MAX_LEN ? b.subarray(0, MAX_LEN) : b;
}

function readCorpus(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).sort().filter((f) => !f.startsWith('.')).map((f) => ({ name: f, bytes: fs.readFileSync(path.join(dir, f)) }));
}

function saveCrash(dir, input) {
  const name = `crash-${createHash('sha1').update(input).digest('hex').slice(0, 16)}`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), input);
  return path.relative(root, path.join(dir, name));
}

/** Fuzzes one target for `seconds`; resolves true when no input failed. */
export async function fuzzTarget(name, { seconds, seed = 1, out = process.stdout } = {}) {
  const target = await import(pathToFileURL(path.join(fuzzDir, `${name}.fuzz.mjs`)).href);
  const corpusDir = path.join(fuzzDir, 'corpus', name);
  const seeds = readCorpus(corpusDir);
  const corpus = seeds.map((s) => s.bytes);
  const started = Date.now();
  let runs = 0;
  const fail = (input, err) => {
    const saved = saveCrash(corpusDir, input);
    out.write(`FAILED  fuzz-js ${name}: ${err?.stack ?? err}\n        input saved to ${saved}\n`);
    return false;
  };
  for (const s of seeds) {
    runs++;
    try {
      target.run(s.bytes);
    } catch (err) {
      return fail(s.bytes, err);
    }
  }
  const r = rng(seed);
  const deadline = started + seconds * 1000;
  while (corpus.length > 0 && Date.now() < deadline) {
    for (let i = 0; i < 256; i++) {
      let input = r.pick(corpus);
      for (let k = 1 + r.below(4); k > 0; k--) {
        input = target.mutate && r.below(2) ? target.mutate(input, r) : mutateBytes(input, corpus, r);
      }
      runs++;
      try {
        target.run(input);
      } catch (err) {
        return fail(input, err);
      }
    }
  }
  out.write(`Passed  fuzz-js ${name}: ${runs} runs (${seeds.length} seeds) in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return true;
}

function parseArgs(argv) {
  const opts = { seconds: Number(process.env.MODELCACHE_FUZZ_SECONDS ?? 30), targets: [], seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seconds') opts.seconds = Number(value());
    else if (a === '--target') opts.targets.push(value());
    else if (a === '--seed') opts.seed = Number(value());
    else throw new Error(`unknown option ${a} (expected --seconds N, --target NAME, --seed N)`);
  }
  if (!Number.isFinite(opts.seconds) || opts.seconds <= 0) throw new Error(`Expected a positive number of seconds but received ${opts.seconds}`);
  const known = jsTargets();
  for (const t of opts.targets) if (!known.includes(t)) throw new Error(`unknown target ${t} (expected one of ${known.join(', ')})`);
  if (opts.targets.length === 0) opts.targets = known;
  return opts;
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`fuzz-js: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  let passed = 0;
  for (const t of opts.targets) {
    let ok = false;
    try {
      ok = await fuzzTarget(t, opts);
    } catch (err) {
      process.stdout.write(`FAILED  fuzz-js ${t}: cannot load the target (${err.message}); run \`npm run build\` first\n`);
    }
    if (ok) passed++;
  }
  const failed = opts.targets.length - passed;
  process.stdout.write(`${JSON.stringify({ suite: 'fuzz-js', passed, failed })}\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();
