// `--baseline <git-rev>`: builds that revision in a temporary git worktree under the system temp
// dir (its node_modules a symlink to ours when our lockfile pins every package of its lockfile
// identically, else `npm ci` there),
// so a suite can measure both builds in fresh processes of one run; then pairs their medians.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function git(repo, args, opts = {}) {
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts }).trim();
}

function run(cmd, args, cwd) {
  console.log(`   $ ${cmd} ${args.join(' ')}   (in ${cwd})`);
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** True when every package locked in `dir` is locked at the same version and integrity in `ours`. */
function lockIncluded(dir, ours) {
  const read = (d) => JSON.parse(readFileSync(path.join(d, 'package-lock.json'), 'utf8')).packages ?? {};
  const theirs = read(dir);
  const mine = read(ours);
  return Object.entries(theirs).every(([name, p]) => name === '' || (mine[name] && mine[name].version === p.version && mine[name].integrity === p.integrity));
}

/**
 * A built checkout of `rev` (dist/ and the addon), reused when it is already there. Returns
 * { root, sha, rev }.
 */
export function prepareBaseline(repo, rev) {
  let sha;
  try {
    sha = git(repo, ['rev-parse', '--verify', `${rev}^{commit}`]);
  } catch {
    throw new Error(`--baseline ${rev}: not a commit of ${repo}`);
  }
  const root = path.join(os.tmpdir(), `modelcache-baseline-${sha.slice(0, 12)}`);
  const built = () => existsSync(path.join(root, 'dist', 'index.js')) && existsSync(path.join(root, 'build', 'Release'));
  if (existsSync(root) && built()) {
    console.log(`baseline ${rev} (${sha.slice(0, 12)}): reusing the build in ${root}`);
    return { root, sha, rev };
  }
  console.log(`baseline ${rev} (${sha.slice(0, 12)}): building in ${root}`);
  if (existsSync(root)) {
    try {
      git(repo, ['worktree', 'remove', '--force', root]);
    } catch {
      rmSync(root, { recursive: true, force: true });
    }
  }
  git(repo, ['worktree', 'prune']);
  git(repo, ['worktree', 'add', '--detach', root, sha]);
  const shareOurs = () => {
    symlinkSync(path.join(repo, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    run('npx', ['cmake-js', 'compile', '--out', 'build'], root);
    run('npx', ['tsc', '-p', 'tsconfig.json'], root);
  };
  if (lockIncluded(root, repo) && existsSync(path.join(repo, 'node_modules'))) {
    shareOurs(); // same dependencies (ours may have more): build only this revision's own code
  } else {
    try {
      run('npm', ['ci'], root); // its install script builds the addon, `prepare` builds dist/
    } catch (err) {
      // An old lockfile the registry can no longer satisfy: measure it with our dependencies.
      console.warn(`   ! npm ci failed at ${rev} (${err.message.split('\n')[0]}); using this checkout's node_modules instead`);
      rmSync(path.join(root, 'node_modules'), { recursive: true, force: true });
      shareOurs();
    }
  }
  if (!built()) throw new Error(`--baseline ${rev}: the build in ${root} did not produce dist/ and build/Release`);
  return { root, sha, rev };
}

/**
 * Pairs every metric of `current` with the same group, case and metric of `base`: medians side
 * by side and the ratio "current vs baseline" (> 1: the current build is better, as elsewhere).
 */
export function compareResults(base, current) {
  const rows = [];
  for (const g of current.groups) {
    const bg = base.groups.find((x) => x.name === g.name);
    for (const c of g.cases) {
      const bc = bg?.cases.find((x) => x.name === c.name);
      for (const col of g.columns) {
        const m = c.metrics[col.key];
        const b = bc?.metrics[col.key];
        if (!m) continue;
        const ratio = b && m.median ? (col.better === 'lower' ? b.median / m.median : m.median / b.median) : null;
        rows.push({ group: g.name, case: c.name, metric: col.label, unit: col.unit, baseline: b?.median ?? null, current: m.median, ratio });
      }
    }
  }
  return rows;
}
