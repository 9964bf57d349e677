// Runs a command's body with its options merged with the global ones, and turns its result or
// failure into an exit code and output in the format the user asked for.
import type { Command } from 'commander';
import { CacheError } from '../errors.js';
import { CliError, EXIT_FAILURE, createOutput, type Output } from './output.js';

/** Options every command takes (declared on the program). */
export interface GlobalOptions {
  dir?: string;
  json?: boolean;
}

/** Writes an error as one line on stderr, or as {"error"} on stdout with --json. */
export function reportError(out: Output, err: unknown): number {
  const e = err as Error & { code?: unknown };
  const exitCode = err instanceof CliError ? err.exitCode : EXIT_FAILURE;
  const code = err instanceof CacheError || (typeof e?.code === 'string' && !(err instanceof CliError)) ? String(e.code) : undefined;
  const message = e instanceof Error ? e.message : String(err);
  if (out.json) out.data({ error: message, ...(code ? { code } : {}) });
  else process.stderr.write(`modelcache: ${message}${code ? ` (${code})` : ''}\n`);
  return exitCode;
}

/**
 * Adapts `fn(out, opts, ...args)` to a commander action; its resolved number is the exit code.
 * Sets process.exitCode rather than exiting, so pending output is flushed.
 */
export function action<O extends GlobalOptions, A extends unknown[]>(
  fn: (out: Output, opts: O, ...args: A) => Promise<number>,
): (...commanderArgs: unknown[]) => Promise<void> {
  return async (...commanderArgs: unknown[]) => {
    const cmd = commanderArgs[commanderArgs.length - 1] as Command;
    const opts = cmd.optsWithGlobals<O>();
    const out = createOutput(opts);
    try {
      process.exitCode = await fn(out, opts, ...(commanderArgs.slice(0, -2) as A));
    } catch (err) {
      process.exitCode = reportError(out, err);
    }
  };
}
