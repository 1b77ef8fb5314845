// A probe report as one self-contained HTML page: accuracy-vs-ε charts, the vulnerability map, all records.
import type { ProbeRecord, ProbeReport } from '../corruption/probe.js';
import { epsText, normText, num, pct } from './format.js';
import { BASE_CSS, chartScripts, escapeHtml, type ChartSpec } from './html.js';

export { escapeHtml };

const normLabel = (p: ProbeRecord['norm']) => `p=${normText(p)}`;
const setting = (r: ProbeRecord) => `${normLabel(r.norm)}, n=${r.n.toLocaleString('en-US')}`;

/** Groups records by a key, keeping first-appearance order. */
function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = out.get(k);
    if (list) list.push(t);
    else out.set(k, [t]);
  }
  return out;
}

const COLORS = { gradient: '#c0392b', random: '#2471a3', band: 'rgba(36,113,163,0.18)', baseline: '#7f8c8d', firstOrder: '#e67e22' };

/** Accuracy after corruption against ε for one (norm, n): gradient-based, random (median and 5–95% band), baseline. */
function accuracyChart(id: string, title: string, recs: ProbeRecord[], baseline: number): ChartSpec {
  const byEps = (rs: ProbeRecord[]) => [...rs].sort((a, b) => a.eps - b.eps);
  const grad = byEps(recs.filter((r) => r.method === 'gradient'));
  const rand = byEps(recs.filter((r) => r.method === 'random'));
  const eps = [...new Set(recs.map((r) => r.eps))].sort((a, b) => a - b);
  const datasets: unknown[] = [];
  if (rand.some((r) => r.quantiles)) {
    const q = rand.filter((r) => r.quantiles);
    datasets.push(
      {
        label: 'random 5%',
        data: q.map((r) => ({ x: r.eps, y: r.quantiles!.accuracy.q05 })),
        borderWidth: 0,
        pointRadius: 0,
        fill: false,
        borderColor: COLORS.band,
        backgroundColor: COLORS.band,
      },
      {
        label: 'random 5–95%',
        data: q.map((r) => ({ x: r.eps, y: r.quantiles!.accuracy.q95 })),
        borderWidth: 0,
        pointRadius: 0,
        fill: '-1',
        borderColor: COLORS.band,
        backgroundColor: COLORS.band,
      },
    );
  }
  if (rand.length > 0) {
    datasets.push({
      label: rand.some((r) => r.quantiles) ? 'random (median)' : 'random',
      data: rand.map((r) => ({ x: r.eps, y: r.quantiles?.accuracy.q50 ?? r.accuracy })),
      borderColor: COLORS.random,
      backgroundColor: COLORS.random,
      borderWidth: 2,
      pointRadius: 3,
    });
  }
  if (grad.length > 0) {
    datasets.push({
      label: 'gradient-based',
      data: grad.map((r) => ({ x: r.eps, y: r.accuracy })),
      borderColor: COLORS.gradient,
      backgroundColor: COLORS.gradient,
      borderWidth: 2,
      pointRadius: 3,
    });
  }
  datasets.push({
    label: 'baseline',
    data: [
      { x: eps[0], y: baseline },
      { x: eps[eps.length - 1], y: baseline },
    ],
    borderColor: COLORS.baseline,
    backgroundColor: COLORS.baseline,
    borderDash: [6, 4],
    borderWidth: 1,
    pointRadius: 0,
  });
  return {
    id,
    logX: true,
    logY: false,
    percentY: true,
    xTicks: eps,
    config: {
      type: 'line',
      data: { datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: {
          title: { display: true, text: title },
          legend: { labels: { filter: 'noBandEdge' } },
        },
        scales: {
          x: { type: 'logarithmic', title: { display: true, text: 'ε (corruption size)' } },
          y: { min: 0, max: 1, title: { display: true, text: 'accuracy after corruption' } },
        },
      },
    },
  };
}

