// `npm install modelcache` as a new user meets it: the packed tarball installed into an empty
// project with no compiler, CMake or make on the PATH and no network (a registry on 127.0.0.1 that
// serves what this repository already installed), with install scripts and without; then where no
// prebuild matches, with and without build tools.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareToolsDir, emptyProject, installedPackages, repoRoot, run, type Consumer, type RunResult } from './consumer.js';
import { startLocalRegistry, type LocalRegistry } from './registry.js';

const ENTRY_POINTS = ['modelcache', 'modelcache/ort', 'modelcache/pipeline'];
const SOURCE_CARRIERS = ['zstd-napi', 'lz4', 'xxhash-addon'];
const PREBUILD = 'prebuilds/linux-x64/modelcache.napi.glibc.node';

const work = mkdtempSync(join(tmpdir(), 'modelcache-install-'));
const npmCache = join(work, 'npm-cache');
let registry: LocalRegistry;
let tools: string;
let tarball: string;
let tarballWithoutPrebuild: string;
// The source build takes the longest (a compile on 2 cores): started as soon as the tarball is
// there, it runs while the other installs do.
let sourceBuild: { consumer: Consumer; install: Promise<RunResult> };

// This process's environment minus the switches that pick an addon for the tests.
function repoEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.PREBUILDS_ONLY;
  if (!('MODELCACHE_PREBUILD' in extra)) delete env.MODELCACHE_PREBUILD;
  return env;
}

beforeAll(async () => {
  const cacheDir = process.env.npm_config_cache ?? execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
  registry = await startLocalRegistry(join(repoRoot, 'package-lock.json'), cacheDir);
  tools = bareToolsDir(join(work, 'bin'));
  const packed = await run('npm', ['pack', '--pack-destination', work], { cwd: repoRoot, env: repoEnv(), timeoutMs: 600_000 });
  expect(packed.code, packed.stderr).toBe(0);
  tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  // The same package where nothing matches: no prebuild for this machine.
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['xzf', tarball, '-C', unpacked]);
  rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true });
  tarballWithoutPrebuild = join(work, 'without-prebuild.tgz');
  execFileSync('tar', ['czf', tarballWithoutPrebuild, '-C', unpacked, 'package']);
  const consumer = project('source-build', true);
  sourceBuild = { consumer, install: consumer.npm(['install', tarballWithoutPrebuild], 600_000) };
});

afterAll(async () => {
  await registry?.close();
  rmSync(work, { recursive: true, force: true });
});

function project(name: string, buildTools = false): Consumer {
  return emptyProject(join(work, name), { registry: registry.url, cache: npmCache, tools, buildTools });
}

