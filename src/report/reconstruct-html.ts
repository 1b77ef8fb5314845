// A trigger reconstruction as one self-contained HTML page: each label's mask, pattern and m⊙p, and the norms chart.
import type { ReconstructResult } from '../backdoor/neural-cleanse.js';
import { triggerPngs } from '../backdoor/reconstruct-output.js';
import { MAD_CONSISTENCY } from '../backdoor/anomaly.js';
import { num, pct } from './format.js';
import { BASE_CSS, chartScripts, escapeHtml, type ChartSpec } from './html.js';

const dataUri = (png: Uint8Array) => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

/** The norm below which a label is flagged: median − threshold · 1.4826 · MAD. */
export function flagNorm(r: ReconstructResult): number {
  return r.median - r.threshold * MAD_CONSISTENCY * r.mad;
}

function normsChart(r: ReconstructResult): ChartSpec {
  const labels = r.labels.map((l) => String(l.label));
  const limit = flagNorm(r);
  return {
    id: 'norms',
    logX: false,
    logY: false,
    config: {
      type: 'bar',
      data: {
        labels,
        datasets: [
          {
            type: 'bar',
            label: '‖m‖₁ of the reconstructed trigger',
            data: r.labels.map((l) => l.l1),
            backgroundColor: r.labels.map((l) => (l.flagged ? '#c0392b' : '#2471a3')),
          },
          {
            type: 'line',
            label: `flag threshold (anomaly index ${r.threshold})`,
            data: labels.map(() => limit),
            borderColor: '#555',
            borderDash: [6, 4],
            pointRadius: 0,
            fill: false,
          },
          { type: 'line', label: 'median', data: labels.map(() => r.median), borderColor: '#999', pointRadius: 0, fill: false },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: 'Trigger size per label (labels flagged in red)' } },
        scales: { x: { title: { display: true, text: 'label' } }, y: { min: 0, title: { display: true, text: '‖m‖₁' } } },
      },
    },
  };
}

const CSS = `
${BASE_CSS}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}
.label{border:1px solid #e2e2e2;border-radius:4px;padding:8px}.label.flagged{border-color:#c0392b;box-shadow:0 0 0 1px #c0392b}
.label figure{display:inline-block;margin:4px;text-align:center}.label img{image-rendering:pixelated;width:112px;height:112px;border:1px solid #ddd}
.label figcaption{font-size:12px;color:#555}table.data td.num{text-align:right}
`;

/**
 * A reconstruction as one self-contained HTML page (Chart.js and the images inlined): the per-label table, the bar
 * chart of the norms with the flag threshold, and each label's mask, pattern and m⊙p.
 *
 * @example await writeFileAtomic('nc.html', [Buffer.from(reconstructHtml(result, 'models/lenet5-badnets.onnx'))]);
 */
export function reconstructHtml(r: ReconstructResult, modelName: string): string {
  const charts = [normsChart(r)];
  const rows = r.labels.map(
    (l) =>
      `<tr${l.flagged ? ' class="flagged"' : ''}><td>${l.label}</td><td class="num">${num(l.l1)}</td><td>${l.success ? 'yes' : 'no'}</td><td class="num">${pct(l.attackSuccess)}</td><td class="num">${l.steps}</td><td class="num">${num(l.anomalyIndex, 3)}</td><td>${l.flagged ? 'flagged' : ''}</td></tr>`,
  );
  const cards = r.labels.map((l) => {
    const png = triggerPngs(l.trigger);
    const fig = (what: string, img: Uint8Array) =>
      `<figure><img alt="${escapeHtml(`label ${l.label} ${what}`)}" src="${dataUri(img)}"><figcaption>${escapeHtml(what)}</figcaption></figure>`;
    return `<div class="label${l.flagged ? ' flagged' : ''}"><h3>label ${l.label}${l.flagged ? ' — flagged' : ''}</h3><p>‖m‖₁ ${escapeHtml(num(l.l1))}, anomaly index ${escapeHtml(num(l.anomalyIndex, 3))}</p>${fig('mask m', png.mask)}${fig('pattern p', png.pattern)}${fig('m⊙p', png.stamp)}</div>`;
  });
  const verdict = r.flagged.length ? `Flagged as backdoor target: ${r.flagged.join(', ')}.` : 'No label flagged.';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(`scalpel reconstruct: ${modelName}`)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<header><h1>Trigger reconstruction (Neural Cleanse): ${escapeHtml(modelName)}</h1><dl>`,
    `<dt>defender data</dt><dd>${escapeHtml(`${r.examples} images of ${r.source}`)}</dd>`,
    `<dt>median ‖m‖₁ / MAD</dt><dd>${escapeHtml(`${num(r.median)} / ${num(r.mad)}`)}</dd>`,
    `<dt>verdict</dt><dd id="verdict">${escapeHtml(verdict)}</dd><dt>time</dt><dd>${escapeHtml(`${r.seconds.toFixed(1)} s`)}</dd></dl></header>`,
    '<section><h2>Norms</h2><div class="charts"><div class="chart"><canvas id="norms"></canvas></div></div></section>',
    '<section><h2>Labels</h2><table class="data"><thead><tr><th>label</th><th>‖m‖₁</th><th>reached 99%</th><th>success on defender data</th><th>steps</th><th>anomaly index</th><th></th></tr></thead><tbody>',
    ...rows,
    '</tbody></table></section>',
    `<section><h2>Triggers</h2><div class="grid">${cards.join('')}</div></section>`,
    chartScripts(charts, 'reconstruct-charts'),
    '</body></html>',
    '',
  ].join('\n');
}
