// The commands that act on a cache directory: stats, ls, verify, prune, clear. Each opens the
// DiskTier only when the directory already holds a cache, so a typo in --dir never creates one.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { formatBytes } from '../../format.js';
import { createProgress, type Progress } from '../../progress.js';
import { DiskTier, type DiskEntry, type VerifyProblem } from '../../store/disk/tier.js';
import { defaultCacheDir } from '../../paths.js';
import { parsePositiveInt, parseSize, SIZE_RULE } from '../args.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, formatDate, plural, relativeTime, table, type Output } from '../output.js';
import { action, type GlobalOptions } from '../action.js';

const SHORT_KEY = 12;

/** The cache directory a command works on (absolute, so messages are unambiguous). */
export function cacheDir(opts: GlobalOptions): string {
  return resolve(opts.dir ?? defaultCacheDir());
}

/** Opens the cache at `dir`, or fails with "no cache at <dir>" without creating anything. */
export function openExisting(dir: string, write: boolean): DiskTier {
  if (!existsSync(join(dir, 'index'))) throw new CliError(`no cache at ${dir}`, EXIT_FAILURE);
  // Read-only for inspection: no tmp cleanup, nothing written by merely looking.
  return new DiskTier({ dir, readOnly: !write });
}

async function withCache<T>(opts: GlobalOptions, write: boolean, fn: (tier: DiskTier, dir: string) => Promise<T>): Promise<T> {
  const dir = cacheDir(opts);
  const tier = openExisting(dir, write);
  try {
    return await fn(tier, dir);
  } finally {
    await tier.close();
  }
}

/** "12 entries, 3.4 MiB (limit 9.3 GiB)". */
function summary(entries: number, bytes: number, maxBytes: number): string {
  return `${plural(entries, 'entry', 'entries')}, ${formatBytes(bytes)} (limit ${formatBytes(maxBytes)})`;
}

function kindLabel(kind: string): string {
  return kind === '' ? '-' : kind;
}

// ---------------------------------------------------------------------------------------------- stats

interface KindCount {
  entries: number;
  bytes: number;
}

