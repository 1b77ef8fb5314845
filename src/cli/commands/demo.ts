// scalpel demo: probe the shipped LeNet-5 on the embedded Fashion-MNIST subset and write the HTML report.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkOutputPath, loadModel } from '../../analysis/load.js';
import { loadProbeData, probe, type ProbeOptions, type ProbeRecord, type ProbeReport } from '../../corruption/probe.js';
import { writeFileAtomic } from '../../data/atomic-write.js';
import { num, table } from '../../report/format.js';
import { probeHtml } from '../../report/probe-html.js';
import type { CommandSpec } from '../command.js';
import { progress } from '../progress.js';

/** The LeNet-5 shipped with scalpel (models/ at the package root, from src/ or dist/ alike). */
export const DEMO_MODEL = fileURLToPath(new URL('../../../models/lenet5-fashion.onnx', import.meta.url));

/**
 * The sweep: the max norm on 100 of LeNet-5's 61,706 parameters, ε from 0.01 to 1. On this model that spans
 * "nothing happens" to "gradient-based corruption destroys the classifier while random corruption barely moves it".
 */
const SWEEP: ProbeOptions = { eps: [0.01, 0.03, 0.1, 0.3, 1], n: [100], norms: [Infinity], trials: 20 };
/** Theorem 1: random against gradient-based corruption of every parameter in the ℓ2 norm. */
const THEOREM: ProbeOptions = { eps: [0.1], n: ['all'], norms: [2], trials: 100, methods: ['random'] };

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

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
    lines.push(table(
      [{ header: 'ε', right: true }, { header: 'gradient-based', right: true }, { header: `random (mean of ${trials ?? 0})`, right: true }],
      eps.map((e) => [String(e), at('gradient', e) ? pct(at('gradient', e)!.accuracy) : '-', at('random', e) ? pct(at('random', e)!.accuracy) : '-']),
    ).trimEnd());
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
  lines.push('', `wrote ${out} (open it in a browser)`);
  return lines.join('\n') + '\n';
}

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'probe the shipped LeNet-5 and write an HTML report',
  description:
    'Probe the LeNet-5 shipped with scalpel (models/lenet5-fashion.onnx, trained on Fashion-MNIST) on the embedded test images: ' +
    'corrupt 100 of its parameters along the loss gradient (the worst case to first order) and at random, with ε from 0.01 to 1 in the max norm; ' +
    'then each kind of parameter (conv, fc, bias) alone; and check Theorem 1 (100 random corruptions of every parameter against the gradient-based one). ' +
    'Prints a summary and writes a self-contained HTML report with the charts. Needs no flags and no network; takes a few seconds.',
  examples: [
    ['scalpel demo', 'writes scalpel-demo.html in the current directory'],
    ['scalpel demo -o /tmp/probe.html', 'writes the report elsewhere'],
  ],
  configure(cmd) {
    cmd.option('-o, --out <file>', 'the HTML report to write', 'scalpel-demo.html');
  },
  async run(ctx, _args, opts) {
    const out = opts.out as string;
    if (!existsSync(DEMO_MODEL)) throw new Error(`the demo model is missing: ${DEMO_MODEL} (reinstall scalpel)`);
    checkOutputPath(out, { model: DEMO_MODEL });
    const started = performance.now();
    const model = loadModel(DEMO_MODEL);
    const bar = progress(ctx.io);
    const { data, grad } = await loadProbeData(model, { split: 'test' });
    const common: ProbeOptions = {
      modelName: 'models/lenet5-fashion.onnx', dataset: data, gradDataset: grad, runtime: ctx.runtime,
      onProgress: (label, done, total) => bar.update(label, done, total),
    };
    const sweep = await probe(model, { ...common, ...SWEEP });
    const byKind = await probe(model, { ...common, ...SWEEP, by: 'kind' });
    const theorem = await probe(model, { ...common, ...THEOREM });
    bar.stop();
    const report: ProbeReport = {
      ...sweep,
      data: 'the embedded Fashion-MNIST subset, test split',
      groups: byKind.groups,
      records: [...sweep.records, ...byKind.records],
      ...(theorem.theorem1 ? { theorem1: theorem.theorem1 } : {}),
      settings: { ...sweep.settings, by: 'kind', seconds: (performance.now() - started) / 1000 },
    };
    await writeFileAtomic(out, [new TextEncoder().encode(probeHtml(report))]);
    ctx.io.stdout.write(demoText(report, out));
    return 0;
  },
};
