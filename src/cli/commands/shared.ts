// `modelcache shared ls | get | delete | gc`: the entries of a shared blob container (pipeline
// outputs by default), reached with --container-url (or MODELCACHE_CONTAINER_URL) or a connection
// string (--connection-string or AZURE_STORAGE_CONNECTION_STRING) and --container. `delete --all`
// is the one command that empties a container, behind a confirmation.
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatBytes } from '../../format.js';
import { createProgress } from '../../progress.js';
import { parseOutput, type OutputManifest } from '../../pipeline/manifest.js';
import { OUTPUTS } from '../../pipeline/outputs.js';
import { checkNamespace } from '../../store/namespace.js';
import { AzureBlobTier } from '../../store/azure/tier.js';
import type { EntryInfo } from '../../store/tier.js';
import { action, type GlobalOptions } from '../action.js';
import { placeInto } from '../place.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, formatDate, plural, relativeTime, table, type Output } from '../output.js';
import { confirm } from './clear.js';

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

async function withTier<T>(opts: SharedOptions, fn: (tier: AzureBlobTier) => Promise<T>): Promise<T> {
  const tier = openTier(opts);
  try {
    return await fn(tier);
  } finally {
    await tier.close();
  }
}

function checkId(id: string): string {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new CliError(`expected an output id of 32 hex characters, got ${JSON.stringify(id)}`, EXIT_USAGE);
  return id;
}

