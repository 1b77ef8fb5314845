// A repair as one self-contained HTML page: ACC, ASR and RA before and after as a chart and a table, and the facts.
import type { RepairReport } from '../backdoor/repair.js';
import { int, pct } from './format.js';
import { BASE_CSS, chartScripts, escapeHtml, type ChartSpec } from './html.js';

function metricsChart(r: RepairReport): ChartSpec {
  const keys = (['acc', 'asr', 'ra'] as const).filter((k) => r.before[k] !== undefined);
  const names = { acc: 'ACC (clean accuracy)', asr: 'ASR (attack success)', ra: 'RA (robust accuracy)' };
  return {
    id: 'metrics',
    logX: false,
    logY: false,
    percentY: true,
    config: {
      type: 'bar',
      data: {
        labels: keys.map((k) => names[k]),
        datasets: [
          { label: 'before', data: keys.map((k) => r.before[k]), backgroundColor: '#c0392b' },
          { label: 'after', data: keys.map((k) => r.after?.[k] ?? null), backgroundColor: '#2471a3' },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: `repair --method ${r.method}` } },
        scales: { y: { min: 0, max: 1 } },
      },
    },
  };
}

/**
 * A repair report as one self-contained HTML page (Chart.js inlined).
 *
 * @example await writeFileAtomic('repair.html', [Buffer.from(repairHtml(report, 'models/lenet5-badnets.onnx'))]);
 */
export function repairHtml(r: RepairReport, modelName: string): string {
  const share = (x: number | undefined) => (x === undefined ? '—' : pct(x));
  const facts: [string, string][] = [
    ['model', modelName],
    ['method', r.method + (r.oracle ? " (ORACLE: the attacker's trigger was given to the defence)" : '')],
    ['defender data', `${r.defender.train} training + ${r.defender.validation} validation images of ${r.defender.source}`],
    ['triggers used', r.triggerSource === 'none' ? 'none' : `${r.triggerSource}, label(s) ${r.triggerLabels.join(', ')}`],
    ['measured with', r.measuredWith ? `${r.measuredWith.trigger} -> ${r.measuredWith.target} (measurement only)` : 'clean accuracy only'],
    ['DER', r.der === undefined ? '—' : r.der.toFixed(4)],
    ['parameters changed', r.changedParams === undefined ? '—' : `${int(r.changedParams)} of ${int(r.totalParams ?? 0)}`],
    ['time', `${r.seconds.toFixed(1)} s`],
    ['output', r.completed ? (r.out ?? 'not written') : 'interrupted: nothing written'],
  ];
  if (r.command) facts.push(['command', r.command]);
  const rows = (['before', 'after'] as const).map(
    (k) => `<tr><td>${k}</td><td class="num">${share(r[k]?.acc)}</td><td class="num">${share(r[k]?.asr)}</td><td class="num">${share(r[k]?.ra)}</td></tr>`,
  );
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(`scalpel repair --method ${r.method}: ${modelName}`)}</title>`,
    `<style>${BASE_CSS}\ntable.data td.num{text-align:right}</style></head><body>`,
    `<header><h1>Backdoor repair: ${escapeHtml(r.method)}${r.oracle ? ' (oracle)' : ''}</h1><dl>`,
    ...facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    '</dl></header>',
    '<section><h2>Before and after</h2><table class="data" id="metrics-table"><thead><tr><th></th><th>ACC</th><th>ASR</th><th>RA</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table>',
    '<div class="charts"><div class="chart"><canvas id="metrics"></canvas></div></div></section>',
    `<section><h2>Details</h2><pre>${escapeHtml(JSON.stringify(r.details, null, 2))}</pre></section>`,
    chartScripts([metricsChart(r)], 'repair-charts'),
    '</body></html>',
    '',
  ].join('\n');
}
