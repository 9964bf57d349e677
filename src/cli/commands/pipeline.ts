// `modelcache pipeline runs | evaluations | clear | prune` on a cache directory, whatever else
// uses it (tensor results, sessions): each works on the pipeline's namespaces of the directory's
// Cache only. `pipeline run` runs a workflow file (./pipeline-run.ts).
import { Option, type Command } from 'commander';
import { Cache } from '../../cache.js';
import { formatBytes, formatDuration } from '../../format.js';
import { OUTPUTS } from '../../pipeline/outputs.js';
import { RecordStore, recordTime, type EvaluationRecord, type RunRecord } from '../../pipeline/records.js';
import { NAMESPACES } from '../../store/namespace.js';
import { action, type GlobalOptions } from '../action.js';
import { parsePositiveInt, parseSize, SIZE_RULE } from '../args.js';
import { CliError, EXIT_OK, formatDate, plural, table, type Output } from '../output.js';
import { cacheDir, openExisting } from '../dir.js';
import { addPipelineRunCommand } from './pipeline-run.js';

/** Runs `fn` on the Cache of the directory (local tiers only), read-only unless `write`. */
async function withLocalCache<T>(opts: GlobalOptions, write: boolean, command: string, fn: (cache: Cache, dir: string) => Promise<T>): Promise<T> {
  const dir = cacheDir(opts);
  const cache = new Cache({ tiers: [openExisting(dir, write, command)] });
  try {
    return await fn(cache, dir);
  } finally {
    await cache.close();
  }
}

const short = (id: string, long: boolean | undefined) => (long ? id : id.slice(0, 12));

// ---------------------------------------------------------------------------------------------- runs

interface RunsOptions extends GlobalOptions {
  limit?: number;
  status?: RunRecord['status'];
  pass?: string;
  long?: boolean;
}

const STATUS_STYLE = { ok: 'green', failed: 'red', shared: 'green' } as const;

function runRows(out: Output, records: readonly RunRecord[], long: boolean | undefined): void {
  const rows = records.map((r) => [
    formatDate(recordTime(r)),
    r.pass.name === r.pass.type ? r.pass.name : `${r.pass.name} (${r.pass.type})`,
    r.pass.version,
    out.style(STATUS_STYLE[r.status] ?? 'red', r.status),
    formatDuration(r.durationMs),
    short(r.inputId, long),
    r.status === 'failed' ? '-' : short(r.outputId, long),
    r.status === 'shared' ? `${r.host}, ${formatDate(r.start)}` : r.host,
    ...(long ? [r.status === 'failed' ? (r.error ?? '') : JSON.stringify(r.config)] : []),
  ]);
  const columns = [
    { header: 'WHEN' }, { header: 'PASS' }, { header: 'VERSION' }, { header: 'STATUS' }, { header: 'TIME', align: 'right' as const },
    { header: 'INPUT' }, { header: 'OUTPUT' }, { header: 'COMPUTED ON' }, ...(long ? [{ header: 'CONFIG / ERROR' }] : []),
  ];
  for (const l of table(out, columns, rows)) out.line(l);
  out.line();
}

