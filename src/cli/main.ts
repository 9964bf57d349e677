#!/usr/bin/env node
// The `modelcache` command line: inspect and manage a cache directory, hash model files.
// Exit codes: 0 ok, 1 operational failure (no cache, problems found), 2 usage error.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { reportError } from './action.js';
import { parseDir } from './args.js';
import { addCacheCommands } from './commands/cache.js';
import { addHashCommand } from './commands/hash.js';
import { addOrtCommands } from './commands/ort.js';
import { addPipelineCommands } from './commands/pipeline.js';
import { addSharedCommands } from './commands/shared.js';
import { EXIT_USAGE, createOutput } from './output.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The program, with exitOverride: usage errors are thrown as CommanderError instead of exiting. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('modelcache')
    .description('Inspect and manage modelcache caches.\nExit codes: 0 ok, 1 failure (no cache, problems found), 2 usage error.')
    .version(pkg.version)
    .option('--dir <path>', 'cache directory (default: $MODELCACHE_DIR, else the platform cache dir, ~/.cache/modelcache on Linux)', parseDir)
    .option('--json', 'print one JSON document on stdout, for scripts')
    .configureHelp({ showGlobalOptions: true })
    // Inherited by the subcommands added below.
    .exitOverride();
  addCacheCommands(program);
  addHashCommand(program);
  addOrtCommands(program);
  addPipelineCommands(program);
  addSharedCommands(program);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message (or the help / version); only the exit code is ours.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.exitCode = reportError(createOutput({ json: process.argv.includes('--json') }), err);
  }
}

function isEntryPoint(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) await main();
