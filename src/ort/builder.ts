// The builder child process of modelcache/ort: receives one BuildJob over IPC, builds the entry
// into the work folder the parent named, reports the result and exits. It never touches the cache
// itself: the parent publishes the files, holding the key's lock. When the parent goes away first
// (it exited), there is nobody to publish to: the builder ends at once.
import { buildEntry, BuildError, type BuildJob } from './build.js';

/** Test-only: the builder kills itself when it reaches this stage ('saving' or 'validating'). */
export const TEST_BUILDER_CRASH_ENV = 'MODELCACHE_ORT_TEST_BUILDER_CRASH';

process.on('disconnect', () => process.exit(0));

process.once('message', (job: BuildJob) => {
  void (async () => {
    let reply: unknown;
    try {
      // Each stage reaches the parent before the work it names starts: a crash is attributed to it.
      const result = await buildEntry(job, (stage) => new Promise<void>((resolve) => {
        process.send?.({ type: 'stage', stage }, () => {
          if (process.env[TEST_BUILDER_CRASH_ENV] === stage) process.kill(process.pid, 'SIGKILL');
          resolve();
        });
      }));
      reply = { type: 'result', ok: true, ...result };
    } catch (err) {
      const reason = err instanceof BuildError ? err.message : `the entry could not be built (${String((err as Error)?.message ?? err).split('\n')[0]})`;
      reply = { type: 'result', ok: false, reason };
    }
    process.send?.(reply, () => process.exit(0));
  })();
});
