// What the install tests need to act as a new user: the packed tarball, an empty project, and npm
// run in it against the local registry with a PATH that holds node and npm and nothing else
// (no cc, c++, make, cmake) unless a test asks for the machine's own tools. Proxies point at a
// closed loopback port, so anything that tries to reach another host fails at once.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`); never rejects for a failing command. */
export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => (stderr += String(err)));
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function which(cmd: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return realpathSync(p);
    } catch {
      /* not in this directory */
    }
  }
  throw new Error(`${cmd} is not on PATH`);
}

/**
 * A directory with node, npm, npx and sh (npm runs scripts through `sh` found on the PATH) and
 * nothing else, to stand for a machine without build tools.
 */
export function bareToolsDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const tool of ['npm', 'npx', 'sh']) symlinkSync(which(tool), join(dir, tool));
  return dir;
}

export interface Consumer {
  dir: string;
  env: NodeJS.ProcessEnv;
  npm(args: string[], timeoutMs?: number): Promise<RunResult>;
  npx(args: string[]): Promise<RunResult>;
  node(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<RunResult>;
}

/**
 * An empty project in `dir`. Nothing of this process's environment leaks into it (no npm_config_*,
 * no CC/CXX, no PREBUILDS_ONLY): HOME, the npm cache and the PATH are its own. The PATH is `tools`
 * alone, or `tools` then this machine's PATH when the test wants the build tools.
 */
export function emptyProject(dir: string, opts: { registry: string; cache: string; tools: string; buildTools?: boolean }): Consumer {
  mkdirSync(join(dir, 'home'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2)}\n`);
  const closed = 'http://127.0.0.1:9';
  const env: NodeJS.ProcessEnv = {
    PATH: opts.buildTools ? `${opts.tools}${delimiter}${process.env.PATH}` : opts.tools,
    HOME: join(dir, 'home'),
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    npm_config_registry: opts.registry,
    npm_config_cache: opts.cache,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_progress: 'false',
    HTTP_PROXY: closed,
    HTTPS_PROXY: closed,
    NO_PROXY: '127.0.0.1,localhost',
  };
  return {
    dir,
    env,
    npm: (args, timeoutMs = 300_000) => run(join(opts.tools, 'npm'), args, { cwd: dir, env, timeoutMs }),
    npx: (args) => run(join(opts.tools, 'npx'), args, { cwd: dir, env, timeoutMs: 120_000 }),
    node: (args, extraEnv = {}) => run(process.execPath, args, { cwd: dir, env: { ...env, ...extraEnv }, timeoutMs: 120_000 }),
  };
}

/** Every package directory under `dir`'s node_modules, nested ones included, by package name. */
export function installedPackages(dir: string): string[] {
  const names: string[] = [];
  const walk = (nm: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(nm);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.startsWith('.')) continue;
      if (e.startsWith('@')) {
        for (const s of readdirSync(join(nm, e))) {
          names.push(`${e}/${s}`);
          walk(join(nm, e, s, 'node_modules'));
        }
      } else {
        names.push(e);
        walk(join(nm, e, 'node_modules'));
      }
    }
  };
  walk(join(dir, 'node_modules'));
  return names;
}
