// The commands that look at a cache directory used by any capability (tensorCache modules,
// sessions, pipelines): `stats` (by namespace, with hit rates across runs from the persistent
// counters) and `ls`; and the registration of every command on a cache directory.
import { Option, type Command } from 'commander';
import { formatBytes } from '../../format.js';
import type { DiskEntry } from '../../store/disk/tier.js';
import type { NamespaceStats } from '../../store/tier.js';
import { action, type GlobalOptions } from '../action.js';
import { parseNamespace, parsePositiveInt } from '../args.js';
import { withCache } from '../dir.js';
import { EXIT_OK, formatDate, plural, relativeTime, table, type Output } from '../output.js';
import { addClearCommands } from './clear.js';
import { addVerifyCommand } from './verify.js';

export { cacheDir } from '../dir.js';

const SHORT_KEY = 12;

/** "12 entries, 3.4 MiB (limit 9.3 GiB)". */
function summary(entries: number, bytes: number, maxBytes: number): string {
  return `${plural(entries, 'entry', 'entries')}, ${formatBytes(bytes)} (limit ${formatBytes(maxBytes)})`;
}

function kindLabel(kind: string): string {
  return kind === '' ? '-' : kind;
}

/** Hits over reads, or undefined before the first read. */
function hitRate(hits: number, misses: number): number | undefined {
  return hits + misses === 0 ? undefined : hits / (hits + misses);
}

function percent(rate: number | undefined): string {
  return rate === undefined ? '-' : `${(100 * rate).toFixed(Number.isInteger(100 * rate) ? 0 : 1)}%`;
}

// ---------------------------------------------------------------------------------------------- stats

interface KindCount {
  entries: number;
  bytes: number;
}

async function stats(out: Output, opts: GlobalOptions): Promise<number> {
  return withCache(opts, false, 'stats', async (tier, dir) => {
    const s = tier.stats();
    const kinds: Record<string, KindCount> = {};
    let inline = 0;
    for (const e of tier.list()) {
      const k = (kinds[e.kind] ??= { entries: 0, bytes: 0 });
      k.entries++;
      k.bytes += e.size;
      if (e.inline) inline++;
    }
    // Every namespace that holds entries or was ever read: hit rates across runs and processes.
    const spaces = tier.namespaceStats().filter((n) => n.entries > 0 || n.hits + n.misses + n.puts > 0)
      .sort((a, b) => b.bytes - a.bytes || a.namespace.localeCompare(b.namespace));
    const hits = spaces.reduce((n, x) => n + x.hits, 0);
    const misses = spaces.reduce((n, x) => n + x.misses, 0);
    if (out.json) {
      const namespaces = spaces.map((n: NamespaceStats) => ({ ...n, hitRate: hitRate(n.hits, n.misses) ?? null }));
      out.data({ dir, entries: s.entries, bytes: s.bytes, maxBytes: s.maxBytes, inline, files: s.entries - inline, hits, misses, hitRate: hitRate(hits, misses) ?? null, namespaces, kinds });
      return EXIT_OK;
    }
    out.line(`${out.style('bold', 'cache')}  ${dir}`);
    if (spaces.length > 0) {
      out.line();
      const columns = [
        { header: 'NAMESPACE' }, { header: 'ENTRIES', align: 'right' as const }, { header: 'SIZE', align: 'right' as const },
        { header: 'HITS', align: 'right' as const }, { header: 'MISSES', align: 'right' as const }, { header: 'HIT RATE', align: 'right' as const },
        { header: 'EVICTED', align: 'right' as const },
      ];
      const rows = spaces.map((n) => [n.namespace, String(n.entries), formatBytes(n.bytes), String(n.hits), String(n.misses), percent(hitRate(n.hits, n.misses)), String(n.evictions)]);
      for (const l of table(out, columns, rows)) out.line(l);
    }
    const names = Object.keys(kinds).sort((a, b) => kinds[b].bytes - kinds[a].bytes || a.localeCompare(b));
    if (names.length > 0) {
      out.line();
      const rows = names.map((n) => [kindLabel(n), String(kinds[n].entries), formatBytes(kinds[n].bytes)]);
      for (const l of table(out, [{ header: 'KIND' }, { header: 'ENTRIES', align: 'right' }, { header: 'SIZE', align: 'right' }], rows)) out.line(l);
    }
    out.line();
    const pct = s.maxBytes > 0 ? ` = ${((100 * s.bytes) / s.maxBytes).toFixed(1)}% of the limit` : '';
    out.line(`${summary(s.entries, s.bytes, s.maxBytes)}${pct}; ${inline} inline, ${s.entries - inline} in files`);
    out.line(`${plural(hits, 'hit', 'hits')}, ${plural(misses, 'miss', 'misses')} across runs (hit rate ${percent(hitRate(hits, misses))})`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- ls

type SortBy = 'size' | 'used' | 'created';

interface LsOptions extends GlobalOptions {
  sort: SortBy;
  kind?: string;
  namespace?: string;
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
  return withCache(opts, false, 'ls', async (tier, dir) => {
    const s = tier.stats();
    let entries = [...tier.list(opts.namespace)];
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
        { header: 'NAMESPACE' },
        { header: 'KEY' },
        { header: 'KIND' },
        { header: 'SIZE', align: 'right' as const },
        { header: 'STORED' },
        { header: 'USED' },
        { header: 'CREATED' },
        ...(opts.long ? [{ header: 'META' }] : []),
      ];
      const rows = entries.map((e) => [
        e.namespace,
        opts.long ? e.key : e.key.slice(0, SHORT_KEY),
        kindLabel(e.kind),
        formatBytes(e.size),
        e.type === 'files' ? 'files' : e.inline ? 'inline' : 'file',
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

// ---------------------------------------------------------------------------------------------- registration

export function addCacheCommands(program: Command): void {
  program
    .command('stats')
    .description('entries, bytes and hit rates by namespace (across runs and processes), and counts by kind')
    .action(action(stats));

  program
    .command('ls')
    .description('list entries (most recently used first)')
    .addOption(new Option('--sort <by>', 'order: size (largest first), used (most recent first), created (newest first)').choices(['size', 'used', 'created']).default('used'))
    .option('--namespace <ns>', 'only entries of this namespace (e.g. session, pipeline.output)', parseNamespace)
    .option('--kind <kind>', 'only entries of this kind (e.g. tensor, session)')
    .option('--limit <n>', 'show at most n entries', parsePositiveInt)
    .option('--long', 'full keys and metadata')
    .action(action(ls));

  addVerifyCommand(program);
  addClearCommands(program);
}
