#!/usr/bin/env node
// Builds and runs the native fuzz targets: libFuzzer with clang (clang-14 or clang, when its
// libFuzzer runtime links), else the g++ build with the replay driver (native/test/fuzz). Each
// target runs for a time budget over a temporary copy of its seed corpus, so the committed corpus
// never grows; crash inputs are saved as native/test/corpus/<corpus>/crash-* (gitignored).
// The JS decoders (test/fuzz/*.fuzz.mjs, run by scripts/fuzz-js.mjs over dist/) are fuzzed at the
// same time in a child process, their budgets shared so that they end with the native targets:
// the phase takes no longer than the native targets alone.
// The last stdout line is {"suite":"fuzz","passed":N,"failed":M}, one test per target.
// Usage: node scripts/fuzz.mjs [--seconds N] [--target fuzz_decrypt|manifest] [--compiler clang|gcc]
//        node scripts/fuzz.mjs --make-corpus     (regenerates the seeds with mc_make_corpus)
// MODELCACHE_FUZZ_SECONDS sets the default budget per native target (30 s); --seconds wins over it.
// The JS targets import dist/: run `npm run build` first (npm test does).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { jsTargets } from './fuzz-js.mjs';
import { cmakeBuild, progress, root, run, summary } from './native-test.mjs';

const TARGETS = ['fuzz_decompress', 'fuzz_decrypt'];
const JS_TARGETS = jsTargets();
const corpusRoot = path.join(root, 'native', 'test', 'corpus');
const corpusOf = (target) => target.replace(/^fuzz_/, '');

function parseArgs(argv) {
  const opts = { seconds: null, targets: [], compiler: null, makeCorpus: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seconds') opts.seconds = value();
    else if (a === '--target') opts.targets.push(value());
    else if (a === '--compiler') opts.compiler = value();
    else if (a === '--make-corpus') opts.makeCorpus = true;
    else throw new Error(`unknown option ${a} (expected --seconds N, --target NAME, --compiler clang|gcc, --make-corpus)`);
  }
  const raw = opts.seconds ?? process.env.MODELCACHE_FUZZ_SECONDS ?? '30';
  opts.seconds = Number(raw);
  if (!Number.isFinite(opts.seconds) || opts.seconds <= 0) {
    throw new Error(`Expected a positive number of seconds but received ${JSON.stringify(raw)}`);
  }
  const all = [...TARGETS, ...JS_TARGETS];
  for (const t of opts.targets) {
    if (!all.includes(t)) throw new Error(`unknown target ${t} (expected one of ${all.join(', ')})`);
  }
  if (opts.targets.length === 0) opts.targets = all;
  opts.jsTargets = opts.targets.filter((t) => JS_TARGETS.includes(t));
  opts.targets = opts.targets.filter((t) => TARGETS.includes(t));
  if (opts.compiler && !['clang', 'gcc'].includes(opts.compiler)) {
    throw new Error(`Expected --compiler clang or gcc but received ${opts.compiler}`);
  }
  return opts;
}

