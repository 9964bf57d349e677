// `modelcache pipeline runs`: the run records of the pipelines that used a cache directory
// (`<dir>/pipeline/records`), oldest first, opened read-only; `pipeline prune`: evict outputs;
// `pipeline run`: run a workflow file (./pipeline-run.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { formatBytes, formatDuration } from '../../format.js';
import { LocalStore } from '../../pipeline/local.js';
import { RecordStore, type RunRecord } from '../../pipeline/records.js';
import { action, type GlobalOptions } from '../action.js';
import { parsePositiveInt, parseSize, SIZE_RULE } from '../args.js';
import { CliError, EXIT_FAILURE, EXIT_OK, formatDate, plural, table, type Output } from '../output.js';
import { cacheDir } from './cache.js';
import { addPipelineRunCommand } from './pipeline-run.js';

interface RunsOptions extends GlobalOptions {
  limit?: number;
  status?: 'ok' | 'failed';
  pass?: string;
  long?: boolean;
}

async function runs(out: Output, opts: RunsOptions): Promise<number> {
  const dir = cacheDir(opts);
  if (!existsSync(join(dir, 'pipeline', 'records', 'index'))) throw new CliError(`no pipeline runs in ${dir}`);
  const store = new RecordStore(dir, { readOnly: true });
  let records: RunRecord[];
  try {
    records = await store.runs();
  } finally {
    await store.close();
  }
  const total = records.length;
  if (opts.status) records = records.filter((r) => r.status === opts.status);
  if (opts.pass) records = records.filter((r) => r.pass.name === opts.pass || r.pass.type === opts.pass);
  // The most recent ones matter: keep the last n, still oldest first.
  if (opts.limit !== undefined) records = records.slice(-opts.limit);
  if (out.json) {
    out.data({ dir, total, runs: records });
    return EXIT_OK;
  }
  if (records.length > 0) {
    const short = (id: string) => (opts.long ? id : id.slice(0, 12));
    const rows = records.map((r) => [
      formatDate(r.start),
      r.pass.name === r.pass.type ? r.pass.name : `${r.pass.name} (${r.pass.type})`,
      r.pass.version,
      r.status === 'ok' ? out.style('green', 'ok') : out.style('red', 'failed'),
      formatDuration(r.durationMs),
      short(r.inputId),
      r.status === 'ok' ? short(r.outputId) : '-',
      r.shareable ? 'yes' : 'no',
      ...(opts.long ? [r.status === 'ok' ? JSON.stringify(r.config) : (r.error ?? '')] : []),
    ]);
    const columns = [
      { header: 'STARTED' }, { header: 'PASS' }, { header: 'VERSION' }, { header: 'STATUS' }, { header: 'TIME', align: 'right' as const },
      { header: 'INPUT' }, { header: 'OUTPUT' }, { header: 'SHAREABLE' }, ...(opts.long ? [{ header: 'CONFIG / ERROR' }] : []),
    ];
    for (const l of table(out, columns, rows)) out.line(l);
    out.line();
  }
  const failed = records.filter((r) => r.status === 'failed').length;
  out.line(`${plural(records.length, 'run', 'runs')} shown of ${total}${failed ? `, ${failed} failed` : ''} (${dir})`);
  return EXIT_OK;
}

async function prune(out: Output, opts: GlobalOptions & { maxBytes: number }): Promise<number> {
  const dir = cacheDir(opts);
  if (!existsSync(join(dir, 'pipeline', 'outputs'))) throw new CliError(`no pipeline outputs in ${dir}`, EXIT_FAILURE);
  const store = new LocalStore(dir, { maxBytes: opts.maxBytes });
  const { removed, bytes } = await store.prune(opts.maxBytes);
  const left = await store.usage();
  const total = left.reduce((a, o) => a + o.size, 0);
  if (out.json) {
    out.data({ dir, maxBytes: opts.maxBytes, removed, freedBytes: bytes, outputs: left.length, bytes: total });
    return EXIT_OK;
  }
  out.line(`${removed ? `evicted ${plural(removed, 'output', 'outputs')}, freed ${formatBytes(bytes)}; ` : 'nothing to evict; '}${plural(left.length, 'output', 'outputs')}, ${formatBytes(total)} remain`);
  return EXIT_OK;
}

export function addPipelineCommands(program: Command): void {
  const pipeline = program.command('pipeline').description('pipelines that cached their passes in the cache directory');
  addPipelineRunCommand(pipeline);
  pipeline
    .command('runs')
    .description('run records of pipeline passes (oldest first): pass, status, time, input and output ids')
    .option('--limit <n>', 'show the last n runs', parsePositiveInt)
    .addOption(new Option('--status <status>', 'only runs with this status').choices(['ok', 'failed']))
    .option('--pass <name>', 'only runs of this pass name or type')
    .option('--long', 'full ids, and each run\'s config or error')
    .action(action(runs));
  pipeline
    .command('prune')
    .description('evict least recently used pass outputs until at most --max-bytes remain (outputs used in the last minute are kept)')
    .requiredOption('--max-bytes <size>', SIZE_RULE, parseSize)
    .action(action(prune));
}
