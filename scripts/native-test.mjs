#!/usr/bin/env node
// Builds native/core standalone with its C++ tests under ASan + UBSan (or, with --valgrind, without
// sanitizers and under valgrind) and runs them. The last stdout line is a JSON summary:
//   {"suite":"native","passed":N,"failed":M}
// Usage: node scripts/native-test.mjs [--valgrind] [--filter SUBSTRING]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const jobs = 2; // the machines have 2 cores, shared with other work

// Runs a command. Its output is streamed to `echo` (a writable, or null to keep quiet) and kept,
// the last `keep` lines of it, so a caller can show the tail of a failure after the fact.
// Resolves { code, signal, output, timedOut }; never rejects for a failing command.
export function run(cmd, args, { cwd = root, env = process.env, echo = null, keep = 400, timeoutMs = 0 } = {}) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: 127, signal: null, output: String(err), timedOut: false });
      return;
    }
    const lines = [];
    let partial = '';
    const take = (chunk) => {
      if (echo) echo.write(chunk);
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop();
      lines.push(...parts);
      if (lines.length > keep) lines.splice(0, lines.length - keep);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    const timer = timeoutMs > 0 ? setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs) : null;
    child.on('error', (err) => {
      lines.push(`${cmd}: ${err.message}`);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (partial) lines.push(partial);
      resolve({ code: code ?? 128, signal, output: lines.join('\n'), timedOut });
    });
  });
}

// Progress (build logs and the like) goes to stderr, and only when stdout is a terminal; stdout
// carries results and the summary line.
export const progress = process.stdout.isTTY ? process.stderr : null;

// Configures and builds; on failure prints the tail of the log to stderr and returns false.
export async function cmakeBuild(buildDir, defines, targets = []) {
  const configure = await run('cmake', ['-S', root, '-B', buildDir, ...defines.map((d) => `-D${d}`)], { echo: progress });
  if (configure.code !== 0) {
    process.stderr.write(`${configure.output}\ncmake configure failed in ${buildDir}\n`);
    return false;
  }
  const targetArgs = targets.flatMap((t) => ['--target', t]);
  const build = await run('cmake', ['--build', buildDir, '--parallel', String(jobs), ...targetArgs], { echo: progress });
  if (build.code !== 0) {
    process.stderr.write(`${build.output}\nbuild failed in ${buildDir}\n`);
    return false;
  }
  return true;
}

export function summary(suite, passed, failed) {
  process.stdout.write(`${JSON.stringify({ suite, passed, failed })}\n`);
}

// ctest prints one line per test: " 3/10 Test  #3: test_codec .......***Failed    1.16 sec"
export function parseCtest(output) {
  const results = [];
  for (const line of output.split('\n')) {
    const m = /Test\s+#\d+:\s+(\S+)\s+\.*\s*(.*?)\s+[\d.]+\s+sec\s*$/.exec(line);
    if (m) results.push({ name: m[1], ok: m[2] === 'Passed', status: m[2].replace(/^\*+/, '') });
  }
  return results;
}

async function listTests(buildDir) {
  const r = await run('ctest', ['--show-only=json-v1'], { cwd: buildDir, keep: 1e9 });
  if (r.code !== 0) throw new Error(`ctest --show-only failed:\n${r.output}`);
  return JSON.parse(r.output).tests.map((t) => ({
    name: t.name,
    command: t.command,
    env: Object.fromEntries(
      (t.properties?.find((p) => p.name === 'ENVIRONMENT')?.value ?? []).map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i), kv.slice(i + 1)];
      }),
    ),
  }));
}

// The process-wide thread pool lives until exit by design, so glibc's per-thread TLS blocks of
// its workers are "possibly lost" at exit. Only that is suppressed; every other leak still fails.
const VALGRIND_SUPPRESSIONS = `{
   live-pool-thread-tls
   Memcheck:Leak
   match-leak-kinds: possible
   fun:calloc
   ...
   fun:_dl_allocate_tls
   ...
   fun:pthread_create*
}
`;

// Each test executable under valgrind; a leak or memory error fails it through the exit code.
async function runUnderValgrind(buildDir, filter) {
  const probe = await run('valgrind', ['--version']);
  if (probe.code !== 0) {
    process.stderr.write('valgrind is not installed (apt-get install valgrind)\n');
    return null;
  }
  const supp = path.join(buildDir, 'modelcache.supp');
  fs.writeFileSync(supp, VALGRIND_SUPPRESSIONS);
  const results = [];
  for (const t of await listTests(buildDir)) {
    if (filter && !t.name.includes(filter)) continue;
    const started = Date.now();
    const r = await run('valgrind', [
      '--leak-check=full', '--error-exitcode=1', `--suppressions=${supp}`,
      '--track-origins=yes', '--quiet', ...t.command,
    ], { env: { ...process.env, ...t.env }, echo: progress });
    const ok = r.code === 0;
    const secs = ((Date.now() - started) / 1000).toFixed(2);
    process.stdout.write(`${ok ? 'Passed' : 'FAILED'}  ${t.name} (valgrind, ${secs} s)\n`);
    if (!ok && !progress) process.stdout.write(`${r.output}\n`);
    results.push({ name: t.name, ok });
  }
  return results;
}

async function main() {
  const argv = process.argv.slice(2);
  const valgrind = argv.includes('--valgrind');
  const fi = argv.indexOf('--filter');
  const filter = fi >= 0 ? argv[fi + 1] : null;
  const unknown = argv.filter((a, i) => a.startsWith('--') && !['--valgrind', '--filter'].includes(a) && argv[i - 1] !== '--filter');
  if (unknown.length) {
    process.stderr.write(`native-test: unknown option ${unknown[0]} (expected --valgrind or --filter SUBSTRING)\n`);
    process.exitCode = 2;
    return;
  }

  const buildDir = path.join(root, valgrind ? 'build-native-valgrind' : 'build-native-test');
  const built = await cmakeBuild(buildDir, [
    'MODELCACHE_TESTS=ON',
    `MODELCACHE_SANITIZE=${valgrind ? 'OFF' : 'ON'}`,
    'CMAKE_BUILD_TYPE=Debug',
  ]);
  if (!built) {
    summary('native', 0, 1);
    process.exitCode = 1;
    return;
  }

  let results;
  if (valgrind) {
    results = await runUnderValgrind(buildDir, filter);
    if (!results) {
      summary('native', 0, 1);
      process.exitCode = 1;
      return;
    }
  } else {
    const args = ['--output-on-failure', '--timeout', '900'];
    if (filter) args.push('-R', filter);
    const r = await run('ctest', args, { cwd: buildDir, echo: process.stdout, keep: 1e6 });
    results = parseCtest(r.output);
    if (r.code !== 0 && results.every((t) => t.ok)) {
      // ctest failed without a failing test line (no tests, a crash of ctest itself).
      results.push({ name: 'ctest', ok: false });
    }
  }
  const passed = results.filter((t) => t.ok).length;
  const failed = results.length - passed;
  if (results.length === 0) process.stderr.write('native-test: no tests ran\n');
  summary('native', passed, failed);
  process.exitCode = failed === 0 && results.length > 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err) => {
    process.stderr.write(`${err.stack ?? err}\n`);
    summary('native', 0, 1);
    process.exitCode = 1;
  });
}
