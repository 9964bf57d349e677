// Console output of a suite: one table per group (median and ratio to the baseline for each
// metric), then the targets.
import { num, ratio } from './format.mjs';

function pad(s, w, right) {
  return right ? s.padStart(w) : s.padEnd(w);
}

function renderRows(rows, rightAligned) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => pad(cell, widths[i], rightAligned[i])).join('  ').trimEnd());
}

export function groupTable(group) {
  const header = ['case'];
  const right = [false];
  for (const col of group.columns) {
    header.push(`${col.label} (${col.unit})`, `vs base`);
    right.push(true, true);
  }
  header.push('n');
  right.push(true);
  const rows = [header];
  for (const c of group.cases) {
    const row = [c.name === group.baseline ? `${c.name} *` : c.name];
    let n = 0;
    for (const col of group.columns) {
      const m = c.metrics[col.key];
      row.push(m ? num(m.median) : '-', m ? ratio(m.ratio) : '-');
      n = Math.max(n, m?.samples.length ?? 0);
    }
    row.push(String(n));
    rows.push(row);
  }
  const lines = renderRows(rows, right);
  const rule = '-'.repeat(Math.max(...lines.map((l) => l.length)));
  return [lines[0], rule, ...lines.slice(1)].map((l) => `  ${l}`).join('\n');
}

/** A sentence when other processes kept the CPUs busy during the suite, else null. */
export function loadWarning(result) {
  const load = Math.max(result.load?.before ?? 0, result.load?.after ?? 0);
  const cores = result.hardware?.cores ?? 1;
  if (load < cores * 0.5) return null;
  return `load average was ${load.toFixed(1)} on ${cores} cores while this suite ran: other processes competed for the CPUs, so figures are noisy (ratios, measured side by side, hold up better than absolute numbers).`;
}

export function printSuite(result, out = process.stdout) {
  const w = (s = '') => out.write(`${s}\n`);
  w();
  w(`== ${result.suite}: ${result.title}${result.quick ? '  [--quick]' : ''}`);
  for (const note of result.notes ?? []) w(`   ${note}`);
  const warn = loadWarning(result);
  if (warn) w(`   ! ${warn}`);
  for (const g of result.groups) {
    w();
    w(`-- ${g.name}   (* = baseline; "vs base" > 1 means better than ${g.baseline})`);
    if (g.note) w(`   ${g.note}`);
    w(groupTable(g));
  }
  if (result.targets?.length) {
    w();
    w('   targets:');
    for (const t of result.targets) {
      w(`   [${t.pass ? 'MET ' : 'MISS'}] ${t.name}: ${ratio(t.actual)} (target >= ${ratio(t.target)})${t.detail ? `  ${t.detail}` : ''}`);
    }
  }
}

/** The medians of the current build beside those of a baseline build (`--baseline`). */
export function printComparison(suite, baseline, rows, out = process.stdout) {
  const w = (s = '') => out.write(`${s}\n`);
  w();
  w(`-- ${suite}: this build vs ${baseline.rev} (${baseline.sha.slice(0, 12)}), each in fresh processes of this run`);
  const table = [['group / case', 'metric', baseline.rev, 'this build', 'vs baseline']];
  for (const r of rows) {
    table.push([`${r.group.split(':')[0]} / ${r.case}`, `${r.metric} (${r.unit})`, num(r.baseline), num(r.current), ratio(r.ratio)]);
  }
  const lines = renderRows(table, [false, false, true, true, true]);
  w(`  ${lines[0]}`);
  w(`  ${'-'.repeat(Math.max(...lines.map((l) => l.length)))}`);
  for (const l of lines.slice(1)) w(`  ${l}`);
  w('  ("vs baseline" > 1 means this build is better)');
}
