#!/usr/bin/env node
// `npm run build:prebuild` (and `npm pack`): builds the prebuilt addon that the package ships, for
// the machine it runs on, and puts it where node-gyp-build looks for it:
//   prebuilds/<platform>-<arch>/modelcache.napi[.glibc|.musl].node
// The very build that an install without a matching prebuild runs (`cmake-js compile --out build`,
// Release), with the test and sanitizer options forced off in case build/ was configured with them.
// Incremental: with unchanged sources it only copies.
// (Not named `prebuild`: npm would run that before every `npm run build`.)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, renameSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

function libcTag() {
  if (process.platform !== 'linux') return '';
  return process.report.getReport().header.glibcVersionRuntime ? '.glibc' : '.musl';
}

const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const r = spawnSync(
  process.execPath,
  [cmakeJs, 'compile', '--out', 'build', ...['TESTS', 'FUZZ', 'SANITIZE'].map((o) => `--CDMODELCACHE_${o}=OFF`)],
  { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
);
if (r.status !== 0) {
  process.stderr.write('build:prebuild: the cmake-js build failed\n');
  process.exit(r.status ?? 1);
}

const built = join(root, 'build', 'Release', 'modelcache.node');
const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const target = join(dir, `modelcache.napi${libcTag()}.node`);
mkdirSync(dir, { recursive: true });
// Replaced by rename, never rewritten in place: a process that has the old file loaded keeps
// its mapping intact. Unchanged content is left alone.
if (!existsSync(target) || !readFileSync(target).equals(readFileSync(built))) {
  const tmp = `${target}.${process.pid}.tmp`;
  copyFileSync(built, tmp);
  renameSync(tmp, target);
}
process.stdout.write(`build:prebuild: ${relative(root, target)}\n`);