function failure(r: RunResult): string {
  return `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
}

// Prints each entry point's export names and a digest through the native addon, as JSON.
const ESM_CHECK = `${ENTRY_POINTS.map((e, i) => `import * as m${i} from '${e}';`).join('\n')}
console.log(JSON.stringify({ exports: [${ENTRY_POINTS.map((_, i) => `Object.keys(m${i}).sort()`).join(', ')}], digest: m0.hash(Buffer.from('modelcache')) }));
`;
const CJS_CHECK = `${ENTRY_POINTS.map((e, i) => `const m${i} = require('${e}');`).join('\n')}
console.log(JSON.stringify({ exports: [${ENTRY_POINTS.map((_, i) => `Object.keys(m${i}).sort()`).join(', ')}], digest: m0.hash(Buffer.from('modelcache')) }));
`;

// What the repository's own build exports and computes, for the installed copy to match.
async function expected(): Promise<{ exports: string[][]; digest: string }> {
  const mods = await Promise.all(['index.js', 'ort/index.js', 'pipeline/index.js'].map((f) => import(pathToFileURL(join(repoRoot, 'dist', f)).href)));
  return { exports: mods.map((m) => Object.keys(m).sort()), digest: mods[0].hash(Buffer.from('modelcache')) };
}

async function loadedAddon(c: Consumer): Promise<string> {
  const native = pathToFileURL(join(c.dir, 'node_modules', 'modelcache', 'dist', 'native.js')).href;
  const r = await c.node(['--input-type=module', '-e', `console.log((await import('${native}')).addonPath)`]);
  expect(r.code, failure(r)).toBe(0);
  return r.stdout.trim();
}

// onnxruntime-node is the user's own peer dependency of modelcache/ort: linked from this
// repository's install rather than installed again (290 MB that this test is not about).
function linkOnnxruntime(c: Consumer): void {
  symlinkSync(join(repoRoot, 'node_modules', 'onnxruntime-node'), join(c.dir, 'node_modules', 'onnxruntime-node'), 'dir');
}

// The README's smallest programs, as they stand under "In your project".
function readmePrograms(): string[] {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('## In your project');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

function describeWorkingInstall(title: string, installArgs: string[], { readme = false } = {}): void {
  describe(title, () => {
    let c: Consumer;
    let install: RunResult;
    beforeAll(async () => {
      c = project(title.replace(/\W+/g, '-'));
      install = await c.npm(['install', ...installArgs, tarball]);
      if (install.code === 0) linkOnnxruntime(c);
    });

    it('installs with no compiler, CMake or make on the PATH and no network', () => {
      expect(install.code, failure(install)).toBe(0);
    });

    it('imports every entry point from ESM', async () => {
      const r = await c.node(['--input-type=module', '-e', ESM_CHECK]);
      expect(r.code, failure(r)).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(await expected());
    });

    it('requires every entry point from CommonJS', async () => {
      const r = await c.node(['-e', CJS_CHECK]);
      expect(r.code, failure(r)).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(await expected());
    });

    it('runs `npx modelcache --help`', async () => {
      const r = await c.npx(['modelcache', '--help']);
      expect(r.code, failure(r)).toBe(0);
      expect(r.stdout).toMatch(/Usage: modelcache/);
    });

    it('has no zstd-napi, lz4 or xxhash-addon in the installed tree', () => {
      const installed = installedPackages(c.dir);
      expect(installed).toContain('modelcache');
      expect(installed.filter((p) => SOURCE_CARRIERS.includes(p))).toEqual([]);
    });

    it('loads the prebuilt addon', async () => {
      expect(await loadedAddon(c)).toBe(join(c.dir, 'node_modules', 'modelcache', PREBUILD));
    });

    if (readme) {
      it("runs the README's smallest programs, twice (a miss, then a hit)", async () => {
        const programs = readmePrograms();
        expect(programs).toHaveLength(3);
        copyFileSync(join(repoRoot, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), join(c.dir, 'model.onnx'));
        for (const [i, source] of programs.entries()) {
          writeFileSync(join(c.dir, `readme-${i}.mjs`), source);
          for (let n = 0; n < 2; n++) {
            const r = await c.node([`readme-${i}.mjs`], { MODELCACHE_DIR: join(c.dir, 'modelcache-dir') });
            expect(r.code, `program ${i}, run ${n + 1}: ${failure(r)}`).toBe(0);
          }
        }
      });
    }
  });
}

describe('the packed tarball', () => {
  it('holds only what a user needs', () => {
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').map((f) => f.replace(/^package\//, ''));
    const allowed = /^(package\.json|README\.md|LICENSE|CMakeLists\.txt|cmake\/[\w.]+\.cmake|scripts\/(install|preflight)\.mjs|schema\/[\w.]+\.json|dist\/.+\.(js|d\.ts)|native\/(core|binding)\/[\w.]+\.(cc|h)|deps\/.+|prebuilds\/[\w-]+\/[\w.]+\.node)$/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    for (const f of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts', PREBUILD, 'scripts/install.mjs', 'schema/workflow.schema.json', 'deps/zstd-napi/deps/zstd/lib/zstd.h', 'deps/lz4/deps/lz4/lib/lz4.c', 'deps/xxhash-addon/xxHash/xxhash.h']) {
      expect(files).toContain(f);
    }
  });
});

describeWorkingInstall('installed with install scripts', [], { readme: true });
describeWorkingInstall('installed with --ignore-scripts', ['--ignore-scripts']);

describe('installed where no prebuild matches, without build tools', () => {
  it('fails with one paragraph that names modelcache, what is missing and how to get it', async () => {
    const c = project('no-prebuild-no-tools');
    const r = await c.npm(['install', tarballWithoutPrebuild]);
    expect(r.code).not.toBe(0);
    const paragraph = /modelcache: no prebuilt addon matches this system.*npm rebuild modelcache`\./.exec(r.stderr)?.[0];
    expect(paragraph, r.stderr).toBeDefined();
    for (const part of ['a C++17 compiler', 'CMake >= 3.15 (no `cmake` on PATH)', 'make or ninja', 'apt-get install build-essential cmake', 'xcode-select --install', 'Visual Studio Build Tools']) {
      expect(paragraph).toContain(part);
    }
  });
});

describe('installed where no prebuild matches, with --ignore-scripts', () => {
  it('fails at import with an error that names `npm rebuild modelcache`', async () => {
    const c = project('no-prebuild-ignore-scripts');
    const install = await c.npm(['install', '--ignore-scripts', tarballWithoutPrebuild]);
    expect(install.code, failure(install)).toBe(0);
    const r = await c.node(['--input-type=module', '-e', "import('modelcache').catch((e) => { console.log(e.code + ' ' + e.message); process.exit(3); })"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^ERR_NATIVE modelcache: no native addon for linux-x64 .*`npm rebuild modelcache`/);
  });
});

describe('built from source at install (build tools present, no prebuild)', () => {
  let c: Consumer;
  let install: RunResult;
  beforeAll(async () => {
    c = sourceBuild.consumer;
    install = await sourceBuild.install;
  });

  it('builds the addon from the bundled sources and loads it', async () => {
    expect(install.code, failure(install)).toBe(0);
    expect(await loadedAddon(c)).toBe(join(c.dir, 'node_modules', 'modelcache', 'build', 'Release', 'modelcache.node'));
  });

  it('passes the native tests (hash, codec, cast, cipher, mmap) with that addon', async () => {
    const env = repoEnv({ MODELCACHE_PREBUILD: join(c.dir, 'node_modules', 'modelcache') });
    const which = await run(process.execPath, ['--input-type=module', '-e', `console.log((await import('${pathToFileURL(join(repoRoot, 'dist', 'native.js')).href}')).addonPath)`], { cwd: repoRoot, env, timeoutMs: 60_000 });
    expect(which.stdout.trim()).toBe(join(c.dir, 'node_modules', 'modelcache', 'build', 'Release', 'modelcache.node'));
    const files = ['hash', 'codec', 'cast', 'cipher', 'mmap'].map((f) => `test/${f}.test.ts`);
    const r = await run(process.execPath, [join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files], { cwd: repoRoot, env, timeoutMs: 300_000 });
    expect(r.code, failure(r)).toBe(0);
    expect(r.stdout).toMatch(/Test Files\s+5 passed/);
  });
});
