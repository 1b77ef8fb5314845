// A probe report as text: gradient vs random corruption per (p, n) over ε, vulnerability maps, Theorem 1.
import type { ProbeRecord, ProbeReport } from '../corruption/probe.js';
import { epsText, int, normText, num, pct, table } from './format.js';

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const l = m.get(k);
    if (l) l.push(x);
    else m.set(k, [x]);
  }
  return m;
}

function sweep(recs: ProbeRecord[]): string {
  const out: string[] = [];
  for (const [, rs] of groupBy(recs, (r) => `${r.norm}|${r.n}`)) {
    const { norm, n } = rs[0];
    const eps = [...new Set(rs.map((r) => r.eps))];
    const grad = new Map(rs.filter((r) => r.method === 'gradient').map((r) => [r.eps, r]));
    const rand = new Map(rs.filter((r) => r.method === 'random').map((r) => [r.eps, r]));
    const trials = [...rand.values()][0]?.trials;
    const subset = [...rand.values()][0]?.examples;
    out.push(
      `p = ${normText(norm)}, n = ${int(n)}${rs[0].changed < n && grad.size ? ` (${int(Math.max(...[...grad.values()].map((r) => r.changed)))} changed)` : ''}`,
    );
    const cols = [{ header: 'ε', right: true }];
    if (grad.size) cols.push({ header: 'gradient acc', right: true }, { header: 'ΔL', right: true }, { header: 'first-order', right: true });
    if (rand.size)
      cols.push(
        { header: `random acc (${trials} trials${subset ? `, ${int(subset)} ex.` : ''})`, right: true },
        { header: 'worst', right: true },
        { header: 'ΔL', right: true },
      );
    const rows = eps.map((e) => {
      const row = [epsText(e)];
      const g = grad.get(e);
      const r = rand.get(e);
      if (grad.size) row.push(g ? pct(g.accuracy) : '', g ? num(g.lossChange) : '', g ? num(g.firstOrder) : '');
      if (rand.size) row.push(r ? pct(r.accuracy) : '', r?.quantiles ? pct(r.quantiles.accuracy.min) : '', r ? num(r.lossChange) : '');
      return row;
    });
    out.push(table(cols, rows));
  }
  return out.join('\n');
}

function maps(recs: ProbeRecord[], report: ProbeReport): string {
  const out: string[] = [];
  const sizes = new Map((report.groups ?? []).map((g) => [g.group, g.count]));
  const clamped = new Set<string>();
  for (const [, rs] of groupBy(recs, (r) => `${r.method}|${r.norm}|${r.nSpec ?? r.n}`)) {
    const { method, norm, n, nSpec } = rs[0];
    const eps = [...new Set(rs.map((r) => r.eps))];
    const groups = [...new Set(rs.map((r) => r.group!))];
    const cell = new Map(rs.map((r) => [`${r.group}|${r.eps}`, r]));
    const nominal = typeof nSpec === 'number' && nSpec >= 1 ? nSpec : undefined;
    const nText = nSpec === undefined ? int(n) : nominal !== undefined ? `${int(nominal)} (at most the group's size)` : `${nSpec} (of each group)`;
    out.push(`${method} corruption, p = ${normText(norm)}, n = ${nText}: accuracy after corrupting one group`);
    const cols = [
      { header: 'group' },
      { header: 'params', right: true },
      ...eps.map((e) => ({ header: `ε=${epsText(e)}`, right: true })),
      { header: 'ΔL at largest ε', right: true },
    ];
    const last = eps[eps.length - 1];
    const rows = groups.map((g) => [
      g,
      sizes.has(g) ? int(sizes.get(g)!) : '',
      ...eps.map((e) => {
        const r = cell.get(`${g}|${e}`);
        if (r && nominal !== undefined && r.n < nominal) clamped.add(g);
        return r ? `${pct(r.accuracy)}${nominal !== undefined && r.n < nominal ? '*' : ''}` : '';
      }),
      num(cell.get(`${g}|${last}`)?.lossChange ?? NaN),
    ]);
    out.push(table(cols, rows));
    // The most vulnerable group at the largest ε.
    const worst = groups
      .map((g) => cell.get(`${g}|${last}`))
      .filter((r): r is ProbeRecord => !!r)
      .sort((a, b) => a.accuracy - b.accuracy || b.lossChange - a.lossChange)[0];
    if (worst && groups.length > 1) out.push(`  most vulnerable at ε=${epsText(last)}: ${worst.group} (accuracy ${pct(worst.accuracy)})\n`);
  }
  if (clamped.size) {
    out.push(
      `  * the group has fewer parameters than n, so all of them were corrupted; the same setting is not probed again for a larger n ` +
        `(or 'all'), whose tables leave out ${[...clamped].join(', ')}\n`,
    );
  }
  return out.join('\n');
}

