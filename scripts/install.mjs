// `npm install` hook. Installed as a dependency, modelcache keeps its prebuilt addon when that loads
// here; otherwise (no prebuild for this platform, or `npm rebuild --build-from-source`) it builds the
// addon from the bundled sources with cmake-js, after a preflight that names what the build lacks.
// In a clone of the repository it always builds, so build/Release follows the sources.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingForBuild, missingMessage } from './preflight.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

const isDependency = root.split(sep).includes('node_modules');
const fromSource = process.env.npm_config_build_from_source === 'true' || process.argv.includes('--build-from-source');

// Loads the addon the way src/native.ts does (node-gyp-build), in a child process as
// node-gyp-build's own install check does, so a crash in a foreign binary cannot end the install.
// Returns null when it loads, else the first line of the reason.
function loadProblem() {
  const loader = require.resolve('node-gyp-build');
  const check = `try { require(${JSON.stringify(loader)})(${JSON.stringify(root)}) } catch (e) { process.stderr.write(String(e && e.message).split('\\n')[0]); process.exit(1) }`;
  const r = spawnSync(process.execPath, ['-e', check], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  return r.status === 0 ? null : (r.stderr.trim() || `exit ${r.status ?? r.signal}`);
}

function describePlatform() {
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
  const libc = process.platform === 'linux' ? (glibc ? `, glibc ${glibc}` : ', musl') : '';
  return `${process.platform}-${process.arch}${libc}, Node ${process.versions.node}`;
}

let reason = 'a build from source was asked for';
if (isDependency && !fromSource) {
  const problem = loadProblem();
  if (problem === null) process.exit(0);
  reason = /No native build was found/.test(problem)
    ? `no prebuilt addon matches this system (${describePlatform()})`
    : `the prebuilt addon does not load on this system (${problem})`;
}
if (!isDependency) reason = 'this is a clone of the repository';

const missing = missingForBuild(root);
if (missing.length > 0) {
  process.stderr.write(`\n${missingMessage(reason, missing)}\n\n`);
  process.exit(1);
}

if (isDependency) process.stderr.write(`modelcache: ${reason}; building the native addon from source (about a minute)\n`);
const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const build = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  process.stderr.write(
    `\nmodelcache: the source build of the native addon failed (the CMake output above says where).\n` +
      `Fix that, then run \`npm rebuild modelcache\`.\n\n`,
  );
  process.exit(build.status ?? 1);
}