function parseNamespace(value: string): string {
  try {
    return checkNamespace(value, '--namespace');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

// ---------------------------------------------------------------------------------------------- ls

async function ls(out: Output, opts: SharedOptions & { namespace: string; long?: boolean }): Promise<number> {
  return withTier(opts, async (tier) => {
    const shown: EntryInfo[] = [];
    for await (const e of tier.listEntries(opts.namespace)) shown.push(e);
    shown.sort((a, b) => b.created - a.created);
    const outputs = opts.namespace === OUTPUTS;
    if (out.json) {
      const entries = shown.map((e) => ({ id: e.key, type: e.type, kind: e.kind, bytes: e.size, created: e.created }));
      out.data({ location: tier.location, namespace: opts.namespace, entries });
      return EXIT_OK;
    }
    if (shown.length > 0) {
      const now = Date.now();
      const rows = shown.map((e) => [opts.long ? e.key : e.key.slice(0, 12), e.kind || '-', formatBytes(e.size), relativeTime(e.created, now), formatDate(e.created)]);
      const cols = [{ header: outputs ? 'ID' : 'KEY' }, { header: outputs ? 'PASS' : 'KIND' }, { header: 'SIZE', align: 'right' as const }, { header: 'CREATED' }, { header: 'DATE' }];
      for (const l of table(out, cols, rows)) out.line(l);
      out.line();
    }
    const bytes = shown.reduce((n, e) => n + e.size, 0);
    out.line(`${plural(shown.length, outputs ? 'output' : 'entry', outputs ? 'outputs' : 'entries')}, ${formatBytes(bytes)} in ${tier.location}${outputs ? '' : ` (namespace ${opts.namespace})`}`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- get

async function get(out: Output, opts: SharedOptions & { out?: string }, id: string): Promise<number> {
  checkId(id);
  return withTier(opts, async (tier) => {
    const info = await tier.lookupFiles(id, OUTPUTS);
    if (!info) throw new CliError(`no output ${id} in the shared store`);
    let m: OutputManifest;
    try {
      m = parseOutput(info);
    } catch (err) {
      throw new CliError(`output ${id} cannot be used: ${(err as Error).message}`);
    }
    const dest = resolve(opts.out ?? id);
    // Staged, never replacing: a damaged or hostile entry can only ever cost what this command made.
    await placeInto(dest, async (staging) => {
      const bar = createProgress(`downloading ${id.slice(0, 12)}`, m.size, { bytes: true });
      let ok: boolean;
      try {
        ok = await tier.downloadFiles(info, staging, { onProgress: (done) => bar.update(done) });
      } finally {
        bar.done();
      }
      if (!ok) throw new CliError(`output ${id} could not be downloaded or failed verification`);
    });
    const path = m.kind === 'file' ? join(dest, m.main!) : dest;
    if (out.json) out.data({ id, path, kind: m.kind, files: m.files, bytes: m.size, run: m.run });
    else out.line(`${path}  (${plural(m.files.length, 'file', 'files')}, ${formatBytes(m.size)}, verified; made by ${m.run.pass.name} on ${m.run.host})`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- delete

async function deleteAll(out: Output, opts: SharedOptions & { yes?: boolean }, tier: AzureBlobTier): Promise<number> {
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY) && !out.json;
  if (!opts.yes && !interactive) throw new CliError('delete --all deletes every entry of the container: pass --yes to confirm when not running interactively', EXIT_USAGE);
  if (!opts.yes && !(await confirm(`delete every entry (every namespace, every teammate's) in ${tier.location}? [y/N] `))) {
    out.line('nothing deleted');
    return EXIT_FAILURE;
  }
  const deleted = await tier.deleteAllEntries();
  if (out.json) out.data({ location: tier.location, deleted });
  else out.line(`deleted ${plural(deleted, 'entry', 'entries')} from ${tier.location}`);
  return EXIT_OK;
}

async function del(out: Output, opts: SharedOptions & { all?: boolean; yes?: boolean }, id: string | undefined): Promise<number> {
  if (opts.all && id !== undefined) throw new CliError('give an output id or --all, not both', EXIT_USAGE);
  if (!opts.all && id === undefined) throw new CliError('give the id of the output to delete (or --all for every entry of the container)', EXIT_USAGE);
  if (id !== undefined) checkId(id);
  return withTier(opts, async (tier) => {
    if (!tier.update) throw new CliError(`the shared store (${tier.location}) is read-only`);
    if (opts.all) return deleteAll(out, opts, tier);
    const deleted = await tier.delete(id!, OUTPUTS);
    if (out.json) out.data({ id, deleted });
    else out.line(deleted ? `deleted output ${id}` : `no output ${id} in the shared store`);
    return deleted ? EXIT_OK : EXIT_FAILURE;
  });
}

// ---------------------------------------------------------------------------------------------- gc

async function gc(out: Output, opts: SharedOptions & { grace: number; dryRun?: boolean }): Promise<number> {
  return withTier(opts, async (tier) => {
    const dryRun = Boolean(opts.dryRun);
    const blobs = await tier.collectUploads({ graceMs: opts.grace, dryRun });
    if (out.json) {
      out.data({ location: tier.location, graceMs: opts.grace, dryRun, blobs });
      return EXIT_OK;
    }
    if (blobs === 0) out.line(`nothing to collect in ${tier.location} (uploads modified in the grace period are left alone)`);
    else out.line(`${dryRun ? 'would remove' : 'removed'} ${plural(blobs, 'blob', 'blobs')} of incomplete or unreferenced uploads from ${tier.location}`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- registration

export function addSharedCommands(program: Command): void {
  const shared = program
    .command('shared')
    .description('entries of a shared Azure Blob container (pipeline outputs by default)')
    .option('--container-url <url>', 'https://<account>.blob.core.windows.net/<container>[/<prefix>] (default: $MODELCACHE_CONTAINER_URL); signs in with DefaultAzureCredential')
    .option('--connection-string <cs>', 'storage connection string (default: $AZURE_STORAGE_CONNECTION_STRING), with --container')
    .option('--container <name>', 'container name, with a connection string')
    .option('--prefix <folder>', 'folder inside the container');
  shared
    .command('ls')
    .description('list shared pipeline outputs (newest first), or the entries of another namespace')
    .addOption(new Option('--namespace <ns>', 'namespace to list (e.g. session, pipeline.eval)').argParser(parseNamespace).default(OUTPUTS))
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
    .description('delete an output (manifest first, so readers never see it half deleted), or with --all every entry of the container')
    .argument('[id]', 'output id (32 hex)')
    .option('--all', 'every entry of every namespace in the container (asks for confirmation)')
    .option('--yes', 'confirm --all without asking (needed when not running interactively)')
    .action(action(del));
  shared
    .command('gc')
    .description('remove incomplete uploads and unreferenced files older than the grace period')
    .addOption(new Option('--grace <duration>', 'leave uploads modified more recently than this (0 = collect everything incomplete)').argParser(parseDuration).default(24 * 3600_000, '24h'))
    .option('--dry-run', 'count only')
    .action(action(gc));
}
