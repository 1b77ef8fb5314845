// A locate report as one self-contained HTML page: the ablation curves of every layer tried and where the located weights sit.
import type { LocateErrorsResult } from '../lancet/locate-errors.js';
import type { LayerLocation } from '../lancet/locate.js';
import { num, pct } from './format.js';
import { BASE_CSS, chartScripts, escapeHtml, type ChartSpec } from './html.js';

const PALETTE = ['#c0392b', '#2471a3', '#27ae60', '#8e44ad', '#e67e22', '#16a085', '#7f8c8d', '#d35400', '#2c3e50', '#f1c40f'];

/** Share of pairs fixed at or below each ratio: the cumulative distribution of the smallest fixing ratios. */
export function ablationCurve(l: Pick<LayerLocation, 'ratios' | 'pairs'>): { x: number; y: number }[] {
  const rs = l.ratios.filter((r): r is number => r !== null).sort((a, b) => a - b);
  const out: { x: number; y: number }[] = [];
  rs.forEach((r, i) => {
    if (i + 1 < rs.length && rs[i + 1] === r) return;
    out.push({ x: r, y: (i + 1) / l.pairs });
  });
  return out;
}

function curveChart(r: LocateErrorsResult): ChartSpec {
  return {
    id: 'ablation',
    logX: true,
    logY: false,
    percentY: true,
    config: {
      type: 'line',
      data: {
        datasets: r.layers.map((l, i) => ({
          label: `${l.layer}${l.layer === r.chosen ? ' (chosen)' : ''}`,
          data: ablationCurve(l),
          stepped: true,
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          borderWidth: l.layer === r.chosen ? 3 : 1.5,
          pointRadius: 2,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: 'Share of pairs fixed against the share of the layer zeroed' } },
        scales: {
          x: { type: 'logarithmic', title: { display: true, text: "ratio of the layer's weights zeroed (top IV)" } },
          y: { min: 0, max: 1, title: { display: true, text: 'pairs fixed' } },
        },
      },
    },
  };
}

/** Located weights of the chosen layer as bubbles at (input, output) unit, their area the count (conv: summed over the kernel). */
function positionChart(r: LocateErrorsResult): ChartSpec {
  const f = r.file;
  const [out, inp] = f.shape;
  const per = f.shape.slice(2).reduce((a, b) => a * b, 1);
  const cells = new Map<number, number>();
  for (const w of f.weights) {
    const unit = Math.floor(w.index / per);
    cells.set(unit, (cells.get(unit) ?? 0) + w.count);
  }
  const max = Math.max(1, ...cells.values());
  const data = [...cells].map(([unit, c]) => ({ x: unit % inp, y: Math.floor(unit / inp), r: 2 + 10 * Math.sqrt(c / max), count: c }));
  return {
    id: 'positions',
    logX: false,
    logY: false,
    config: {
      type: 'bubble',
      data: {
        datasets: [{ label: `located weights of ${f.param} (area: times located)`, data, backgroundColor: 'rgba(192,57,43,0.55)', borderColor: '#c0392b' }],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: `Where the located weights sit in ${f.param} [${f.shape.join(', ')}]` } },
        scales: {
          x: { min: -1, max: inp, title: { display: true, text: per > 1 ? 'input channel' : 'input unit' } },
          y: { min: -1, max: out, reverse: true, title: { display: true, text: per > 1 ? 'output channel' : 'output unit' } },
        },
      },
    },
  };
}

/**
 * A locate result as one self-contained HTML page (Chart.js inlined; opens offline).
 *
 * @example writeFileSync('located.html', locateHtml(await locateErrors(model, opts)));
 */
export function locateHtml(r: LocateErrorsResult): string {
  const f = r.file;
  const charts = [curveChart(r), positionChart(r)];
  const rows = r.layers.map(
    (l) =>
      `<tr${l.layer === r.chosen ? ' class="chosen"' : ''}><td>${escapeHtml(l.layer)}</td><td>${l.size}</td><td>${l.fixed}/${l.pairs}</td><td>${l.meanRatio === null ? '-' : pct(l.meanRatio)}</td><td>${l.weights.length}</td><td>${num(l.seconds, 3)} s</td></tr>`,
  );
  const top = f.weights.slice(0, 50).map((w) => `<tr><td>${w.index}</td><td>${w.count}</td></tr>`);
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(`scalpel locate: ${f.model}`)}</title>`,
    `<style>${BASE_CSS}\ntr.chosen td{font-weight:600}.oracle{color:#c0392b;font-weight:700}</style></head><body>`,
    `<header><h1>scalpel locate: ${escapeHtml(f.model)}</h1>`,
    r.oracle ? '<p class="oracle">ORACLE: these errors come from the attacker\'s own trigger, not from what a defender could know.</p>' : '',
    '<dl>',
    `<dt>errors</dt><dd>${escapeHtml(r.source)}</dd>`,
    `<dt>defender data</dt><dd>${escapeHtml(r.defender)}</dd>`,
    `<dt>pairs</dt><dd>${f.pairs} used of ${r.available}</dd>`,
    `<dt>chosen layer</dt><dd>${escapeHtml(f.layer)} (${escapeHtml(f.param)}), ${f.weights.length} weights located</dd>`,
    `<dt>search</dt><dd>${escapeHtml(r.search)}</dd>`,
    `<dt>time</dt><dd>${num(r.seconds, 3)} s</dd>`,
    '</dl></header>',
    '<section><h2>Ablation and placement</h2><div class="charts">',
    ...charts.map((c) => `<div class="chart"><canvas id="${c.id}"></canvas></div>`),
    '</div></section>',
    '<section><h2>Layers tried</h2><table class="data"><thead><tr><th>layer</th><th>weights</th><th>pairs fixed</th><th>mean ratio</th><th>located</th><th>time</th></tr></thead><tbody>',
    ...rows,
    '</tbody></table></section>',
    `<section><h2>Most often located weights of ${escapeHtml(f.param)}</h2><table class="data"><thead><tr><th>index</th><th>count</th></tr></thead><tbody>`,
    ...top,
    '</tbody></table></section>',
    chartScripts(charts, 'locate-charts'),
    '</body></html>',
    '',
  ].join('\n');
}
