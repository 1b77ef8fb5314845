// An inject report as one self-contained HTML page: success and consistency against the budget (one line per method),
// the comparison table, and the flip matrix and changed layers of each run.
import type { InjectReport, InjectRun } from '../surgery/inject.js';
import { int, pct } from './format.js';
import { BASE_CSS, chartScripts, escapeHtml, type ChartSpec } from './html.js';
import { RUN_HEADERS, runCells } from './inject.js';

const PALETTE = ['#2471a3', '#c0392b', '#1e8449', '#8e44ad', '#d68910', '#17a589', '#566573'];

/** One line per method over the budgets it ran at (finetune: one point at k). */
function byMethod(r: InjectReport): [string, InjectRun[]][] {
  const m = new Map<string, InjectRun[]>();
  for (const run of r.runs) m.set(run.method, [...(m.get(run.method) ?? []), run]);
  return [...m.entries()].map(([k, v]) => [k, v.sort((a, b) => a.budget - b.budget)]);
}

function budgetChart(id: string, r: InjectReport, title: string, y: (run: InjectRun) => number, yLabel: string): ChartSpec {
  const budgets = [...new Set(r.runs.map((x) => x.budget))].sort((a, b) => a - b);
  return {
    id,
    logX: true,
    logY: false,
    percentY: true,
    xTicks: budgets,
    config: {
      type: 'line',
      data: {
        datasets: byMethod(r).map(([method, runs], i) => ({
          label: method,
          data: runs.map((x) => ({ x: x.budget, y: y(x) })),
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          borderWidth: 2,
          pointRadius: 4,
          showLine: runs.length > 1,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: title } },
        scales: {
          x: { type: 'logarithmic', title: { display: true, text: 'budget N (parameters allowed to change)' } },
          y: { title: { display: true, text: yLabel } },
        },
      },
    },
  };
}

function flipTable(flips: number[][]): string {
  const max = Math.max(1, ...flips.flatMap((row, i) => row.filter((_, j) => j !== i)));
  const head = `<thead><tr><th>old \\ new</th>${flips.map((_, j) => `<th>${j}</th>`).join('')}</tr></thead>`;
  const rows = flips
    .map(
      (row, i) =>
        `<tr><th>${i}</th>${row
          .map((v, j) => {
            const shade = i === j ? '#eef3f8' : v ? `rgba(192,57,43,${(0.15 + (0.75 * v) / max).toFixed(3)})` : '#fff';
            return `<td class="num" style="background:${shade}">${v || ''}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<table class="flips">${head}<tbody>${rows}</tbody></table>`;
}

function runSection(run: InjectRun, i: number): string {
  const m = run.measures;
  const flipped = m.flips.reduce((a, row, r) => a + row.reduce((b, v, c) => b + (r === c ? 0 : v), 0), 0);
  const layers = m.changed.byLayer
    .map((l) => `<tr><td>${escapeHtml(l.layer)}</td><td class="num">${int(l.count)}</td><td class="num">${int(l.size)}</td></tr>`)
    .join('');
  return [
    `<details${i === 0 ? ' open' : ''}><summary>${escapeHtml(run.method)}, N = ${escapeHtml(int(run.budget))}: success ${pct(m.success.after)}, consistency ${pct(m.consistency)}, ${int(flipped)} clean predictions flipped</summary>`,
    '<div class="run"><div><h3>Flip matrix (clean test inputs; rows: old prediction, columns: new)</h3>',
    flipTable(m.flips),
    '</div>',
    `<div><h3>Changed parameters by layer (${int(m.changed.count)})</h3><table class="data"><thead><tr><th>layer</th><th>changed</th><th>of</th></tr></thead><tbody>${layers}</tbody></table></div></div>`,
    '</details>',
  ].join('');
}

const CSS = `
${BASE_CSS}
table.data td.num,table.flips td.num{text-align:right}table.flips td{min-width:28px}
.run{display:flex;gap:32px;flex-wrap:wrap;margin:8px 0 16px}details{margin:6px 0}summary{cursor:pointer}
`;

/**
 * An inject report as one self-contained HTML page (Chart.js inlined; opens offline).
 *
 * @example await writeFileAtomic('inject.html', [Buffer.from(injectHtml(report))]);
 */
export function injectHtml(r: InjectReport): string {
  const charts: ChartSpec[] = [
    budgetChart('chart-success', r, 'Pattern success against budget', (x) => x.measures.success.after, 'pattern success (test)'),
    budgetChart('chart-consistency', r, 'Instance-wise consistency against budget', (x) => x.measures.consistency, 'clean predictions unchanged (test)'),
  ];
  const facts: [string, string][] = [
    ['model', r.model],
    ['pattern', r.description],
    ['parameters that may change', `${int(r.params.k)} (${r.params.selector}) of ${int(r.params.total || r.params.k)}`],
    [
      'data',
      `${r.data}: ${int(r.examples.patternTrain)} pattern and ${int(r.examples.cleanTrain)} clean training inputs; ${int(r.examples.cleanTest)} clean test inputs`,
    ],
    ['pattern success measured on', r.patternTest],
    ['original model', `clean accuracy ${pct(r.baseline.cleanAccuracy)}, pattern success ${pct(r.baseline.success)}`],
  ];
  const rows = r.runs
    .map(
      (x) =>
        `<tr>${runCells(x)
          .map((c, i) => `<td${i > 0 ? ' class="num"' : ''}>${escapeHtml(c)}</td>`)
          .join('')}</tr>`,
    )
    .join('');
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(`scalpel inject: ${r.model}`)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<header><h1>${escapeHtml(`Surgery on ${r.model}`)}</h1><dl>`,
    ...facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    '</dl>',
    `<details><summary>settings</summary><pre>${escapeHtml(JSON.stringify(r.settings, null, 2))}</pre></details></header>`,
    '<section id="curves"><h2>Success and side effects against the budget</h2><div class="charts">',
    ...charts.map((c) => `<div class="chart"><canvas id="${c.id}"></canvas></div>`),
    '</div></section>',
    `<section id="runs"><h2>Runs</h2><table class="data"><thead><tr>${RUN_HEADERS.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`,
    '<p class="note">Success, accuracy, consistency (share of clean test predictions unchanged) and KL on the test split only; changed parameters counted bitwise against the input model.</p></section>',
    `<section id="details"><h2>Each run</h2>${r.runs.map(runSection).join('')}</section>`,
    chartScripts(charts, 'inject-charts'),
    '</body></html>',
    '',
  ].join('\n');
}