// A clang counts only if a libFuzzer binary links with it (libclang-rt-*-dev may be missing).
async function findClang(tmp) {
  const probe = path.join(tmp, 'probe.cc');
  fs.writeFileSync(probe, 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n');
  for (const [cc, cxx] of [['clang-14', 'clang++-14'], ['clang', 'clang++']]) {
    const r = await run(cxx, ['-fsanitize=fuzzer,address,undefined', probe, '-o', path.join(tmp, 'probe')]);
    if (r.code === 0) return { cc, cxx };
  }
  return null;
}

async function build(opts, tmp) {
  let toolchain = null;
  if (opts.compiler !== 'gcc') {
    toolchain = await findClang(tmp);
    if (!toolchain && opts.compiler === 'clang') throw new Error('no clang with a linkable libFuzzer runtime found');
  }
  const libFuzzer = toolchain !== null;
  if (!toolchain) toolchain = { cc: 'gcc', cxx: 'g++' };
  const buildDir = path.join(root, libFuzzer ? 'build-fuzz' : 'build-fuzz-gcc');
  process.stderr.write(`fuzz: ${libFuzzer ? `libFuzzer (${toolchain.cxx})` : 'g++ replay driver'} in ${path.basename(buildDir)}\n`);
  const targets = opts.makeCorpus ? ['mc_make_corpus'] : opts.targets;
  const ok = await cmakeBuild(buildDir, [
    'MODELCACHE_FUZZ=ON',
    'CMAKE_BUILD_TYPE=RelWithDebInfo',
    `CMAKE_C_COMPILER=${toolchain.cc}`,
    `CMAKE_CXX_COMPILER=${toolchain.cxx}`,
  ], targets);
  return ok ? { buildDir, libFuzzer } : null;
}

function exePath(buildDir, target) {
  return path.join(buildDir, 'native', 'test', 'fuzz', target);
}

async function fuzzOne(target, { buildDir, libFuzzer }, seconds, tmp) {
  const work = fs.mkdtempSync(path.join(tmp, `${target}-`));
  const corpus = path.join(work, 'corpus');
  const artifacts = path.join(work, 'artifacts');
  fs.mkdirSync(corpus);
  fs.mkdirSync(artifacts);
  const seedDir = path.join(corpusRoot, corpusOf(target));
  // Earlier crash-* inputs are seeds too: a crash found once fails every run until it is fixed.
  for (const f of fs.existsSync(seedDir) ? fs.readdirSync(seedDir) : []) {
    const src = path.join(seedDir, f);
    if (fs.statSync(src).isFile()) fs.copyFileSync(src, path.join(corpus, f));
  }

  const args = [`-max_total_time=${seconds}`, `-artifact_prefix=${artifacts}${path.sep}`];
  if (libFuzzer) args.push('-timeout=60', '-rss_limit_mb=4096', '-use_value_profile=1', '-print_final_stats=1');
  args.push(corpus);
  const env = {
    ...process.env,
    ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
  };
  const started = Date.now();
  const r = await run(exePath(buildDir, target), args, { env, echo: progress, timeoutMs: (seconds * 2 + 120) * 1000 });
  const secs = ((Date.now() - started) / 1000).toFixed(0);

  // libFuzzer names artifacts crash-/leak-/timeout-/oom-<sha1>; all are kept as crash-*.
  const saved = [];
  for (const f of fs.readdirSync(artifacts)) {
    const name = f.startsWith('crash-') ? f : `crash-${f}`;
    fs.mkdirSync(seedDir, { recursive: true });
    fs.copyFileSync(path.join(artifacts, f), path.join(seedDir, name));
    saved.push(path.relative(root, path.join(seedDir, name)));
  }
  const runs = /Done (\d+) runs/.exec(r.output)?.[1] ?? '?';
  const ok = r.code === 0 && saved.length === 0 && !r.timedOut;
  if (ok) {
    process.stdout.write(`Passed  ${target}: ${runs} runs in ${secs} s\n`);
  } else {
    const why = r.timedOut ? 'hung past its time budget' : `exit code ${r.code}${r.signal ? ` (${r.signal})` : ''}`;
    if (!progress) process.stderr.write(`${r.output.split('\n').slice(-80).join('\n')}\n`);
    process.stdout.write(`FAILED  ${target}: ${why}${saved.length ? `; crash input saved to ${saved.join(', ')}` : ''}\n`);
  }
  return ok;
}

// Starts the JS targets in a child process; resolves { passed, failed } when it ends. Each gets
// a share of the native targets' total time (or the full budget when it runs alone).
function startJsFuzz(opts) {
  if (opts.jsTargets.length === 0 || opts.makeCorpus) return Promise.resolve({ passed: 0, failed: 0 });
  const total = opts.seconds * Math.max(1, opts.targets.length);
  const each = Math.max(1, Math.floor(total / opts.jsTargets.length));
  const args = [path.join(root, 'scripts', 'fuzz-js.mjs'), '--seconds', String(each), ...opts.jsTargets.flatMap((t) => ['--target', t])];
  return run(process.execPath, args, { echo: process.stdout, timeoutMs: (total * 2 + 120) * 1000 }).then((r) => {
    const line = r.output.split('\n').reverse().find((l) => l.startsWith('{"suite":"fuzz-js"'));
    const s = line ? JSON.parse(line) : null;
    if (!s || r.timedOut) return { passed: 0, failed: opts.jsTargets.length };
    return { passed: s.passed, failed: s.failed };
  });
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`fuzz: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  const js = startJsFuzz(opts);
  const count = opts.targets.length + opts.jsTargets.length;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-fuzz-'));
  try {
    let passed = 0;
    if (opts.targets.length > 0 || opts.makeCorpus) {
      const built = await build(opts, tmp);
      if (opts.makeCorpus) {
        if (!built) {
          process.exitCode = 1;
          return;
        }
        const r = await run(exePath(built.buildDir, 'mc_make_corpus'), [corpusRoot], { echo: process.stdout });
        process.exitCode = r.code === 0 ? 0 : 1;
        return;
      }
      if (!built) {
        process.stdout.write('FAILED  build of the fuzz targets (log on stderr)\n');
      } else {
        for (const target of opts.targets) {
          if (await fuzzOne(target, built, opts.seconds, tmp)) passed++;
        }
      }
    }
    passed += (await js).passed;
    const failed = count - passed;
    summary('fuzz', passed, failed);
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  summary('fuzz', 0, 1);
  process.exitCode = 1;
});
