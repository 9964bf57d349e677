#!/usr/bin/env node
// The `modelcache` command line.
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { hashFile } from '../hash.js';
import { createProgress } from '../progress.js';
import { CacheError } from '../errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command();
  program.name('modelcache').description('Inspect and manage modelcache caches').version(pkg.version);

  program
    .command('hash')
    .description('print the XXH3-128 tree hash of a file (the content id modelcache uses for models)')
    .argument('<file>', 'file to hash')
    .option('--json', 'print JSON for scripts')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { size } = await import('node:fs/promises').then((fs) => fs.stat(file));
      const bar = createProgress(`hashing ${file}`, size, { bytes: true });
      const t0 = performance.now();
      const digest = await hashFile(file, { onProgress: (done) => bar.update(done) });
      bar.done();
      const ms = performance.now() - t0;
      if (opts.json) process.stdout.write(JSON.stringify({ file, bytes: size, hash: digest, ms }) + '\n');
      else process.stdout.write(`${digest}  ${file}\n`);
    });

  return program;
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    const e = err as Error & { code?: string };
    const code = e instanceof CacheError ? ` (${e.code})` : '';
    process.stderr.write(`modelcache: ${e.message}${code}\n`);
    process.exitCode = 1;
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
