// A hardening report as one self-contained HTML page: both models' accuracy against ε for p = 2 and p = ∞, the
// comparison table, and the training summary.
import type { HardenReport } from '../corruption/harden.js';
import { epsText, int, normText, num, pct } from './format.js';
import { points } from './harden.js';
import { BASE_CSS, chartScripts, escapeHtml, type ChartSpec } from './html.js';

const COLORS = { baseline: '#c0392b', hardened: '#2471a3' };

/** One point of a line: a corruption setting and the accuracy and loss a model kept under it. */
interface Point {
  norm: number | 'inf';
  n: number;
  eps: number;
  accuracy: number;
  loss: number;
}

/** Groups points by (norm, n) in first-appearance order, each group sorted by ε. */
function byNorm(points: Point[]): Point[][] {
  const out = new Map<string, Point[]>();
  for (const p of points) {
    const k = `${normText(p.norm)}|${p.n}`;
    out.set(k, [...(out.get(k) ?? []), p]);
  }
  return [...out.values()].map((ps) => ps.sort((a, b) => a.eps - b.eps));
}

/** Accuracy against ε (log axis, ticks at the swept ε) for one norm: one line per model. */
function accuracyChart(id: string, lines: { label: string; color: string; points: Point[] }[]): ChartSpec {
  const first = lines[0].points[0];
  const eps = [...new Set(lines.flatMap((l) => l.points.map((p) => p.eps)))].sort((a, b) => a - b);
  return {
    id,
    logX: true,
    logY: false,
    percentY: true,
    xTicks: eps,
    config: {
      type: 'line',
      data: {
        datasets: lines.map((l) => ({
          label: l.label,
          data: l.points.map((p) => ({ x: p.eps, y: p.accuracy })),
          borderColor: l.color,
          backgroundColor: l.color,
          borderWidth: 2,
          pointRadius: 3,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { title: { display: true, text: `Accuracy under gradient-based corruption (p = ${normText(first.norm)}, n = ${int(first.n)})` } },
        scales: {
          x: { type: 'logarithmic', title: { display: true, text: 'ε (corruption size)' } },
          y: { min: 0, max: 1, title: { display: true, text: 'accuracy after corruption' } },
        },
      },
    },
  };
}

const row = (cells: string[], numFrom: number, cls = '') =>
  `<tr${cls ? ` class="${cls}"` : ''}>${cells.map((c, i) => `<td${i >= numFrom ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`;
const headRow = (cells: string[]) => `<thead><tr>${cells.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>`;

function header(r: HardenReport): string {
  const c = r.comparison;
  const facts: [string, string][] = [];
  if (c) facts.push(['baseline model', c.baselineName]);
  facts.push(['hardened model', `${r.out} (${r.start === 'fine-tuned' ? 'the input model fine-tuned' : `${r.start} trained from scratch`})`]);
  facts.push(['parameters hardened', `${int(r.method.k)} (${r.method.params})`]);
  if (c) {
    facts.push(['clean accuracy', `baseline ${pct(c.clean.baseline.accuracy)}, hardened ${pct(c.clean.hardened.accuracy)} (${points(c.clean.gain)} points)`]);
  } else if (r.sweep) {
    facts.push(['clean accuracy', `hardened ${pct(r.sweep.clean.accuracy)}`]);
  } else if (r.test) {
    facts.push(['test accuracy', `${pct(r.test.accuracy)} (${int(r.test.examples)} examples)`]);
  }
  const side = c?.hardened ?? r.sweep;
  if (c) {
    const n = c.rows[0]?.n;
    facts.push([
      'corruption sweep',
      `gradient-based, n = ${c.settings.n}${n !== undefined ? ` (${int(n)} parameters)` : ''}, on ${int(c.examples)} test examples of ${c.data}; each model's gradient taken on the same examples`,
    ]);
  } else if (side) {
    facts.push(['corruption sweep', `gradient-based, on ${int(side.gradient.examples)} test examples; the gradient taken on the same examples`]);
  }
  const title = c ? `Hardened ${r.out} against the baseline ${c.baselineName}` : `Hardened ${r.out}`;
  const settings = { method: r.method, start: r.start, ...(c ? { sweep: c.settings } : {}) };
  return [
    `<header><h1>${escapeHtml(title)}</h1>`,
    `<p class="method">${escapeHtml(r.method.description)}</p>`,
    '<dl>',
    ...facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    '</dl>',
    `<details><summary>settings</summary><pre>${escapeHtml(JSON.stringify(settings, null, 2))}</pre></details>`,
    '</header>',
  ].join('');
}

/** The charts, one per norm, and the table: baseline against hardened, or the hardened model alone. */
function sweepSections(r: HardenReport, charts: ChartSpec[]): string {
  const c = r.comparison;
  const out: string[] = [];
  let table: string;
  if (c) {
    const baseline = byNorm(c.rows.map((x) => ({ norm: x.norm, n: x.n, eps: x.eps, ...x.baseline })));
    const hardened = byNorm(c.rows.map((x) => ({ norm: x.norm, n: x.n, eps: x.eps, ...x.hardened })));
    baseline.forEach((b, i) =>
      charts.push(
        accuracyChart(`chart-${i}`, [
          { label: `baseline (${c.baselineName})`, color: COLORS.baseline, points: b },
          { label: `hardened (${r.out})`, color: COLORS.hardened, points: hardened[i] },
        ]),
      ),
    );
    const rows = [
      row(
        [
          'clean',
          '–',
          pct(c.clean.baseline.accuracy),
          pct(c.clean.hardened.accuracy),
          points(c.clean.gain),
          num(c.clean.baseline.loss),
          num(c.clean.hardened.loss),
        ],
        1,
        'clean',
      ),
    ];
    for (const x of c.rows) {
      rows.push(
        row(
          [
            `p = ${normText(x.norm)}`,
            epsText(x.eps),
            pct(x.baseline.accuracy),
            pct(x.hardened.accuracy),
            points(x.gain),
            num(x.baseline.loss),
            num(x.hardened.loss),
          ],
          1,
          x.gain >= 0 ? 'up' : 'down',
        ),
      );
    }
    const mean = c.rows.length ? c.rows.reduce((a, x) => a + x.gain, 0) / c.rows.length : undefined;
    table = [
      '<section id="comparison"><h2>Comparison</h2>',
      '<table class="data">',
      headRow(['corruption', 'ε', 'baseline', 'hardened', 'gain (points)', 'loss before', 'loss after']),
      '<tbody>',
      ...rows,
      '</tbody></table>',
      mean !== undefined
        ? `<p class="note">Mean accuracy gain under corruption ${escapeHtml(points(mean))} points; clean accuracy ${escapeHtml(points(c.clean.gain))} points.</p>`
        : '',
      '</section>',
    ].join('');
  } else if (r.sweep) {
    const s = r.sweep;
    byNorm(s.records.filter((x) => x.group === undefined)).forEach((ps, i) =>
      charts.push(accuracyChart(`chart-${i}`, [{ label: `hardened (${r.out})`, color: COLORS.hardened, points: ps }])),
    );
    const rows = [
      row(['clean', '–', pct(s.clean.accuracy), num(s.clean.loss)], 1, 'clean'),
      ...s.records.map((x) => row([`p = ${normText(x.norm)}`, epsText(x.eps), pct(x.accuracy), num(x.loss)], 1)),
    ];
    table = [
      '<section id="comparison"><h2>The hardened model under corruption</h2>',
      '<p class="note">Nothing to compare with: give --baseline MODEL to set a plainly trained model beside it.</p>',
      '<table class="data">',
      headRow(['corruption', 'ε', 'accuracy', 'loss']),
      '<tbody>',
      ...rows,
      '</tbody></table></section>',
    ].join('');
  } else {
    return '';
  }
  if (charts.length) {
    out.push(
      '<section id="curves"><h2>Accuracy under corruption</h2>',
      '<p class="note">The worst-case corruption of each model\'s own loss gradient (Proposition 1), of length ε in the ℓ<sub>p</sub> norm, at each ε of the sweep.</p>',
      '<div class="charts">',
      ...charts.map((ch) => `<div class="chart"><canvas id="${ch.id}"></canvas></div>`),
      '</div></section>',
    );
  }
  out.push(table);
  return out.join('');
}

function trainingSection(r: HardenReport): string {
  if (r.history.length === 0) return '';
  const last = r.history.at(-1)!;
  const facts: [string, string][] = [
    ['epochs', String(r.history.length)],
    ['steps', int(r.steps)],
    ['training examples', int(r.trainExamples)],
  ];
  if (last.validationAccuracy !== undefined) facts.push(['validation accuracy', `${pct(last.validationAccuracy)} (last epoch)`]);
  if (r.test) facts.push(['test accuracy', `${pct(r.test.accuracy)} on ${int(r.test.examples)} examples, loss ${num(r.test.loss)}`]);
  const objective = r.history.some((e) => e.trainObjective !== undefined);
  const validation = r.history.some((e) => e.validationAccuracy !== undefined);
  const rows = r.history.map((e) =>
    row(
      [
        String(e.epoch + 1),
        num(e.trainLoss),
        ...(objective ? [num(e.trainObjective)] : []),
        ...(validation ? [e.validationAccuracy === undefined ? '' : pct(e.validationAccuracy), num(e.validationLoss)] : []),
      ],
      0,
    ),
  );
  return [
    '<section id="training"><h2>Training</h2><dl class="facts">',
    ...facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    '</dl>',
    '<table class="data">',
    headRow(['epoch', 'train loss', ...(objective ? ['objective'] : []), ...(validation ? ['validation accuracy', 'validation loss'] : [])]),
    '<tbody>',
    ...rows,
    '</tbody></table>',
    '</section>',
  ].join('');
}

const CSS = `
${BASE_CSS}
p.method{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;margin:4px 0}
table.data td.num{text-align:right}table.data tr.clean td{font-weight:600}
table.data tr.up td:nth-child(5){color:#1e8449}table.data tr.down td:nth-child(5){color:${COLORS.baseline}}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0 12px}dl.facts dt{color:#555}dl.facts dd{margin:0}
`;

/**
 * A hardening report as one self-contained HTML page (Chart.js inlined; opens offline): the two models and the
 * method, their clean accuracy, accuracy against ε for each norm of the sweep (baseline and hardened), the
 * comparison table, and the training summary.
 *
 * @example await writeFileAtomic('harden.html', [Buffer.from(hardenHtml(await hardenClassifier(options)))]);
 */
export function hardenHtml(r: HardenReport): string {
  const charts: ChartSpec[] = [];
  const sweep = sweepSections(r, charts);
  const stopped = r.completed ? '' : `<p class="note">The run stopped after ${escapeHtml(int(r.steps))} steps; no hardened model was written.</p>`;
  const title = r.comparison ? `scalpel harden: ${r.out} against ${r.comparison.baselineName}` : `scalpel harden: ${r.out}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style></head><body>`,
    header(r),
    stopped,
    sweep,
    trainingSection(r),
    chartScripts(charts, 'harden-charts'),
    '</body></html>',
    '',
  ].join('\n');
}
