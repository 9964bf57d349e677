// `npm run bench [-- suite...] [--quick] [--baseline <git-rev>]`: runs each suite in a fresh child
// process, prints medians and ratios against the baseline measured in the same run, writes
// bench/results/<suite>.json and bench/results/report.html. With --baseline, each suite also runs
// against that revision's build (in fresh processes of the same run) and the two medians are
// printed side by side. Targets are reported, never enforced: the exit code is non-zero only when
// a suite crashes.
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareResults, prepareBaseline } from './lib/baseline.mjs';
import { hardware } from './lib/hardware.mjs';
import { printComparison, printSuite } from './lib/table.mjs';
import { renderReport } from './lib/report.mjs';
import { ratio } from './lib/format.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SUITES = ['hash', 'codec', 'mmap', 'cipher', 'store', 'memoize', 'shared', 'session'];
const resultsDir = path.join(here, 'results');

// Suites that take the library from a given root (`run({ root })`), so an older build can be measured.
const ROOTED = ['memoize'];

function usage() {
  return `usage: npm run bench -- [${SUITES.join('|')} ...] [--quick] [--baseline <git-rev>]
  no suite names: run all. --quick: smaller inputs and fewer samples (smoke test only).
  --baseline <git-rev>: also run each suite against that revision, built in a temporary git worktree,
  and print both medians and their ratio (suites: ${ROOTED.join(', ')}).`;
}

function parseArgs(argv) {
  const suites = [];
  let quick = false;
  let baseline = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--baseline') {
      baseline = argv[++i];
      if (!baseline) {
        console.error(`--baseline needs a git revision\n${usage()}`);
        process.exit(2);
      }
    } else if (a === '-h' || a === '--help') {
      console.log(usage());
      process.exit(0);
    } else if (SUITES.includes(a)) suites.push(a);
    else {
      console.error(`unknown argument ${JSON.stringify(a)}\n${usage()}`);
      process.exit(2);
    }
  }
  const chosen = suites.length ? suites : baseline ? ROOTED : SUITES;
  if (baseline) {
    const unable = chosen.filter((s) => !ROOTED.includes(s));
    if (unable.length) {
      console.error(`--baseline: ${unable.join(', ')} cannot run against another build (only ${ROOTED.join(', ')})`);
      process.exit(2);
    }
  }
  return { suites: chosen, quick, baseline };
}

let current = null; // the running child, to pass a Ctrl-C on when only the parent received it

function runChild(name, quick, root) {
  return new Promise((resolve) => {
    let result = null;
    const child = (current = fork(path.join(here, 'lib', 'child.mjs'), [name, ...(quick ? ['--quick'] : []), ...(root ? ['--root', root] : [])], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }));
    child.on('message', (msg) => {
      if (msg?.ok) result = msg.result;
    });
    child.on('exit', (code, signal) => {
      if (result && code === 0) resolve({ ok: true, result });
      else resolve({ ok: false, why: signal ? `killed by ${signal}` : `exit code ${code}` });
    });
    child.on('error', (err) => resolve({ ok: false, why: err.message }));
  });
}

function loadAllResults() {
  const order = (s) => (SUITES.indexOf(s) + 1 || 99);
  return readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      try {
        return JSON.parse(readFileSync(path.join(resultsDir, f), 'utf8'));
      } catch {
        return null;
      }
    })
    .filter((r) => r && r.suite && Array.isArray(r.groups))
    .sort((a, b) => order(a.suite) - order(b.suite));
}

async function main() {
  const { suites, quick, baseline: baselineRev } = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(here, '..', 'dist', 'index.js'))) {
    console.error('dist/ is missing: run `npx tsc -p tsconfig.json` (npm run build) first');
    process.exit(1);
  }
  mkdirSync(resultsDir, { recursive: true });
  const baseline = baselineRev ? prepareBaseline(path.join(here, '..'), baselineRev) : null;
  const hw = hardware();
  console.log(`modelcache bench — ${new Date().toISOString()}`);
  console.log(`${hw.cpu}, ${hw.cores} cores, ${(hw.ramBytes / 2 ** 30).toFixed(1)} GiB RAM, Node ${hw.node}, ${hw.platform}`);
  console.log(`suites: ${suites.join(', ')}${quick ? ' (--quick)' : ''}; each in a fresh process; figures are medians`);

  const crashed = [];
  const summary = [];
  let interrupted = false;
  process.on('SIGINT', () => {
    interrupted = true; // the child exits through its own handlers and removes its temp files
    if (current && current.exitCode === null) current.kill('SIGINT');
  });
  for (const name of suites) {
    if (interrupted) break;
    const started = Date.now();
    const loadBefore = os.loadavg()[0];
    // The baseline build first, then this one: each in a fresh process, one after the other.
    const base = baseline ? await runChild(name, quick, baseline.root) : null;
    const outcome = base && !base.ok ? base : await runChild(name, quick);
    if (!outcome.ok && interrupted) break;
    if (!outcome.ok) {
      console.error(`\n!! suite ${name} crashed (${outcome.why}${outcome === base ? ', baseline build' : ''})`);
      crashed.push(name);
      continue;
    }
    // Other processes on the box skew every figure: publish the load beside them.
    const load = { before: loadBefore, after: os.loadavg()[0] };
    const result = { ...outcome.result, date: new Date().toISOString(), durationSec: (Date.now() - started) / 1000, load, hardware: hw };
    if (base) {
      const comparison = compareResults(base.result, outcome.result);
      result.baseline = { rev: baseline.rev, sha: baseline.sha, comparison, result: base.result };
    }
    printSuite(result);
    if (base) printComparison(name, baseline, result.baseline.comparison);
    writeFileSync(path.join(resultsDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    for (const t of result.targets ?? []) summary.push({ suite: name, ...t });
  }

  if (interrupted) console.error('\ninterrupted: the suites left out keep their previous results');
  const reportPath = path.join(resultsDir, 'report.html');
  writeFileSync(reportPath, renderReport(loadAllResults()));

  console.log('\n== targets (information, not a gate)');
  for (const t of summary) {
    console.log(`  [${t.pass ? 'MET ' : 'MISS'}] ${t.suite}: ${t.name}: ${ratio(t.actual)} (>= ${ratio(t.target)})`);
  }
  const met = summary.filter((t) => t.pass).length;
  console.log(`  ${met}/${summary.length} met${crashed.length ? `; crashed suites: ${crashed.join(', ')}` : ''}`);
  console.log(`\nresults: ${path.relative(process.cwd(), resultsDir)}/<suite>.json, report: ${path.relative(process.cwd(), reportPath)}`);
  if (interrupted) process.exitCode = 130;
  else if (crashed.length) process.exitCode = 1;
}

await main();
