// `modelcache verify [--repair]`: every entry against its checksum and the index for consistency.
// Exits 0 on a healthy cache (a live process's open marker is no problem), 1 when problems remain.
import { formatBytes } from '../../format.js';
import { createProgress, type Progress } from '../../progress.js';
import type { VerifyProblem } from '../../store/disk/tier.js';
import { action, type GlobalOptions } from '../action.js';
import { withCache } from '../dir.js';
import { EXIT_FAILURE, EXIT_OK, plural, type Output } from '../output.js';
import type { Command } from 'commander';

const PROBLEM_LABELS: Record<VerifyProblem['problem'], string> = {
  checksum: 'checksum mismatch (damaged value)',
  'missing-file': 'file missing under blobs/ or files/',
  'missing-head': 'file entry without its head under heads/',
  'missing-value': 'inline value missing',
  'bad-record': 'unreadable index record',
  'lru-mismatch': 'LRU index out of step',
  totals: 'totals out of step',
  refs: 'file reference counts out of step',
  'orphan-file': 'file without an entry',
  'stale-tmp': 'stale file in tmp/',
};

/** A progress bar that appears only once the work has taken a while: small caches never flash one. */
function delayedProgress(label: string, total: number, delayMs = 300): Progress {
  const start = Date.now();
  let bar: Progress | undefined;
  return {
    update(done) {
      if (!bar && Date.now() - start >= delayMs) bar = createProgress(label, total);
      bar?.update(done);
    },
    done() {
      bar?.done();
    },
  };
}

function printProblems(out: Output, problems: readonly VerifyProblem[]): void {
  const groups = new Map<VerifyProblem['problem'], VerifyProblem[]>();
  for (const p of problems) {
    const g = groups.get(p.problem);
    if (g) g.push(p);
    else groups.set(p.problem, [p]);
  }
  for (const [type, list] of groups) {
    out.line(`  ${out.style('yellow', type)} (${list.length}): ${PROBLEM_LABELS[type] ?? type}`);
    for (const p of list) {
      const what = [p.key, p.path].filter(Boolean).join('  ');
      out.line(`    ${[what, p.detail].filter(Boolean).join(': ')}`);
    }
  }
}

async function verify(out: Output, opts: GlobalOptions & { repair?: boolean }): Promise<number> {
  return withCache(opts, Boolean(opts.repair), 'verify --repair', async (tier, dir) => {
    const count = tier.stats().entries;
    const bar = delayedProgress('verifying', count);
    let report;
    try {
      report = await tier.verify({ repair: Boolean(opts.repair), onProgress: (done) => bar.update(done) });
    } finally {
      bar.done();
    }
    let remaining: VerifyProblem[] = opts.repair ? [] : report.problems;
    if (opts.repair && report.repaired < report.problems.length) {
      // Some were left (e.g. an orphan younger than a minute may be an in-flight write): check again
      // rather than guess which.
      const again = delayedProgress('re-checking', tier.stats().entries);
      try {
        remaining = (await tier.verify({ onProgress: (done) => again.update(done) })).problems;
      } finally {
        again.done();
      }
    }
    const exit = remaining.length === 0 ? EXIT_OK : EXIT_FAILURE;
    if (out.json) {
      out.data({ dir, entries: report.entries, bytes: report.bytes, problems: report.problems, repaired: report.repaired, remaining, ok: exit === EXIT_OK });
      return exit;
    }
    out.line(`checked ${plural(report.entries, 'entry', 'entries')} (${formatBytes(report.bytes)}) in ${dir}`);
    if (report.problems.length === 0) {
      out.line(out.style('green', 'no problems found'));
      return exit;
    }
    out.line(`${out.style('red', plural(report.problems.length, 'problem', 'problems'))} found:`);
    printProblems(out, report.problems);
    if (!opts.repair) {
      out.line(`run \`modelcache verify --repair${opts.dir ? ` --dir ${dir}` : ''}\` to fix them`);
    } else if (remaining.length === 0) {
      out.line(out.style('green', `repaired; the cache is consistent now`));
    } else {
      out.line(`${out.style('red', plural(remaining.length, 'problem remains', 'problems remain'))} after repair:`);
      printProblems(out, remaining);
    }
    return exit;
  });
}

export function addVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('check every entry against its checksum and the index for consistency (exit 1 if problems remain)')
    .option('--repair', 'drop damaged entries, rebuild the index, remove orphan and stale files')
    .action(action(verify));
}