/** Loss increase against ε for one (norm, n), on a log scale: measured gradient-based ΔL, its first-order estimate ε‖h‖_q, random ΔL. */
function lossChart(id: string, title: string, recs: ProbeRecord[]): ChartSpec | undefined {
  const pos = (y: number) => (y > 0 && Number.isFinite(y) ? y : null);
  const byEps = (rs: ProbeRecord[]) => [...rs].sort((a, b) => a.eps - b.eps);
  const grad = byEps(recs.filter((r) => r.method === 'gradient'));
  const rand = byEps(recs.filter((r) => r.method === 'random'));
  const eps = [...new Set(recs.map((r) => r.eps))].sort((a, b) => a - b);
  const datasets: unknown[] = [];
  if (grad.length > 0) {
    datasets.push(
      {
        label: 'gradient-based ΔL',
        data: grad.map((r) => ({ x: r.eps, y: pos(r.lossChange) })),
        borderColor: COLORS.gradient,
        backgroundColor: COLORS.gradient,
        borderWidth: 2,
        pointRadius: 3,
      },
      {
        label: 'first-order ε‖h‖_q',
        data: grad.map((r) => ({ x: r.eps, y: pos(r.firstOrder) })),
        borderColor: COLORS.firstOrder,
        backgroundColor: COLORS.firstOrder,
        borderDash: [4, 3],
        borderWidth: 1.5,
        pointRadius: 2,
      },
    );
  }
  if (rand.length > 0) {
    datasets.push(
      {
        label: 'random ΔL (mean)',
        data: rand.map((r) => ({ x: r.eps, y: pos(r.lossChange) })),
        borderColor: COLORS.random,
        backgroundColor: COLORS.random,
        borderWidth: 2,
        pointRadius: 3,
      },
      {
        label: 'random first-order |aᵀg| (mean)',
        data: rand.map((r) => ({ x: r.eps, y: pos(r.firstOrder) })),
        borderColor: COLORS.random,
        backgroundColor: COLORS.random,
        borderDash: [4, 3],
        borderWidth: 1.5,
        pointRadius: 2,
      },
    );
  }
  const any = datasets.some((d) => (d as { data: { y: number | null }[] }).data.some((p) => p.y !== null));
  if (!any) return undefined;
  return {
    id,
    logX: true,
    logY: true,
    xTicks: eps,
    config: {
      type: 'line',
      data: { datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        spanGaps: true,
        plugins: { title: { display: true, text: title } },
        scales: {
          x: { type: 'logarithmic', title: { display: true, text: 'ε (corruption size)' } },
          y: { type: 'logarithmic', title: { display: true, text: 'loss increase ΔL (log scale; ΔL ≤ 0 not drawn)' } },
        },
      },
    },
  };
}

/** ColorBrewer "Reds" (9 classes), from no accuracy lost to all of it. */
const REDS = ['#fff5f0', '#fee0d2', '#fcbba1', '#fc9272', '#fb6a4a', '#ef3b2c', '#cb181d', '#a50f15', '#67000d'];

function lerpColor(stops: string[], t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = (h: string) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16));
  const [a, b] = [rgb(stops[i]), rgb(stops[i + 1])];
  return `rgb(${a.map((v, k) => Math.round(v + f * (b[k] - v))).join(',')})`;
}

/** The share of the baseline accuracy a corruption lost, in [0, 1]: the heat map's colour. */
const lost = (acc: number, baseline: number) => (baseline > 0 ? Math.min(1, Math.max(0, (baseline - acc) / baseline)) : 0);

interface HeatMap {
  title: string;
  /** The records of one group for this map, or undefined when the group has none. */
  cells: Map<string, ProbeRecord[]>;
  nominal?: number;
}

