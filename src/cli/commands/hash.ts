// `modelcache hash <file>`: the content id modelcache gives a model file, with a progress bar
// on a terminal for large files.
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { hashFile } from '../../hash.js';
import { createProgress } from '../../progress.js';
import { action, type GlobalOptions } from '../action.js';
import { CliError, EXIT_OK, type Output } from '../output.js';

async function hash(out: Output, _opts: GlobalOptions, file: string): Promise<number> {
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new CliError(`not a regular file: ${file}`);
    size = st.size;
  } catch (err) {
    if (err instanceof CliError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const bar = createProgress(`hashing ${file}`, size, { bytes: true });
  const t0 = performance.now();
  let digest: string;
  try {
    digest = await hashFile(file, { onProgress: (done) => bar.update(done) });
  } finally {
    bar.done();
  }
  const ms = performance.now() - t0;
  if (out.json) out.data({ file, bytes: size, hash: digest, ms });
  else out.line(`${digest}  ${file}`);
  return EXIT_OK;
}

export function addHashCommand(program: Command): void {
  program
    .command('hash')
    .description('print the XXH3-128 tree hash of a file (the content id modelcache uses for models)')
    .argument('<file>', 'file to hash')
    .action(action(hash));
}
