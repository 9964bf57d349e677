// bench/results/report.html: one self-contained page (inline CSS bars, no scripts, no external
// resources) built from every bench/results/<suite>.json present.
import { num, ratio } from './format.mjs';
import { loadWarning } from './table.mjs';

const esc = (s) => String(s).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]);

const gib = (b) => `${(b / 2 ** 30).toFixed(1)} GiB`;

function isOurs(name) {
  return name.startsWith('modelcache');
}

function bars(group, col) {
  const cases = group.cases.filter((c) => c.metrics[col.key]);
  const max = Math.max(...cases.map((c) => c.metrics[col.key].median));
  const rows = cases.map((c) => {
    const m = c.metrics[col.key];
    const pct = max > 0 ? Math.max(0.5, (m.median / max) * 100) : 0;
    const cls = c.name === group.baseline ? 'base' : isOurs(c.name) ? 'ours' : 'peer';
    const lo = Math.min(...m.samples);
    const hi = Math.max(...m.samples);
    const title = `${c.name}: median ${num(m.median)} ${col.unit}, range ${num(lo)}–${num(hi)}, n=${m.samples.length}`;
    return `<div class="row" title="${esc(title)}"><span class="name">${esc(c.name)}</span><span class="track"><span class="bar ${cls}" style="width:${pct.toFixed(2)}%"></span></span><span class="val">${esc(num(m.median))} <small>${esc(ratio(m.ratio))}</small></span></div>`;
  });
  const hint = col.better === 'lower' ? 'lower is better' : 'higher is better';
  return `<figure><figcaption>${esc(col.label)} (${esc(col.unit)}) — ${hint}</figcaption>${rows.join('')}</figure>`;
}

function table(group) {
  const head = group.columns.map((c) => `<th>${esc(c.label)} (${esc(c.unit)})</th><th>vs base</th>`).join('');
  const body = group.cases
    .map((c) => {
      const cells = group.columns
        .map((col) => {
          const m = c.metrics[col.key];
          return m ? `<td>${esc(num(m.median))}</td><td>${esc(ratio(m.ratio))}</td>` : '<td>-</td><td>-</td>';
        })
        .join('');
      const n = Math.max(...group.columns.map((col) => c.metrics[col.key]?.samples.length ?? 0));
      const name = c.name === group.baseline ? `${esc(c.name)} <em>(baseline)</em>` : esc(c.name);
      return `<tr><td class="l">${name}</td>${cells}<td>${n}</td></tr>`;
    })
    .join('');
  return `<table><thead><tr><th class="l">case</th>${head}<th>n</th></tr></thead><tbody>${body}</tbody></table>`;
}

function suiteSection(r) {
  const hw = r.hardware;
  const targets = (r.targets ?? [])
    .map((t) => `<li class="${t.pass ? 'pass' : 'fail'}"><b>${t.pass ? 'met' : 'missed'}</b> ${esc(t.name)}: ${esc(ratio(t.actual))} (target ≥ ${esc(ratio(t.target))})${t.detail ? ` <small>${esc(t.detail)}</small>` : ''}</li>`)
    .join('');
  const groups = r.groups
    .map((g) => `<section class="group"><h3>${esc(g.name)}</h3>${g.note ? `<p class="note">${esc(g.note)}</p>` : ''}<div class="charts">${g.columns.map((c) => bars(g, c)).join('')}</div>${table(g)}</section>`)
    .join('');
  return `<section class="suite" id="${esc(r.suite)}">
<h2>${esc(r.suite)} <small>${esc(r.title)}</small></h2>
<p class="meta">${esc(r.date)} · ${esc(hw.cpu)} · ${hw.cores} cores · ${esc(gib(hw.ramBytes))} RAM · Node ${esc(hw.node)} · ${esc(hw.platform)} · ${esc(Math.round(r.durationSec ?? 0))} s${r.load ? ` · load ${esc(r.load.before.toFixed(1))} → ${esc(r.load.after.toFixed(1))}` : ''}${r.quick ? ' · <b>--quick</b>' : ''}</p>
${(r.notes ?? []).map((n) => `<p class="note">${esc(n)}</p>`).join('')}
${loadWarning(r) ? `<p class="warn">${esc(loadWarning(r))}</p>` : ''}
${targets ? `<ul class="targets">${targets}</ul>` : ''}
${groups}
</section>`;
}

export function renderReport(results) {
  const nav = results.map((r) => `<a href="#${esc(r.suite)}">${esc(r.suite)}</a>`).join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>modelcache benchmarks</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d232a;background:#fff}
h1{margin:0 0 .2rem}h2{border-bottom:2px solid #e3e7ec;padding-bottom:.2rem;margin-top:2.5rem}h2 small{font-weight:normal;color:#5b6672}
h3{margin:1.4rem 0 .4rem}.meta,.note{color:#5b6672;margin:.2rem 0}.warn{background:#fff6e0;padding:.3rem .6rem;border-radius:4px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:1rem}
figure{margin:0;padding:.6rem .8rem;border:1px solid #e3e7ec;border-radius:6px}figcaption{font-weight:600;margin-bottom:.4rem}
.row{display:grid;grid-template-columns:11.5rem 1fr 6.5rem;align-items:center;gap:.5rem;margin:.15rem 0;font-size:12.5px}
.name{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}.track{background:#f1f3f5;height:14px;border-radius:3px;overflow:hidden}
.bar{display:block;height:100%}.bar.ours{background:#2f6fdf}.bar.peer{background:#9aa5b1}.bar.base{background:#e08a2c}
.val{text-align:right;font-variant-numeric:tabular-nums}.val small{color:#5b6672}
table{border-collapse:collapse;margin:.8rem 0;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .6rem;border-bottom:1px solid #e3e7ec;text-align:right}th.l,td.l{text-align:left}
ul.targets{list-style:none;padding:0}ul.targets li{margin:.2rem 0;padding:.3rem .6rem;border-radius:4px}
li.pass{background:#e7f6ea}li.fail{background:#fdecea}li b{display:inline-block;width:4rem}
.legend span{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin:0 .3rem 0 1rem;vertical-align:middle}
</style></head><body>
<h1>modelcache benchmarks</h1>
<p class="meta">Medians of several runs; each suite ran in its own process and measured its peers and baseline in the same run. Ratios: &gt; 1 means better than the baseline. Targets are information, not a gate.</p>
<p class="legend">${nav}<span style="background:#2f6fdf"></span>modelcache<span style="background:#9aa5b1"></span>peer<span style="background:#e08a2c"></span>baseline</p>
${results.map(suiteSection).join('\n')}
</body></html>
`;
}