/** One heat map per (method, norm, requested n); a requested n ('1%', 'all') resolves to a different count in each group. */
function heatMapsOf(grouped: ProbeRecord[]): HeatMap[] {
  return [...groupBy(grouped, (r) => `${r.method}|${r.norm}|${r.nSpec ?? r.n}`).values()].map((recs) => {
    const spec = recs[0].nSpec ?? recs[0].n;
    const nominal = typeof spec === 'number' && spec >= 1 ? spec : undefined;
    const shown = typeof spec === 'number' ? spec.toLocaleString('en-US') : spec;
    return {
      title: `${recs[0].method} corruption, ${normLabel(recs[0].norm)}, n = ${shown} per group`,
      cells: groupBy(recs, (r) => r.group!),
      nominal,
    };
  });
}

/** Groups × ε, one table per (method, norm, n), each cell coloured by how much accuracy the corruption took. */
function heatMaps(report: ProbeReport): string {
  const grouped = report.records.filter((r) => r.group !== undefined);
  if (grouped.length === 0) return '';
  const sizes = new Map((report.groups ?? []).map((g) => [g.group, g]));
  const order = [...new Set([...(report.groups ?? []).map((g) => g.group), ...grouped.map((r) => r.group!)])];
  const out: string[] = [
    '<section id="vulnerability"><h2>Vulnerability map</h2>',
    '<p class="note">Each group of parameters corrupted alone. Cells: accuracy after corruption; the redder, the more of the baseline accuracy was lost. Hover a cell for the loss and the number of parameters changed.</p>',
    `<div class="legend"><span>no loss</span><span class="ramp" style="background:linear-gradient(to right,${REDS.join(',')})"></span><span>all accuracy lost</span></div>`,
  ];
  let clamped = false;
  for (const map of heatMapsOf(grouped)) {
    const recs = [...map.cells.values()].flat();
    const eps = [...new Set(recs.map((r) => r.eps))].sort((a, b) => a - b);
    out.push(`<h3>${escapeHtml(map.title)}</h3>`);
    out.push(
      '<table class="heat"><thead><tr><th>group</th>',
      sizes.size > 0 ? '<th>parameters</th>' : '',
      ...eps.map((e) => `<th>ε = ${escapeHtml(epsText(e))}</th>`),
      '</tr></thead><tbody>',
    );
    for (const g of order) {
      const mine = map.cells.get(g);
      if (!mine) continue;
      const info = sizes.get(g);
      out.push(
        `<tr><th scope="row">${escapeHtml(g)}</th>`,
        info ? `<td class="num">${escapeHtml(`${info.count.toLocaleString('en-US')} in ${info.tensors}`)}</td>` : '',
      );
      for (const e of eps) {
        const r = mine.find((x) => x.eps === e);
        if (!r) {
          out.push('<td class="empty">–</td>');
          continue;
        }
        const t = lost(r.accuracy, r.baseline?.accuracy ?? report.baseline.accuracy);
        const tip = `${g}, ε=${epsText(e)}, n=${r.n}: accuracy ${pct(r.accuracy)}, loss ${num(r.loss)} (ΔL ${num(r.lossChange)}), ${r.changed.toLocaleString('en-US')} parameters changed`;
        const mark = map.nominal !== undefined && r.n !== map.nominal ? '*' : '';
        if (mark) clamped = true;
        out.push(
          `<td style="background:${lerpColor(REDS, t)};color:${t > 0.55 ? '#fff' : '#111'}" title="${escapeHtml(tip)}">${escapeHtml(pct(r.accuracy))}${mark}</td>`,
        );
      }
      out.push('</tr>');
    }
    out.push('</tbody></table>');
  }
  if (clamped) out.push('<p class="note">* the group has fewer parameters than n: all of them were corrupted.</p>');
  out.push('</section>');
  return out.join('');
}