async function runs(out: Output, opts: RunsOptions): Promise<number> {
  return withLocalCache(opts, false, 'pipeline runs', async (cache, dir) => {
    let records = await new RecordStore(cache).runs();
    if (records.length === 0) throw new CliError(`no pipeline runs in ${dir}`);
    const total = records.length;
    if (opts.status) records = records.filter((r) => r.status === opts.status);
    if (opts.pass) records = records.filter((r) => r.pass.name === opts.pass || r.pass.type === opts.pass);
    // The most recent ones matter: keep the last n, still oldest first.
    if (opts.limit !== undefined) records = records.slice(-opts.limit);
    if (out.json) {
      out.data({ dir, total, runs: records });
      return EXIT_OK;
    }
    if (records.length > 0) runRows(out, records, opts.long);
    const failed = records.filter((r) => r.status === 'failed').length;
    const shared = records.filter((r) => r.status === 'shared').length;
    out.line(`${plural(records.length, 'run', 'runs')} shown of ${total}${failed ? `, ${failed} failed` : ''}${shared ? `, ${shared} from the shared cache` : ''} (${dir})`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- evaluations

async function evaluations(out: Output, opts: GlobalOptions & { long?: boolean; limit?: number }): Promise<number> {
  return withLocalCache(opts, false, 'pipeline evaluations', async (cache, dir) => {
    let records: EvaluationRecord[] = await new RecordStore(cache).evaluations();
    const total = records.length;
    if (opts.limit !== undefined) records = records.slice(-opts.limit);
    if (out.json) {
      out.data({ dir, total, evaluations: records });
      return EXIT_OK;
    }
    if (records.length > 0) {
      const rows = records.map((e) => [
        formatDate(e.start),
        `${e.evaluator.type} v${e.evaluator.version}`,
        short(e.modelId, opts.long),
        formatDuration(e.durationMs),
        JSON.stringify(e.metrics),
        ...(opts.long ? [JSON.stringify(e.evaluator.config), e.host] : []),
      ]);
      const columns = [
        { header: 'EVALUATED' }, { header: 'EVALUATOR' }, { header: 'MODEL' }, { header: 'TIME', align: 'right' as const }, { header: 'METRICS' },
        ...(opts.long ? [{ header: 'CONFIG' }, { header: 'HOST' }] : []),
      ];
      for (const l of table(out, columns, rows)) out.line(l);
      out.line();
    }
    out.line(`${plural(records.length, 'evaluation', 'evaluations')} shown of ${total} (${dir})`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- clear

const CLEARED = {
  runs: [NAMESPACES.pipelineRun, NAMESPACES.pipelineFailure],
  evaluations: [NAMESPACES.pipelineEval],
  outputs: [OUTPUTS],
} as const;

async function clear(out: Output, opts: GlobalOptions & { runs?: boolean; evaluations?: boolean; outputs?: boolean }): Promise<number> {
  const picked = (Object.keys(CLEARED) as (keyof typeof CLEARED)[]).filter((k) => opts[k]);
  const what = picked.length > 0 ? picked : (Object.keys(CLEARED) as (keyof typeof CLEARED)[]);
  return withLocalCache(opts, true, 'pipeline clear', async (cache, dir) => {
    const removed: Record<string, number> = {};
    for (const k of what) {
      removed[k] = 0;
      for (const ns of CLEARED[k]) removed[k] += Object.values(await cache.deleteNamespace(ns)).reduce((a, b) => a + b, 0);
    }
    if (out.json) out.data({ dir, removed });
    else out.line(`removed ${what.map((k) => `${removed[k]} ${k === 'runs' ? 'run records' : k}`).join(', ')} from ${dir}`);
    return EXIT_OK;
  });
}

// ---------------------------------------------------------------------------------------------- prune

async function prune(out: Output, opts: GlobalOptions & { maxBytes: number }): Promise<number> {
  return withLocalCache(opts, true, 'pipeline prune', async (cache, dir) => {
    // Least recently used first (the disk tier lists them in that order).
    const all: { key: string; size: number }[] = [];
    for await (const e of cache.entries(OUTPUTS)) all.push(e);
    let total = all.reduce((n, o) => n + o.size, 0);
    let removed = 0;
    let freed = 0;
    for (const o of all) {
      if (total <= opts.maxBytes) break;
      if (await cache.delete(o.key, { namespace: OUTPUTS })) {
        total -= o.size;
        freed += o.size;
        removed++;
      }
    }
    const outputs = all.length - removed;
    if (out.json) {
      out.data({ dir, maxBytes: opts.maxBytes, removed, freedBytes: freed, outputs, bytes: total });
      return EXIT_OK;
    }
    out.line(`${removed ? `evicted ${plural(removed, 'output', 'outputs')}, freed ${formatBytes(freed)}; ` : 'nothing to evict; '}${plural(outputs, 'output', 'outputs')}, ${formatBytes(total)} remain`);
    return EXIT_OK;
  });
}

export function addPipelineCommands(program: Command): void {
  const pipeline = program.command('pipeline').description('pipelines that cached their passes in the cache directory');
  addPipelineRunCommand(pipeline);
  pipeline
    .command('runs')
    .description('run records of pipeline passes (oldest first): pass, status (ok, failed, shared), time, input and output ids')
    .option('--limit <n>', 'show the last n runs', parsePositiveInt)
    .addOption(new Option('--status <status>', 'only runs with this status').choices(['ok', 'failed', 'shared']))
    .option('--pass <name>', 'only runs of this pass name or type')
    .option('--long', 'full ids, and each run\'s config or error')
    .action(action(runs));
  pipeline
    .command('evaluations')
    .description('cached evaluations of models (oldest first): evaluator, model id, metrics')
    .option('--limit <n>', 'show the last n evaluations', parsePositiveInt)
    .option('--long', 'full ids, each evaluator\'s config and host')
    .action(action(evaluations));
  pipeline
    .command('clear')
    .description('delete the pipeline entries of the cache directory (all three kinds unless some are named); other entries stay')
    .option('--runs', 'run records and remembered failures')
    .option('--evaluations', 'cached evaluations')
    .option('--outputs', 'pass outputs')
    .action(action(clear));
  pipeline
    .command('prune')
    .description('evict least recently used pass outputs until they take at most --max-bytes (other entries stay)')
    .requiredOption('--max-bytes <size>', SIZE_RULE, parseSize)
    .action(action(prune));
}
