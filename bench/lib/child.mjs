// Runs one suite in this (fresh) process and sends its result to the parent over IPC, so
// suites never share a heap, a page cache warm-up or a thread pool with each other.
// Signals end the process through exit handlers, so temp files are removed.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const [suiteName, ...flags] = process.argv.slice(2);
const quick = flags.includes('--quick');
// --root <dir>: the build of modelcache to measure (a baseline checkout); default this one.
const rootAt = flags.indexOf('--root');
const root = rootAt >= 0 ? flags[rootAt + 1] : undefined;

try {
  const { default: suite } = await import(`../suites/${suiteName}.mjs`);
  const result = await suite.run({ quick, ...(root ? { root } : {}) });
  const message = { ok: true, result: { suite: suite.name, title: suite.title, quick, ...result } };
  // Run by hand (no IPC channel), e.g. to profile one suite: print the result instead.
  if (process.send) process.send(message, () => process.exit(0));
  else process.stdout.write(`${JSON.stringify(message.result, null, 2)}\n`, () => process.exit(0));
} catch (err) {
  process.stderr.write(`suite ${suiteName} crashed: ${err?.stack ?? err}\n`);
  process.exit(1);
}
