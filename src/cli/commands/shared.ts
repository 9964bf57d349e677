// `modelcache shared ls | get | delete | gc`: the pipeline outputs of a shared blob container,
// reached with --container-url (or MODELCACHE_CONTAINER_URL) or a connection string
// (--connection-string or AZURE_STORAGE_CONNECTION_STRING) and --container.
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatBytes } from '../../format.js';
import { createProgress } from '../../progress.js';
import { SharedStore, type SharedEntry } from '../../pipeline/shared.js';
import { AzureBlobTier } from '../../store/azure/tier.js';
import { action, type GlobalOptions } from '../action.js';
import { placeInto } from '../place.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, formatDate, plural, relativeTime, table, type Output } from '../output.js';

interface SharedOptions extends GlobalOptions {
  containerUrl?: string;
  connectionString?: string;
  container?: string;
  prefix?: string;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** "24h" -> 86400000, "90s", "30m", "7d", "0". */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!m) throw new InvalidArgumentError(`expected a duration such as 0, 90s, 30m, 24h or 7d, got ${JSON.stringify(value)}`);
  if (!m[2] && Number(m[1]) !== 0) throw new InvalidArgumentError(`give a unit (ms, s, m, h, d) with ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? 'ms').toLowerCase()]);
}

/** The shared tier named by the options and environment (a usage error when none is). */
function openTier(opts: SharedOptions): AzureBlobTier {
  const url = opts.containerUrl ?? process.env.MODELCACHE_CONTAINER_URL;
  const cs = opts.connectionString ?? process.env.AZURE_STORAGE_CONNECTION_STRING;
  // progress: false: commands draw one bar per transfer themselves.
  const tuning = { maxTries: 3, tryTimeoutMs: 60_000, progress: false, ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}) };
  if (opts.containerUrl !== undefined || (url && !opts.connectionString && !opts.container)) {
    return new AzureBlobTier({ containerUrl: url!, ...tuning });
  }
  if (cs && opts.container) return new AzureBlobTier({ connectionString: cs, containerName: opts.container, ...tuning });
  if (cs) throw new CliError('--container <name> is needed with a connection string', EXIT_USAGE);
  throw new CliError('no shared store: give --container-url <url> (or MODELCACHE_CONTAINER_URL), or --connection-string (or AZURE_STORAGE_CONNECTION_STRING) with --container', EXIT_USAGE);
}

async function withStore<T>(opts: SharedOptions, fn: (store: SharedStore, tier: AzureBlobTier) => Promise<T>): Promise<T> {
  const tier = openTier(opts);
  try {
    return await fn(new SharedStore(tier), tier);
  } finally {
    await tier.close();
  }
}

function checkId(id: string): string {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new CliError(`expected an output id of 32 hex characters, got ${JSON.stringify(id)}`, EXIT_USAGE);
  return id;
}

function entryJson(e: SharedEntry) {
  return { id: e.id, committed: e.committed, passType: e.passType ?? null, bytes: e.bytes, blobs: e.blobs, lastModified: e.lastModified, uploads: e.uploads.size };
}

// ---------------------------------------------------------------------------------------------- ls

async function ls(out: Output, opts: SharedOptions & { all?: boolean; long?: boolean }): Promise<number> {
  return withStore(opts, async (store, tier) => {
    const all = await store.entries();
    const shown = (opts.all ? all : all.filter((e) => e.committed)).sort((a, b) => b.lastModified - a.lastModified);
    const incomplete = all.filter((e) => !e.committed).length;
    if (out.json) {
      out.data({ location: tier.location, outputs: shown.map(entryJson), incomplete });
      return EXIT_OK;
    }
    if (shown.length > 0) {
      const now = Date.now();
      const rows = shown.map((e) => [
        opts.long ? e.id : e.id.slice(0, 12),
        e.passType ?? '-',
        formatBytes(e.bytes),
        String(e.blobs),
        e.committed ? 'ok' : out.style('yellow', 'incomplete'),
        relativeTime(e.lastModified, now),
        formatDate(e.lastModified),
      ]);
      const cols = [{ header: 'ID' }, { header: 'PASS' }, { header: 'SIZE', align: 'right' as const }, { header: 'BLOBS', align: 'right' as const }, { header: 'STATE' }, { header: 'MODIFIED' }, { header: 'DATE' }];
      for (const l of table(out, cols, rows)) out.line(l);
      out.line();
    }
    const bytes = shown.reduce((n, e) => n + e.bytes, 0);
    out.line(`${plural(shown.length, 'output', 'outputs')}, ${formatBytes(bytes)} in ${tier.location}`);
    if (incomplete > 0 && !opts.all) out.line(`${plural(incomplete, 'incomplete upload', 'incomplete uploads')} not shown (--all); \`modelcache shared gc\` removes them`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- get

async function get(out: Output, opts: SharedOptions & { out?: string }, id: string): Promise<number> {
  checkId(id);
  return withStore(opts, async (store) => {
    const hit = await store.lookup(id);
    if (!hit) throw new CliError(`no output ${id} in the shared store`);
    const dest = resolve(opts.out ?? id);
    // Staged, never replacing: a damaged or hostile entry can only ever cost what this command made.
    await placeInto(dest, async (staging) => {
      const bar = createProgress(`downloading ${id.slice(0, 12)}`, hit.manifest.size, { bytes: true });
      let ok: boolean;
      try {
        ok = await store.download(hit, staging, { onProgress: (done) => bar.update(done) });
      } finally {
        bar.done();
      }
      if (!ok) throw new CliError(`output ${id} could not be downloaded or failed verification`);
    });
    const path = hit.manifest.kind === 'file' ? join(dest, hit.manifest.main!) : dest;
    if (out.json) out.data({ id, path, kind: hit.manifest.kind, files: hit.manifest.files, bytes: hit.manifest.size, run: hit.manifest.run });
    else out.line(`${path}  (${plural(hit.manifest.files.length, 'file', 'files')}, ${formatBytes(hit.manifest.size)}, verified; made by ${hit.manifest.run.pass.name})`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- delete

async function del(out: Output, opts: SharedOptions, id: string): Promise<number> {
  checkId(id);
  return withStore(opts, async (store) => {
    const { deleted, blobs } = await store.delete(id);
    if (out.json) out.data({ id, deleted, blobs });
    else out.line(deleted ? `deleted output ${id} (${plural(blobs, 'blob', 'blobs')})` : `no output ${id} in the shared store`);
    return deleted ? EXIT_OK : EXIT_FAILURE;
  });
}

// ---------------------------------------------------------------------------------------------- gc

async function gc(out: Output, opts: SharedOptions & { grace: number; dryRun?: boolean }): Promise<number> {
  return withStore(opts, async (store, tier) => {
    const report = await store.gc({ graceMs: opts.grace, dryRun: Boolean(opts.dryRun) });
    if (out.json) {
      out.data({ location: tier.location, graceMs: opts.grace, dryRun: Boolean(opts.dryRun), ...report });
      return EXIT_OK;
    }
    const verb = opts.dryRun ? 'would remove' : 'removed';
    const what = report.incomplete.length + report.orphanUploads.length;
    if (what === 0) out.line(`nothing to collect in ${tier.location}`);
    else {
      for (const id of report.incomplete) out.line(`  incomplete upload  ${id}`);
      for (const f of report.orphanUploads) out.line(`  unreferenced files ${f}`);
      out.line(`${verb} ${plural(report.blobs, 'blob', 'blobs')} (${formatBytes(report.bytes)}) from ${plural(what, 'prefix', 'prefixes')}`);
    }
    if (report.young > 0) out.line(`${plural(report.young, 'prefix', 'prefixes')} younger than the grace period left alone (uploads may be running)`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- registration

export function addSharedCommands(program: Command): void {
  const shared = program
    .command('shared')
    .description('pipeline outputs in a shared Azure Blob container')
    .option('--container-url <url>', 'https://<account>.blob.core.windows.net/<container>[/<prefix>] (default: $MODELCACHE_CONTAINER_URL); signs in with DefaultAzureCredential')
    .option('--connection-string <cs>', 'storage connection string (default: $AZURE_STORAGE_CONNECTION_STRING), with --container')
    .option('--container <name>', 'container name, with a connection string')
    .option('--prefix <folder>', 'folder inside the container');
  shared
    .command('ls')
    .description('list shared outputs (newest first)')
    .option('--all', 'also incomplete uploads (files without a manifest)')
    .option('--long', 'full ids')
    .action(action(ls));
  shared
    .command('get')
    .description('download an output, verified against its manifest')
    .argument('<id>', 'output id (32 hex)')
    .option('--out <dir>', 'destination folder, created if missing; existing files in it are never replaced (default: ./<id>)')
    .action(action(get));
  shared
    .command('delete')
    .description('delete an output (manifest first, so readers never see it half deleted)')
    .argument('<id>', 'output id (32 hex)')
    .action(action(del));
  shared
    .command('gc')
    .description('remove incomplete uploads and unreferenced files older than the grace period')
    .addOption(new Option('--grace <duration>', 'leave prefixes modified more recently than this (0 = collect everything incomplete)').argParser(parseDuration).default(24 * 3600_000, '24h'))
    .option('--dry-run', 'report only')
    .action(action(gc));
}
