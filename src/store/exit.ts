// What must happen before the process ends, `process.exit()` included: the one 'exit' listener of
// modelcache, run before any other listener (lmdb-js closes its environments in its own), in two
// phases: producers first hand what they hold to the write queues ('drain'), then the queues are
// committed ('commit'). Everything here is synchronous: an 'exit' listener cannot wait.

export type ExitPhase = 'drain' | 'commit';

const tasks: Record<ExitPhase, Set<() => void>> = { drain: new Set(), commit: new Set() };
let installed = false;

function runAll(): void {
  for (const phase of ['drain', 'commit'] as const) {
    for (const task of [...tasks[phase]]) {
      try {
        task();
      } catch {
        /* an exiting process has nowhere to report to; the next opener repairs what is left */
      }
    }
  }
}

/**
 * Runs `task` synchronously when the process exits, in `phase`. Returns a function that removes
 * it. Call it again before opening anything that registers its own 'exit' listener, so that ours
 * stays first.
 */
export function atExit(phase: ExitPhase, task: () => void): () => void {
  tasks[phase].add(task);
  if (!installed) {
    installed = true;
    process.prependListener('exit', runAll);
  }
  return () => tasks[phase].delete(task);
}

/** Moves modelcache's 'exit' listener in front of listeners registered since (lmdb-js's). */
export function keepExitFirst(): void {
  if (!installed) return;
  process.removeListener('exit', runAll);
  process.prependListener('exit', runAll);
}
