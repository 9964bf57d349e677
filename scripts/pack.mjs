#!/usr/bin/env node
// `npm pack` / `npm publish` hooks. prepack: clears dist/ (so the build that follows leaves no stale
// module in the package), builds the prebuilt addon for this machine (scripts/prebuild.mjs), and
// copies the third-party C sources of the source-build fallback from the pinned dev dependencies
// into deps/<package>/ (paths as in the package: cmake/deps.cmake reads them there). postpack:
// removes deps/ again, so a clone keeps building from node_modules. deps/ is never committed.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const depsDir = join(root, 'deps');

// What the CMake build reads from each package, and its licence files.
const BUNDLED = {
  'zstd-napi': ['deps/zstd/LICENSE', 'deps/zstd/COPYING', 'deps/zstd/lib/zstd.h', 'deps/zstd/lib/zstd_errors.h',
    'deps/zstd/lib/zdict.h', 'deps/zstd/lib/common', 'deps/zstd/lib/compress', 'deps/zstd/lib/decompress'],
  lz4: ['deps/lz4/lib/LICENSE', 'deps/lz4/lib/lz4.c', 'deps/lz4/lib/lz4.h', 'deps/lz4/lib/lz4hc.c', 'deps/lz4/lib/lz4hc.h'],
  'xxhash-addon': ['LICENSE', 'xxHash/xxhash.h', 'xxHash/xxh_x86dispatch.c', 'xxHash/xxh_x86dispatch.h'],
};

function bundle() {
  rmSync(depsDir, { recursive: true, force: true });
  const lines = [
    '# Third-party sources',
    '',
    'Copied at `npm pack` from these npm packages, for the source build of the native addon',
    '(each keeps its own licence, included beside it):',
    '',
  ];
  for (const [pkg, paths] of Object.entries(BUNDLED)) {
    const from = dirname(require.resolve(`${pkg}/package.json`));
    const meta = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
    for (const p of paths) cpSync(join(from, p), join(depsDir, pkg, p), { recursive: true, errorOnExist: true });
    lines.push(`- \`${pkg}/\`: ${pkg}@${meta.version}`);
  }
  writeFileSync(join(depsDir, 'README.md'), `${lines.join('\n')}\n`);
}

const step = process.argv[2];
if (step === 'prepack') {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const r = spawnSync(process.execPath, [join(root, 'scripts', 'prebuild.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  bundle();
} else if (step === 'postpack') {
  rmSync(depsDir, { recursive: true, force: true });
} else {
  process.stderr.write('usage: node scripts/pack.mjs prepack|postpack\n');
  process.exit(2);
}
