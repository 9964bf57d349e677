#!/usr/bin/env node
// `npm test`: the TypeScript build, the API docs check (every exported member documented), the C++
// unit tests under ASan+UBSan, a short fuzz run of every decoder of stored bytes, the vitest suite,
// and the install tests (the packed package installed into empty projects). Ends with one plain
// summary line:
//   N passed, N failed[, N skipped]
// MODELCACHE_TEST_ADDON=prebuild (set by .ci/run) runs the vitest suite against the prebuilt addon
// that `npm pack` ships instead of build/Release, so CI proves that the prebuild passes it too.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ci = Boolean(process.env.CI);
const fuzzSeconds = process.env.MODELCACHE_FUZZ_SECONDS ?? (ci ? '30' : '10');

function run(cmd, args, { capture = false, quiet = false, env = process.env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
    let out = '';
    if (capture) {
      child.stdout.on('data', (d) => {
        out += d;
        if (!quiet) process.stdout.write(d);
      });
    }
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

function lastJson(out) {
  const lines = out.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const v = JSON.parse(line);
      if (v && typeof v.passed === 'number') return v;
    } catch {
      /* not the summary line */
    }
  }
  return null;
}

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

// 1. TypeScript: tests of the CLI and child processes import dist/.
{
  const r = await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
  if (r.code !== 0) {
    totals.failed += 1;
    failures.push('tsc');
  }
}

// 1b. The API docs (`npm run docs:check`): typedoc with every warning an error, so an exported
// member without TSDoc, a broken {@link} or a referenced type left out fails the run. Emits nothing.
{
  const r = await run(process.execPath, ['node_modules/typedoc/bin/typedoc', '--options', 'typedoc.check.json']);
  if (r.code !== 0) {
    totals.failed += 1;
    failures.push('docs');
  }
}

// 2. C++ unit tests under sanitizers, then 3. the fuzz targets.
for (const [name, args] of [
  ['native', ['scripts/native-test.mjs']],
  ['fuzz', ['scripts/fuzz.mjs', '--seconds', fuzzSeconds]],
]) {
  const r = await run(process.execPath, args, { capture: true });
  const s = lastJson(r.out);
  if (!s) {
    totals.failed += 1;
    failures.push(`${name} (no summary, exit ${r.code})`);
    continue;
  }
  totals.passed += s.passed;
  totals.failed += s.failed;
  totals.skipped += s.skipped ?? 0;
  if (s.failed > 0 || r.code !== 0) failures.push(name);
}

// 4. vitest, with a JSON report to count from; 5. the install tests, after it: they pack the
// repository, which rebuilds dist/ and the prebuild under the feet of any test that loads them.
async function vitest(name, args, env = process.env) {
  const dir = mkdtempSync(join(tmpdir(), 'modelcache-vitest-'));
  const report = join(dir, 'report.json');
  const r = await run(process.execPath, [
    'node_modules/vitest/vitest.mjs', 'run', ...args, '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
  ], { env });
  try {
    const j = JSON.parse(readFileSync(report, 'utf8'));
    totals.passed += j.numPassedTests;
    totals.failed += j.numFailedTests;
    totals.skipped += (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
    // A suite that failed to load has no failed test but must still fail the run.
    if (j.numFailedTestSuites > 0 && j.numFailedTests === 0) totals.failed += j.numFailedTestSuites;
    if (r.code !== 0) failures.push(name);
  } catch {
    totals.failed += 1;
    failures.push(`${name} (no report, exit ${r.code})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The addon the vitest suite loads (src/native.ts picks it with node-gyp-build): build/Release, or
// with PREBUILDS_ONLY=1 the prebuild, built first. Printed, and checked, so a run says what it tested.
async function addonForVitest() {
  const prebuild = process.env.MODELCACHE_TEST_ADDON === 'prebuild';
  const env = { ...process.env };
  delete env.PREBUILDS_ONLY;
  if (prebuild) {
    const b = await run(process.execPath, ['scripts/prebuild.mjs']);
    if (b.code !== 0) return { env, error: 'build:prebuild' };
    env.PREBUILDS_ONLY = '1';
  }
  const probe = await run(process.execPath, ['--input-type=module', '-e', "console.log((await import('./dist/native.js')).addonPath)"], { capture: true, quiet: true, env });
  const path = probe.out.trim();
  if (probe.code !== 0 || (prebuild && !/[/\\]prebuilds[/\\]/.test(path))) return { env, error: `addon (${path || `exit ${probe.code}`})` };
  console.log(`vitest: addon ${path}`);
  return { env };
}

{
  const { env, error } = await addonForVitest();
  if (error) {
    totals.failed += 1;
    failures.push(error);
  } else {
    await vitest('vitest', [], env);
  }
}
await vitest('install', ['--config', 'test/install/vitest.config.ts']);

if (failures.length) console.log(`\nfailed: ${failures.join(', ')}`);
const skipped = totals.skipped ? `, ${totals.skipped} skipped` : '';
console.log(`\n${totals.passed} passed, ${totals.failed} failed${skipped}`);
process.exit(failures.length || totals.failed ? 1 : 0);
