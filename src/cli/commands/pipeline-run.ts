// `modelcache pipeline run <workflow.json>`: validates the workflow (one error naming the field,
// nothing run), runs its passes (only what is not cached), prints one line per pass with how its
// output was obtained and how long it took, and exports the final model to the workflow's
// output_dir. Exit 1 when a pass fails, naming it. Transfer progress bars come from the shared
// tier on a TTY (stderr); --json turns them off.
import type { Command } from 'commander';
import { formatDuration } from '../../format.js';
import { loadWorkflow, WorkflowError, type WorkflowRun } from '../../pipeline/workflow.js';
import { PassError, type PassReport, type PipelineEvent } from '../../pipeline/pipeline.js';
import { action, type GlobalOptions } from '../action.js';
import { EXIT_FAILURE, EXIT_OK, plural, table, type Output } from '../output.js';

interface RunOptions extends GlobalOptions {
  overwrite?: boolean;
}

const STATUS_WORDS: Record<PassReport['status'], string> = { computed: 'computed', local: 'local', shared: 'shared', 'not-needed': 'not needed', failed: 'failed' };

function statusCell(out: Output, status: PassReport['status']): string {
  const word = STATUS_WORDS[status];
  return status === 'failed' ? out.style('red', word) : status === 'computed' ? out.style('yellow', word) : out.style('green', word);
}

function passTable(out: Output, passes: readonly Pick<PassReport, 'name' | 'type' | 'status' | 'durationMs' | 'outputId'>[]): void {
  const rows = passes.map((p) => [
    p.name === p.type ? p.name : `${p.name} (${p.type})`,
    statusCell(out, p.status),
    p.durationMs !== undefined ? formatDuration(p.durationMs) : '-',
    p.outputId.slice(0, 12),
  ]);
  for (const l of table(out, [{ header: 'PASS' }, { header: 'STATUS' }, { header: 'TIME', align: 'right' }, { header: 'OUTPUT' }], rows)) out.line(l);
}

function summary(out: Output, run: WorkflowRun): void {
  const { result, output } = run;
  const counts = (['computed', 'local', 'shared'] as const).map((s) => [s, result.passes.filter((p) => p.status === s).length] as const).filter(([, n]) => n > 0);
  out.line();
  out.line(`${plural(result.passes.length, 'pass', 'passes')}${counts.length ? `: ${counts.map(([s, n]) => `${n} ${s}`).join(', ')}` : ''}; model ${result.id}`);
  if (result.evaluation) out.line(`evaluation${result.evaluation.cached ? ` (${result.evaluation.cached})` : ''}: ${JSON.stringify(result.evaluation.metrics)}`);
  if (output) out.line(`exported to ${output.dir}`);
}

async function run(out: Output, opts: RunOptions, file: string): Promise<number> {
  // Passes that ended, for the lines printed when a later one fails.
  const ended: { name: string; status: 'computed' | 'failed'; durationMs: number; outputId: string }[] = [];
  const onEvent = (e: PipelineEvent) => {
    if (e.type === 'pass-end') ended.push({ name: e.pass, status: e.status === 'ok' ? 'computed' : 'failed', durationMs: e.durationMs, outputId: e.outputId });
  };
  let flow;
  try {
    flow = await loadWorkflow(file, {
      ...(opts.dir !== undefined ? { cacheDir: opts.dir } : {}),
      overwrite: Boolean(opts.overwrite),
      onEvent,
      ...(out.json ? { sharedOptions: { progress: false } } : {}),
    });
  } catch (err) {
    if (!(err instanceof WorkflowError) || !out.json) throw err;
    out.data({ error: err.message, code: err.code, field: err.field });
    return EXIT_FAILURE;
  }
  try {
    const done = await flow.run();
    const { result, output } = done;
    if (out.json) {
      out.data({
        file: flow.file,
        id: result.id,
        inputId: result.inputId,
        passes: result.passes,
        stats: result.stats,
        ...(result.evaluation ? { evaluation: result.evaluation } : {}),
        ...(output ? { output } : {}),
      });
    } else {
      passTable(out, result.passes);
      summary(out, done);
    }
    return EXIT_OK;
  } catch (err) {
    if (!(err instanceof PassError)) throw err;
    const passes = ended.map((p) => ({ ...p, type: p.name }));
    if (out.json) {
      out.data({ error: err.message, code: err.code, pass: err.pass, passes });
    } else {
      passTable(out, passes);
      process.stderr.write(`modelcache: ${err.message} (${err.code})\n`);
    }
    return EXIT_FAILURE;
  } finally {
    await flow.close();
  }
}

export function addPipelineRunCommand(pipeline: Command): void {
  pipeline
    .command('run')
    .description('run a workflow file (JSON, Olive-style): passes computed only when not cached, final model exported to its output_dir')
    .argument('<workflow>', 'the workflow file; relative paths in it are relative to its folder')
    .option('--overwrite', 'replace a model exported earlier in output_dir')
    .action(action(run));
}
