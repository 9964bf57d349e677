// The commands that remove entries from a cache directory: `prune --max-bytes` (least recently
// used first) and `clear [--namespace ns]` (every entry, or one namespace: a tensorCache module,
// `session`, pipeline outputs). Only the local directory: a shared tier is never cleared here.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { formatBytes } from '../../format.js';
import { action, type GlobalOptions } from '../action.js';
import { parseNamespace, parseSize, SIZE_RULE } from '../args.js';
import { withCache } from '../dir.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, plural, type Output } from '../output.js';

async function prune(out: Output, opts: GlobalOptions & { maxBytes: number }): Promise<number> {
  return withCache(opts, true, 'prune', async (tier, dir) => {
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

/** Asks `question` on the terminal; true for y or yes. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

async function clear(out: Output, opts: GlobalOptions & { yes?: boolean; namespace?: string }): Promise<number> {
  const ns = opts.namespace;
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY) && !out.json;
  if (!opts.yes && !interactive) {
    throw new CliError(`clear deletes ${ns === undefined ? 'every entry' : `every entry of namespace ${ns}`}: pass --yes to confirm when not running interactively`, EXIT_USAGE);
  }
  return withCache(opts, true, 'clear', async (tier, dir) => {
    const before = ns === undefined ? tier.stats() : { entries: tier.countEntries(ns), bytes: tier.namespaceStats(ns)[0].bytes };
    const what = `${plural(before.entries, 'entry', 'entries')} (${formatBytes(before.bytes)})${ns === undefined ? '' : ` of namespace ${ns}`}`;
    if (!opts.yes && !(await confirm(`delete ${ns === undefined ? 'all ' : ''}${what} in ${dir}? [y/N] `))) {
      out.line('nothing deleted');
      return EXIT_FAILURE;
    }
    if (ns === undefined) tier.clear();
    else tier.deleteNamespace(ns);
    if (out.json) out.data({ dir, ...(ns !== undefined ? { namespace: ns } : {}), removed: before.entries, freedBytes: before.bytes });
    else out.line(`removed ${what} from ${dir}`);
    return EXIT_OK;
  });
}

export function addClearCommands(program: Command): void {
  program
    .command('prune')
    .description('evict least recently used entries until the cache holds at most --max-bytes')
    .requiredOption('--max-bytes <size>', SIZE_RULE, parseSize)
    .action(action(prune));

  program
    .command('clear')
    .description('delete every entry of the cache directory, or of one namespace (asks first on a terminal)')
    .option('--namespace <ns>', "only this namespace (e.g. session, pipeline.output, tensor.<module hash>; see `modelcache stats`)", parseNamespace)
    .option('-y, --yes', 'do not ask; required when not running interactively')
    .action(action(clear));
}
