// Runs one suite in this (fresh) process and sends its result to the parent over IPC, so
// suites never share a heap, a page cache warm-up or a thread pool with each other.
const [suiteName, ...flags] = process.argv.slice(2);
const quick = flags.includes('--quick');

try {
  const { default: suite } = await import(`../suites/${suiteName}.mjs`);
  const result = await suite.run({ quick });
  process.send({ ok: true, result: { suite: suite.name, title: suite.title, quick, ...result } }, () => process.exit(0));
} catch (err) {
  process.stderr.write(`suite ${suiteName} crashed: ${err?.stack ?? err}\n`);
  process.exit(1);
}
