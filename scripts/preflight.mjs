// Checks, before a source build of the addon, that this machine has what the build needs (C and
// C++17 compilers, CMake >= 3.15, make or ninja, OpenSSL headers, cmake-js), and words what is
// missing as one short paragraph that says how to get it. Shipped in the package; used by install.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const MIN_CMAKE = [3, 15];
const win = process.platform === 'win32';

// Runs a probe; null when the program is not there at all.
function probe(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, windowsHide: true });
  return r.error ? null : r;
}

// "3.25.1" -> [3, 25, 1]; compares like version numbers.
function atLeast(version, min) {
  const v = version.split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i];
  }
  return true;
}

function checkCmake() {
  const r = probe('cmake', ['--version']);
  if (!r || r.status !== 0) return `CMake >= ${MIN_CMAKE.join('.')} (no \`cmake\` on PATH)`;
  const version = /cmake version (\d+(?:\.\d+)*)/.exec(r.stdout)?.[1];
  if (!version || !atLeast(version, MIN_CMAKE)) return `CMake >= ${MIN_CMAKE.join('.')} (found ${version ?? 'an unknown version'})`;
  return null;
}

// A compiler as CMake picks it: $CC / $CXX first, then the usual names.
function compiles(envVar, names, lang, source) {
  const fromEnv = process.env[envVar]?.trim().split(/\s+/).filter(Boolean);
  const candidates = fromEnv?.length ? [fromEnv] : names.map((n) => [n]);
  const dir = mkdtempSync(join(tmpdir(), 'modelcache-preflight-'));
  try {
    const file = join(dir, lang === 'c' ? 'probe.c' : 'probe.cc');
    writeFileSync(file, source);
    const std = lang === 'c' ? [] : ['-std=c++17'];
    return candidates.some(([cmd, ...pre]) => probe(cmd, [...pre, ...std, '-fsyntax-only', file])?.status === 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CXX17_PROBE = `#include <optional>
#include <string_view>
int main() { std::optional<std::string_view> v{"ok"}; if constexpr (sizeof(int) >= 2) return v->size() == 2 ? 0 : 1; return 1; }
`;

// Visual Studio (or its Build Tools) with the C++ workload, as found by vswhere, or cl.exe on PATH.
function hasMsvc() {
  const vswhere = join(process.env['ProgramFiles(x86)'] ?? 'C:\\Program Files (x86)', 'Microsoft Visual Studio', 'Installer', 'vswhere.exe');
  if (existsSync(vswhere)) {
    const r = probe(vswhere, ['-latest', '-products', '*', '-requires', 'Microsoft.VisualStudio.Component.VC.Tools.x86.x64', '-property', 'installationPath']);
    if (r?.status === 0 && r.stdout.trim()) return true;
  }
  return probe('cl', [])?.status === 0;
}

// The addon compiles against the OpenSSL headers that ship with Node (cmake/openssl.cmake), or the
// system's where Node has none (a Node built with a shared OpenSSL, or installed without headers).
function hasOpensslHeaders() {
  const nodeInclude = resolve(process.execPath, '..', '..', 'include', 'node');
  if (!process.config.variables.node_shared_openssl && existsSync(join(nodeInclude, 'openssl', 'evp.h'))) return true;
  if (win) return false;
  return compiles('CXX', ['c++', 'g++', 'clang++'], 'c++', '#include <openssl/evp.h>\nint main() { return 0; }\n');
}

function hasPackage(name, from) {
  try {
    createRequire(join(from, 'package.json')).resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** What the source build of the package at `root` lacks on this machine, in words (empty when nothing). */
export function missingForBuild(root) {
  const missing = [];
  if (win) {
    if (!hasMsvc()) missing.push('a C++17 compiler (Visual Studio or its Build Tools with the "Desktop development with C++" workload)');
  } else {
    if (!compiles('CC', ['cc', 'gcc', 'clang'], 'c', 'int main(void) { return 0; }\n')) missing.push('a C compiler (none of $CC, cc, gcc, clang works)');
    if (!compiles('CXX', ['c++', 'g++', 'clang++'], 'c++', CXX17_PROBE)) missing.push('a C++17 compiler (none of $CXX, c++, g++, clang++ compiles C++17)');
    if (probe('make', ['--version'])?.status !== 0 && probe('ninja', ['--version'])?.status !== 0) missing.push('make or ninja');
  }
  const cmake = checkCmake();
  if (cmake) missing.push(cmake);
  if (missing.length === 0 && !hasOpensslHeaders()) missing.push('the OpenSSL 3 headers (Node has none here)');
  for (const pkg of ['cmake-js', 'node-addon-api']) {
    if (!hasPackage(pkg, root)) missing.push(`the npm package ${pkg} (reinstall modelcache without --omit or --no-optional flags)`);
  }
  return missing;
}

/** One paragraph: why a build is needed, what is missing, how to get it on each platform, what to run then. */
export function missingMessage(reason, missing) {
  return [
    `modelcache: ${reason}, so its native addon must be built from source, which needs a C and C++17 compiler,`,
    `CMake >= ${MIN_CMAKE.join('.')} and make or ninja. Missing here: ${missing.join('; ')}.`,
    'Debian/Ubuntu: `sudo apt-get install build-essential cmake libssl-dev`;',
    'macOS: `xcode-select --install` and `brew install cmake`;',
    'Windows: Visual Studio Build Tools with the "Desktop development with C++" workload (it includes CMake).',
    'Then run `npm rebuild modelcache`.',
  ].join(' ');
}
