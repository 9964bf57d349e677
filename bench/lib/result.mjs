// The shape of a suite's result: groups of cases measured side by side (one of them the
// baseline), each case with per-metric samples, medians and ratios, plus targets.
import { median } from './measure.mjs';

/**
 * A table of cases. `columns`: [{ key, label, unit, better: 'higher' | 'lower', digits }].
 * Ratios are "times better than the baseline": value/base for higher-is-better metrics,
 * base/value for lower-is-better ones, so > 1 always means ahead of the baseline.
 */
export function createGroup(name, { baseline, columns, note }) {
  return { name, baseline, columns, note, cases: [] };
}

/** Adds a case from its samples: { metricKey: number[] }. */
export function addCase(group, name, samples) {
  const metrics = {};
  for (const col of group.columns) {
    const xs = samples[col.key];
    if (!xs || xs.length === 0) continue;
    metrics[col.key] = { samples: xs, median: median(xs), unit: col.unit, ratio: null };
  }
  group.cases.push({ name, metrics });
}

/** Adds every case of a measureRounds() result, in order. */
export function addCases(group, measured) {
  for (const [name, samples] of measured) addCase(group, name, samples);
}

/** Fills in each metric's ratio against the group's baseline case. */
export function finishGroup(group) {
  const base = group.cases.find((c) => c.name === group.baseline);
  if (!base) throw new Error(`group ${group.name}: baseline ${group.baseline} was not measured`);
  for (const col of group.columns) {
    const b = base.metrics[col.key]?.median;
    for (const c of group.cases) {
      const m = c.metrics[col.key];
      if (!m || !b) continue;
      m.ratio = col.better === 'lower' ? b / m.median : m.median / b;
    }
  }
  return group;
}

/** Median of one metric of one case in a finished group. */
export function medianOf(group, caseName, key) {
  const c = group.cases.find((x) => x.name === caseName);
  const m = c?.metrics[key];
  if (!m) throw new Error(`group ${group.name}: no ${key} for ${caseName}`);
  return m.median;
}

/** A target: `actual` (a ratio) must reach `target`. Information, never a gate. */
export function target(name, actual, goal, detail) {
  return { name, actual, target: goal, pass: actual >= goal, detail };
}