/**
 * Plain-text rendering of a probe report.
 *
 * @example process.stdout.write(probeText(await probe(model)));
 */
export function probeText(r: ProbeReport): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push(`${r.model}: ${int(r.params.count)} parameters in ${int(r.params.tensors)} tensors probed (${s.params})`);
  lines.push(`data: ${r.data} (${s.split}), ${int(r.examples)} examples: loss ${num(r.baseline.loss)}, accuracy ${pct(r.baseline.accuracy)}`);
  lines.push(
    `gradient for the gradient-based corruption: ${s.gradient.data} (${s.gradient.split}), first ${int(s.gradient.examples)} examples (loss ${num(s.gradient.loss)})`,
  );
  const rand = r.records.find((x) => x.method === 'random' && x.examples !== undefined);
  if (rand?.baseline)
    lines.push(`random trials on the first ${int(rand.examples!)} examples: loss ${num(rand.baseline.loss)}, accuracy ${pct(rand.baseline.accuracy)}`);
  lines.push('');
  const overall = r.records.filter((x) => x.group === undefined);
  const grouped = r.records.filter((x) => x.group !== undefined);
  if (overall.length) {
    lines.push('Accuracy after corruption (ΔL: change of the mean loss; first-order: ε||h||_q, the gradient-based estimate of ΔL)');
    lines.push('');
    lines.push(sweep(overall));
  }
  if (grouped.length) {
    lines.push(`Vulnerability by ${s.by ?? 'group'} (baseline accuracy ${pct(r.baseline.accuracy)})`);
    lines.push('');
    lines.push(maps(grouped, r));
  }
  const t = r.theorem1;
  if (t) {
    lines.push(
      `Theorem 1 (p = 2, n = k = ${int(t.k)}, ε = ${epsText(t.eps)}, ${int(t.trials)} random trials${t.examples ? ` on ${int(t.examples)} examples` : ''}; G = ||∇L||₂ = ${num(t.G)} on the same examples)`,
    );
    lines.push('');
    const rows = [
      ['random |ΔL|, measured', num(t.empirical.q90), num(t.empirical.q95), num(t.empirical.q995)],
      ['random |ΔL|, theory (εG·η quantile)', num(t.theoretical.q90), num(t.theoretical.q95), num(t.theoretical.q995)],
    ];
    if (t.firstOrder) rows.push(['random |aᵀg| (first order), measured', num(t.firstOrder.q90), num(t.firstOrder.q95), num(t.firstOrder.q995)]);
    lines.push(table([{ header: '' }, { header: 'α(0.9)', right: true }, { header: 'α(0.95)', right: true }, { header: 'α(0.995)', right: true }], rows));
    // The gradient-based change (measured when probed, else its first-order value εG) against the trials' own 99.5% quantile.
    const worst = t.gradient ? t.gradient.lossChange : t.epsG;
    const ratio = t.empirical.q995 > 0 ? `; ${num(worst / t.empirical.q995)}x the random trials' measured 99.5% quantile` : '';
    lines.push(`  gradient-based: εG = ${num(t.epsG)}${t.gradient ? `, measured ΔL = ${num(t.gradient.lossChange)}` : ''}${ratio}`);
    lines.push('');
  }
  if (s.seconds !== undefined) lines.push(`${r.records.length} settings in ${s.seconds.toFixed(1)} s`);
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}
