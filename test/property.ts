// Settings of the property-based (differential) suites: a fixed seed and a run count that keeps
// `npm test` well under a minute. MODELCACHE_PROPERTY_RUNS=N runs the main properties N times
// (default 150) and scales the smaller ones with it; MODELCACHE_PROPERTY_SEED picks another seed.
const DEFAULT_RUNS = 150;

/** fast-check parameters for a property that runs `ciRuns` times by default. */
export function propertyRuns(ciRuns: number): { seed: number; numRuns: number } {
  const asked = Number(process.env.MODELCACHE_PROPERTY_RUNS ?? DEFAULT_RUNS);
  const scale = Number.isFinite(asked) && asked > 0 ? asked / DEFAULT_RUNS : 1;
  const seed = Number(process.env.MODELCACHE_PROPERTY_SEED ?? 0x5eed);
  return { seed, numRuns: Math.max(1, Math.round(ciRuns * scale)) };
}
