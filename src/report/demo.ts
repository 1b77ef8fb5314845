// Text summary printed by `scalpel demo`.
import type { ProbeRecord, ProbeReport } from '../corruption/probe.js';
import { num, pct, table } from './format.js';

/** The few lines printed after the demo: baseline, gradient vs random at each ε, the most vulnerable kind, Theorem 1. */
export function demoText(r: ProbeReport, out: string): string {
  const lines = [
    `LeNet-5 (${r.model}, ${r.params.count.toLocaleString('en-US')} parameters) on ${r.examples.toLocaleString('en-US')} Fashion-MNIST test images`,
    `baseline: accuracy ${pct(r.baseline.accuracy)}, loss ${num(r.baseline.loss)}`,
    '',
  ];
  const overall = r.records.filter((x) => x.group === undefined);
  const at = (method: ProbeRecord['method'], eps: number) => overall.find((x) => x.method === method && x.eps === eps);
  const eps = [...new Set(overall.map((x) => x.eps))].sort((a, b) => a - b);
  if (eps.length > 0) {
    const trials = overall.find((x) => x.method === 'random')?.trials;
    lines.push(`accuracy after changing n = ${overall[0].n} parameters by at most ε each (p = ∞):`);
    lines.push(
      table(
        [
          { header: 'ε', right: true },
          { header: 'gradient-based', right: true },
          { header: `random (mean of ${trials ?? 0})`, right: true },
        ],
        eps.map((e) => [String(e), at('gradient', e) ? pct(at('gradient', e)!.accuracy) : '-', at('random', e) ? pct(at('random', e)!.accuracy) : '-']),
      ).trimEnd(),
    );
  }
  const grouped = r.records.filter((x) => x.group !== undefined && x.method === 'gradient');
  if (grouped.length > 0) {
    const top = Math.max(...grouped.map((x) => x.eps));
    const ranked = grouped.filter((x) => x.eps === top).sort((a, b) => a.accuracy - b.accuracy || b.lossChange - a.lossChange);
    const [worst, ...rest] = ranked;
    lines.push(
      '',
      `most vulnerable kind of parameter (${worst.n} of them, ε = ${top}): ${worst.group}, accuracy ${pct(worst.accuracy)}` +
        (rest.length ? ` (${rest.map((x) => `${x.group} ${pct(x.accuracy)}`).join(', ')})` : ''),
    );
  }
  const t = r.theorem1;
  if (t) {
    const worst = t.gradient?.lossChange ?? t.epsG;
    lines.push(
      '',
      `Theorem 1 (all ${t.k.toLocaleString('en-US')} parameters, p = 2, ε = ${t.eps}, ${t.trials} random trials):`,
      `  random |ΔL| at the 99.5% quantile ${num(t.empirical.q995)} (theory ${num(t.theoretical.q995)}); gradient-based ΔL ${num(worst)}, ${Math.round(worst / t.empirical.q995)}x more`,
    );
  }
  return lines.join('\n') + '\n';
}