function theorem1Table(report: ProbeReport): string {
  const t = report.theorem1;
  if (!t) return '';
  const fo = t.firstOrder;
  const row = (q: string, e: number, th: number, f?: number) =>
    `<tr><td>${q}</td><td class="num">${escapeHtml(num(e))}</td><td class="num">${escapeHtml(num(th))}</td><td class="num">${escapeHtml(th > 0 ? num(e / th, 3) : '')}</td>${fo ? `<td class="num">${escapeHtml(num(f ?? NaN))}</td>` : ''}</tr>`;
  const worst = t.gradient?.lossChange ?? t.epsG;
  return [
    '<section id="theorem1"><h2>Theorem 1: random against worst-case corruption</h2>',
    `<p class="note">p = 2, n = k = ${escapeHtml(t.k.toLocaleString('en-US'))} parameters, ε = ${escapeHtml(epsText(t.eps))}, ${escapeHtml(t.trials.toLocaleString('en-US'))} random trials${t.examples ? ` on ${escapeHtml(t.examples.toLocaleString('en-US'))} examples` : ''}.
    The gradient-based corruption raises the loss by about εG = ${escapeHtml(num(t.epsG))} (G = ‖g‖₂ = ${escapeHtml(num(t.G))});
    a random direction, to first order, by εG·η, where η has the density 2Γ(k/2)/(√π Γ((k−1)/2))·(1−x²)^((k−3)/2) on [0, 1].</p>`,
    `<table class="data"><thead><tr><th>quantile of |ΔL|</th><th>random, measured</th><th>Theorem 1: εG·η</th><th>measured / theory</th>${fo ? '<th>random, first-order |aᵀg|</th>' : ''}</tr></thead><tbody>`,
    row('90%', t.empirical.q90, t.theoretical.q90, fo?.q90),
    row('95%', t.empirical.q95, t.theoretical.q95, fo?.q95),
    row('99.5%', t.empirical.q995, t.theoretical.q995, fo?.q995),
    `<tr class="total"><td>gradient-based</td><td colspan="${fo ? 4 : 3}">ΔL = ${escapeHtml(num(worst))}${t.gradient ? ` (εG = ${escapeHtml(num(t.epsG))})` : ''}${t.empirical.q995 > 0 ? `: ${escapeHtml(num(worst / t.empirical.q995, 3))}× the random trials' 99.5% quantile` : ''}</td></tr>`,
    '</tbody></table></section>',
  ].join('');
}