async function stats(out: Output, opts: GlobalOptions): Promise<number> {
  return withCache(opts, false, async (tier, dir) => {
    const s = tier.stats();
    const kinds: Record<string, KindCount> = {};
    let inline = 0;
    for (const e of tier.list()) {
      const k = (kinds[e.kind] ??= { entries: 0, bytes: 0 });
      k.entries++;
      k.bytes += e.size;
      if (e.inline) inline++;
    }
    if (out.json) {
      out.data({ dir, entries: s.entries, bytes: s.bytes, maxBytes: s.maxBytes, inline, files: s.entries - inline, kinds });
      return EXIT_OK;
    }
    out.line(`${out.style('bold', 'cache')}  ${dir}`);
    const names = Object.keys(kinds).sort((a, b) => kinds[b].bytes - kinds[a].bytes || a.localeCompare(b));
    if (names.length > 0) {
      out.line();
      const rows = names.map((n) => [kindLabel(n), String(kinds[n].entries), formatBytes(kinds[n].bytes)]);
      for (const l of table(out, [{ header: 'KIND' }, { header: 'ENTRIES', align: 'right' }, { header: 'SIZE', align: 'right' }], rows)) out.line(l);
      out.line();
    }
    const pct = s.maxBytes > 0 ? ` = ${((100 * s.bytes) / s.maxBytes).toFixed(1)}% of the limit` : '';
    out.line(`${summary(s.entries, s.bytes, s.maxBytes)}${pct}; ${inline} inline, ${s.entries - inline} in files`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- ls

type SortBy = 'size' | 'used' | 'created';

interface LsOptions extends GlobalOptions {
  sort: SortBy;
  kind?: string;
  limit?: number;
  long?: boolean;
}

/** Most recently used / largest / newest first. */
function sortEntries(entries: DiskEntry[], by: SortBy): DiskEntry[] {
  // list() gives least recently used first, in exact access order: reversing it is the 'used' order
  // and the tie-break of the others.
  const recent = entries.reverse();
  if (by === 'size') return recent.sort((a, b) => b.size - a.size);
  if (by === 'created') return recent.sort((a, b) => b.created - a.created);
  return recent;
}

async function ls(out: Output, opts: LsOptions): Promise<number> {
  return withCache(opts, false, async (tier, dir) => {
    const s = tier.stats();
    let entries = [...tier.list()];
    if (opts.kind !== undefined) entries = entries.filter((e) => e.kind === opts.kind);
    const matched = entries.length;
    entries = sortEntries(entries, opts.sort);
    if (opts.limit !== undefined) entries = entries.slice(0, opts.limit);
    const shownBytes = entries.reduce((n, e) => n + e.size, 0);
    if (out.json) {
      out.data({ dir, sort: opts.sort, matched, entries, total: { entries: s.entries, bytes: s.bytes, maxBytes: s.maxBytes } });
      return EXIT_OK;
    }
    if (entries.length > 0) {
      const now = Date.now();
      const columns = [
        { header: 'KEY' },
        { header: 'KIND' },
        { header: 'SIZE', align: 'right' as const },
        { header: 'STORED' },
        { header: 'USED' },
        { header: 'CREATED' },
        ...(opts.long ? [{ header: 'META' }] : []),
      ];
      const rows = entries.map((e) => [
        opts.long ? e.key : e.key.slice(0, SHORT_KEY),
        kindLabel(e.kind),
        formatBytes(e.size),
        e.inline ? 'inline' : 'file',
        relativeTime(e.accessed, now),
        formatDate(e.created),
        ...(opts.long ? [e.meta === undefined ? '' : JSON.stringify(e.meta)] : []),
      ]);
      for (const l of table(out, columns, rows)) out.line(l);
      out.line();
    }
    const total = summary(s.entries, s.bytes, s.maxBytes);
    if (entries.length === s.entries) out.line(total);
    else out.line(`${entries.length} of ${plural(s.entries, 'entry', 'entries')} shown (${formatBytes(shownBytes)}); cache: ${total}`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- verify

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
  return withCache(opts, Boolean(opts.repair), async (tier, dir) => {
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

// ---------------------------------------------------------------------------------------------- prune

async function prune(out: Output, opts: GlobalOptions & { maxBytes: number }): Promise<number> {
  return withCache(opts, true, async (tier, dir) => {
    const { evicted, bytes: freed } = await tier.prune(opts.maxBytes);
    const after = tier.stats();
    if (out.json) {
      out.data({ dir, maxBytes: opts.maxBytes, evicted, freedBytes: freed, entries: after.entries, bytes: after.bytes });
      return EXIT_OK;
    }
    const target = `${formatBytes(opts.maxBytes)} (${opts.maxBytes} bytes)`;
    if (evicted === 0) out.line(`nothing to evict: ${plural(after.entries, 'entry', 'entries')}, ${formatBytes(after.bytes)} is within ${target}`);
    else out.line(`evicted ${plural(evicted, 'entry', 'entries')}, freed ${formatBytes(freed)}; ${plural(after.entries, 'entry', 'entries')}, ${formatBytes(after.bytes)} remain (at most ${target})`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- clear

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

async function clear(out: Output, opts: GlobalOptions & { yes?: boolean }): Promise<number> {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY) && !out.json;
  if (!opts.yes && !interactive) {
    throw new CliError('clear deletes every entry: pass --yes to confirm when not running interactively', EXIT_USAGE);
  }
  return withCache(opts, true, async (tier, dir) => {
    const before = tier.stats();
    if (!opts.yes && !(await confirm(`delete all ${plural(before.entries, 'entry', 'entries')} (${formatBytes(before.bytes)}) in ${dir}? [y/N] `))) {
      out.line('nothing deleted');
      return EXIT_FAILURE;
    }
    await tier.clear();
    if (out.json) out.data({ dir, removed: before.entries, freedBytes: before.bytes });
    else out.line(`removed ${plural(before.entries, 'entry', 'entries')} (${formatBytes(before.bytes)}) from ${dir}`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- registration

export function addCacheCommands(program: Command): void {
  program
    .command('stats')
    .description('entries, bytes and limit of the cache, with counts by kind')
    .action(action(stats));

  program
    .command('ls')
    .description('list entries (most recently used first)')
    .addOption(new Option('--sort <by>', 'order: size (largest first), used (most recent first), created (newest first)').choices(['size', 'used', 'created']).default('used'))
    .option('--kind <kind>', 'only entries of this kind (e.g. tensor, session)')
    .option('--limit <n>', 'show at most n entries', parsePositiveInt)
    .option('--long', 'full keys and metadata')
    .action(action(ls));

  program
    .command('verify')
    .description('check every entry against its checksum and the index for consistency (exit 1 if problems remain)')
    .option('--repair', 'drop damaged entries, rebuild the index, remove orphan and stale files')
    .action(action(verify));

  program
    .command('prune')
    .description('evict least recently used entries until the cache holds at most --max-bytes')
    .requiredOption('--max-bytes <size>', SIZE_RULE, parseSize)
    .action(action(prune));

  program
    .command('clear')
    .description('delete every entry (asks first on a terminal)')
    .option('-y, --yes', 'do not ask; required when not running interactively')
    .action(action(clear));
}
