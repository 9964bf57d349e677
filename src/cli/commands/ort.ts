// `modelcache warm` precompiles a model into the session cache (OpenVINO's compile tool, for
// onnxruntime): it waits for the entry to be saved, and closes the cache before it exits;
// `modelcache sessions` lists the cached sessions. Only `warm` needs onnxruntime-node, and it loads
// it when it runs, so the rest of the CLI works without that peer dependency.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatBytes } from '../../format.js';
import { progressEnabled } from '../../progress.js';
import { DiskTier, type DiskEntry } from '../../store/disk/tier.js';
import { NAMESPACES } from '../../store/namespace.js';
import { action, type GlobalOptions } from '../action.js';
import { CliError, EXIT_FAILURE, EXIT_OK, plural, relativeTime, table, type Output } from '../output.js';
import { cacheDir } from '../dir.js';

const SHORT_KEY = 12;
const LEVELS = ['disabled', 'basic', 'extended', 'layout', 'all'];

interface WarmOptions extends GlobalOptions {
  ep: string[];
  mode: 'speed' | 'size';
  level?: string;
}

function collectEps(value: string, previous: string[] | undefined): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('expected an execution provider name such as cpu');
  return [...(previous ?? []), ...names];
}

async function warm(out: Output, opts: WarmOptions, model: string): Promise<number> {
  if (!existsSync(model) || !statSync(model).isFile()) throw new CliError(`cannot read ${model}: no such file`);
  let ortApi: typeof import('../../ort/index.js');
  try {
    ortApi = await import('../../ort/index.js');
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const dir = cacheDir(opts);
  const eps = opts.ep.length > 0 ? opts.ep : ['cpu'];
  const interactive = progressEnabled() && !out.json;
  if (interactive) process.stderr.write(`warming ${model} (${eps.join(', ')}, ${opts.mode})…`);
  let session;
  try {
    session = await ortApi.InferenceSession.create(model, {
      executionProviders: eps,
      logSeverityLevel: 3,
      ...(opts.level ? { graphOptimizationLevel: opts.level as 'all' } : {}),
      cache: { dir, mode: opts.mode, wait: true },
    });
  } finally {
    if (interactive) process.stderr.write('\r\x1b[K');
  }
  const info = ortApi.sessionCacheInfo(session)!;
  await session.release();
  await ortApi.closeSessionCaches();
  const ms = info.timings.total;
  const failed = info.status === 'skipped' || (info.save !== undefined && info.save.status !== 'saved' && info.save.status !== 'elsewhere');
  const reason = info.save?.reason ?? info.reason;
  if (out.json) {
    out.data({
      dir, model: resolve(model), status: info.status, key: info.key, mode: opts.mode, executionProviders: eps,
      format: info.format ?? info.save?.format, entryBytes: info.entryBytes, reason, save: info.save, timings: info.timings,
    });
  } else {
    const size = info.entryBytes !== undefined ? `, ${formatBytes(info.entryBytes)}` : '';
    const form = info.format ?? info.save?.format;
    const key = info.key ? ` (key ${info.key.slice(0, SHORT_KEY)}${form ? `, ${form}` : ''})` : '';
    const took = `in ${ms.toFixed(0)} ms`;
    if (failed) out.line(`${model}: ${out.style('yellow', 'not cached')}: ${reason}`);
    else if (info.status === 'hit') out.line(`${model}: ${out.style('green', 'already cached')}${size}, loaded ${took}${key}`);
    else out.line(`${model}: ${out.style('green', info.status === 'rebuilt' ? 'cached (replaced a damaged entry)' : 'cached')}${size} ${took}${key}`);
  }
  return failed ? EXIT_FAILURE : EXIT_OK;
}

interface SessionRow {
  key: string;
  source: string;
  bytes: number;
  sourceBytes?: number;
  ortVersion?: string;
  mode?: string;
  format?: string;
  executionProviders?: string[];
  encrypted?: boolean;
  created: number;
  lastUsed: number;
}

function row(e: DiskEntry): SessionRow {
  const m = (e.meta ?? {}) as Record<string, unknown>;
  return {
    key: e.key,
    source: typeof m.source === 'string' ? m.source : '?',
    bytes: e.size,
    ...(typeof m.sourceBytes === 'number' ? { sourceBytes: m.sourceBytes } : {}),
    ...(typeof m.ortVersion === 'string' ? { ortVersion: m.ortVersion } : {}),
    ...(typeof m.mode === 'string' ? { mode: m.mode } : {}),
    ...(typeof m.entryFormat === 'string' ? { format: m.entryFormat } : {}),
    ...(Array.isArray(m.executionProviders) ? { executionProviders: m.executionProviders as string[] } : {}),
    ...(typeof m.encrypted === 'boolean' ? { encrypted: m.encrypted } : {}),
    created: e.created,
    lastUsed: e.accessed,
  };
}

async function sessions(out: Output, opts: GlobalOptions): Promise<number> {
  const dir = cacheDir(opts);
  if (!existsSync(join(dir, 'index'))) throw new CliError(`no cache at ${dir}`, EXIT_FAILURE);
  const tier = new DiskTier({ dir, readOnly: true });
  let rows: SessionRow[];
  try {
    // list() is least recently used first: show the most recent first.
    rows = tier.list(NAMESPACES.session).reverse().map(row);
  } finally {
    await tier.close();
  }
  if (out.json) {
    out.data({ dir, sessions: rows });
    return EXIT_OK;
  }
  if (rows.length > 0) {
    const now = Date.now();
    const lines = table(
      out,
      [{ header: 'KEY' }, { header: 'SIZE', align: 'right' }, { header: 'MODE' }, { header: 'FORM' }, { header: 'ORT' }, { header: 'EP' }, { header: 'USED' }, { header: 'SOURCE' }],
      rows.map((r) => [
        r.key.slice(0, SHORT_KEY),
        formatBytes(r.bytes),
        `${r.mode ?? '?'}${r.encrypted ? ' (enc)' : ''}`,
        r.format ?? '?',
        r.ortVersion ?? '?',
        (r.executionProviders ?? []).join(',') || '?',
        relativeTime(r.lastUsed, now),
        r.source,
      ]),
    );
    for (const l of lines) out.line(l);
    out.line();
  }
  out.line(`${plural(rows.length, 'cached session', 'cached sessions')}, ${formatBytes(rows.reduce((n, r) => n + r.bytes, 0))} in ${dir}`);
  return EXIT_OK;
}

/** Registers `warm` and `sessions`. */
export function addOrtCommands(program: Command): void {
  program
    .command('warm')
    .description('create the cached session of an ONNX model now (precompile), as InferenceSession.create from modelcache/ort would')
    .argument('<model>', 'the .onnx model file')
    .option('--ep <name>', 'execution provider; repeat or separate with commas (default: cpu)', collectEps)
    .addOption(new Option('--mode <mode>', "'speed' stores the whole optimized model; 'size' only what differs from the source model").choices(['speed', 'size']).default('speed'))
    .addOption(new Option('--level <level>', 'graph optimization level, as the application passes it (default: all)').choices(LEVELS))
    .action(action(async (out: Output, opts: WarmOptions, model: string) => warm(out, { ...opts, ep: opts.ep ?? [] }, model)));

  program
    .command('sessions')
    .description('list cached onnxruntime sessions: source model, size, mode, entry form, onnxruntime version, last use')
    .action(action(sessions));
}