function recordsTable(records: ProbeRecord[]): string {
  const subset = records.some((r) => r.examples !== undefined);
  const head = [
    'method',
    'norm',
    'n',
    'group',
    'ε',
    'first-order',
    'loss',
    'ΔL',
    'accuracy',
    'changed',
    'trials',
    'accuracy 5–95%',
    'worst accuracy',
    'loss 95%',
    'worst loss',
    ...(subset ? ['examples'] : []),
  ];
  const rows = records.map((r) => {
    const q = r.quantiles;
    const cells = [
      r.method,
      normLabel(r.norm),
      r.n.toLocaleString('en-US'),
      r.group ?? '(all)',
      epsText(r.eps),
      num(r.firstOrder),
      num(r.loss),
      num(r.lossChange),
      pct(r.accuracy),
      r.changed.toLocaleString('en-US'),
      r.trials === undefined ? '' : String(r.trials),
      q ? `${pct(q.accuracy.q05)} – ${pct(q.accuracy.q95)}` : '',
      q ? pct(q.accuracy.min) : '',
      q ? num(q.loss.q95) : '',
      q ? num(q.loss.max) : '',
      ...(subset
        ? [r.examples === undefined ? '' : `${r.examples.toLocaleString('en-US')}${r.baseline ? ` (baseline ${pct(r.baseline.accuracy)})` : ''}`]
        : []),
    ];
    return `<tr class="${r.method === 'gradient' ? 'grad' : 'rand'}">${cells.map((c, i) => `<td${i >= 4 ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`;
  });
  return [
    `<section id="records"><h2>All records (${records.length})</h2>`,
    '<p class="note">Random: loss, ΔL and accuracy are means over the trials; first-order is ε‖h‖<sub>q</sub> for the gradient-based corruption and the mean |aᵀg| for random ones.</p>',
    '<div class="scroll"><table class="data"><thead><tr>',
    head.map((h) => `<th>${escapeHtml(h)}</th>`).join(''),
    '</tr></thead><tbody>',
    ...rows,
    '</tbody></table></div></section>',
  ].join('');
}

function header(report: ProbeReport): string {
  const b = report.baseline;
  const facts: [string, string][] = [
    ['model', String(report.model)],
    ['data', `${report.data} (${report.examples.toLocaleString('en-US')} examples)`],
    ['baseline', `accuracy ${pct(b.accuracy)}, loss ${num(b.loss)}`],
    ['parameters probed', `${report.params.count.toLocaleString('en-US')} in ${report.params.tensors.toLocaleString('en-US')} tensors`],
  ];
  const st = report.settings;
  if (st?.gradient)
    facts.push([
      'gradient taken on',
      `${st.gradient.data} (${st.gradient.split}, ${st.gradient.examples.toLocaleString('en-US')} examples, loss ${num(st.gradient.loss)})`,
    ]);
  if (st?.methods?.includes('random')) facts.push(['random trials', `${st.trials} per setting, on ${st.trialExamples.toLocaleString('en-US')} examples`]);
  return [
    '<header><h1>Parameter corruption probe</h1><dl>',
    ...facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`),
    '</dl>',
    `<details><summary>settings</summary><pre>${escapeHtml(JSON.stringify(report.settings ?? {}, null, 2))}</pre></details>`,
    '</header>',
  ].join('');
}

const CSS = `
${BASE_CSS}
table.heat td{text-align:center;min-width:80px}table.heat th[scope=row]{font-weight:600;white-space:nowrap}td.empty{color:#aaa}
table.data td.num{text-align:right}table.data tr.grad td:first-child{color:${COLORS.gradient}}table.data tr.rand td:first-child{color:${COLORS.random}}
table.data thead th{position:sticky;top:0;background:#fafafa}.scroll{overflow:auto;max-height:600px}
.legend{display:flex;align-items:center;gap:8px;font-size:12px;color:#444;margin:4px 0 8px}.legend .ramp{display:inline-block;width:180px;height:12px;border:1px solid #ccc}
tr.total td{font-weight:600}
`;

/**
 * A probe report as one self-contained HTML page (Chart.js inlined; opens offline): a header with the model,
 * data and baseline, accuracy-vs-ε charts of gradient-based against random corruption for each (norm, n),
 * the vulnerability map (groups × ε), the Theorem 1 table when the report has one, and every record.
 *
 * @example writeFileSync('probe.html', probeHtml(await runProbe(model, options)));
 */
export function probeHtml(report: ProbeReport): string {
  const overall = report.records.filter((r) => r.group === undefined);
  const charts: ChartSpec[] = [];
  let k = 0;
  for (const [, recs] of groupBy(overall, (r) => `${r.norm}|${r.n}`)) {
    const s = setting(recs[0]);
    charts.push(accuracyChart(`chart-${k++}`, `Accuracy after corruption (${s})`, recs, report.baseline.accuracy));
    const loss = lossChart(`chart-${k++}`, `Loss increase (${s})`, recs);
    if (loss) charts.push(loss);
  }
  const chartSection =
    charts.length === 0
      ? ''
      : [
          '<section id="curves"><h2>Gradient-based against random corruption</h2>',
          '<p class="note">The same budget ε (in the ℓ<sub>p</sub> norm, on at most n parameters) spent along the loss gradient (the closed-form worst case of Proposition 1) and in random directions. The shaded band spans the random trials\' 5–95% quantiles.</p>',
          '<div class="charts">',
          ...charts.map((c) => `<div class="chart"><canvas id="${c.id}"></canvas></div>`),
          '</div></section>',
        ].join('');
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(`scalpel probe: ${report.model}`)}</title>`,
    `<style>${CSS}</style></head><body>`,
    header(report),
    chartSection,
    heatMaps(report),
    theorem1Table(report),
    recordsTable(report.records),
    chartScripts(charts, 'probe-charts'),
    '</body></html>',
    '',
  ].join('\n');
}
