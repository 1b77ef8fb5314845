/**
 * The parameter-corruption paper's probe on a text model (an LSTM language model, a Transformer classifier), with the
 * library's pieces: the loss gradient on training rows, the closed-form worst corruption (Proposition 1) against random
 * corruptions of the same ε, n and norm, the damage by parameter kind, and Theorem 1's quantiles of |aᵀg| for random
 * L2 corruptions. `scalpel probe` itself refuses text models (it feeds one input); this script is the experiment.
 *
 * Usage: node --import tsx scripts/text-probe.ts MODEL DATA_DIR [--eps 1e-3,1e-2] [--n 100,all] [--norm inf]
 *          [--trials 3] [--grad-rows 200] [--kind-eps 1e-2] [--seed 1]
 * Prints markdown rows: the test metric (perplexity, or accuracy) and loss after each corruption.
 */
import { parseArgs } from 'node:util';
import { computeGradients } from '../src/analysis/gradients.js';
import { worstCorruption, type Corruption } from '../src/corruption/closed-form.js';
import { corruptModel, dotDeltas, randomCorruption } from '../src/corruption/corrupt.js';
import { empiricalQuantiles, theoreticalQuantiles } from '../src/corruption/theorem1.js';
import { resolveN } from '../src/corruption/closed-form.js';
import { takeRows } from '../src/data/batches.js';
import { floatInitializers, type Model } from '../src/onnx/ir.js';
import { groupParams } from '../src/params/select.js';
import { compileUncached } from '../src/runtime/session.js';
import { openTask, type TextTask } from '../src/tasks/open.js';
import { runLanguageModel, runTextClassifier } from '../src/tasks/run-text.js';
import { loadTextData, type TextData } from '../src/tasks/text-data.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';

const { values: o, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    eps: { type: 'string', default: '1e-3,1e-2' },
    n: { type: 'string', default: '100,all' },
    norm: { type: 'string', default: 'inf' },
    trials: { type: 'string', default: '3' },
    'grad-rows': { type: 'string', default: '200' },
    'kind-eps': { type: 'string', default: '1e-2' },
    seed: { type: 'string', default: '1' },
  },
});
const [modelPath, dataDir] = positionals;
if (!modelPath || !dataDir) throw new Error('usage: text-probe.ts MODEL DATA_DIR [options]');
const p = o.norm === 'inf' ? Infinity : Number(o.norm);
const task = (await openTask(modelPath)) as TextTask;
if (task.kind === undefined || !('inputs' in task)) throw new Error(`${modelPath} is not a text model`);
const lm = task.kind === 'language-modelling';
const test = await loadTextData(task, dataDir, 'test');
const train = await loadTextData(task, dataDir, 'train');
const rows = Array.from({ length: Math.min(Number(o['grad-rows']), train.examples) }, (_, i) => i);
const gradData: TextData = {
  ...train,
  examples: rows.length,
  inputs: Object.fromEntries(Object.entries(train.inputs).map(([k, v]) => [k, takeRows(v, rows)])),
  y: takeRows(train.y, rows),
};

const params = floatInitializers(task.model.graph).map((i) => i.name);
const sizes = floatInitializers(task.model.graph).map((i) => i.tensor!.data.length);
const k = sizes.reduce((a, b) => a + b, 0);
const grad = await computeGradients(task.model, new Map<string, HostTensor>([...Object.entries(gradData.inputs), ['y', gradData.y]]), { params });
const g = params.map((n) => grad.gradients.get(n)!.data as Float32Array);
const G = Math.sqrt(g.reduce((a, t) => a + t.reduce((s, v) => s + v * v, 0), 0));

interface Score {
  metric: number;
  loss: number;
}
async function score(model: Model, data = test): Promise<Score> {
  const session = await compileUncached(model); // one-off corrupted copies stay out of the session cache
  try {
    if (lm) {
      const r = await runLanguageModel(model, data, { session });
      return { metric: r.perplexity, loss: r.loss };
    }
    const r = (await runTextClassifier(model, data, { session })).report!;
    return { metric: r.accuracy, loss: r.loss };
  } finally {
    await session.release();
  }
}
const fmt = (s: Score) => (lm ? `${s.metric.toFixed(1)}` : `${(100 * s.metric).toFixed(2)}%`);
const metricName = lm ? 'perplexity' : 'accuracy';
const corrupted = (c: Corruption) => score(corruptModel(task.model, params, c.deltas));

const base = await score(task.model);
console.log(
  `${modelPath} on ${test.source}: ${metricName} ${fmt(base)}, loss ${base.loss.toFixed(4)}; k = ${k} parameters; gradient on ${rows.length} training rows of ${train.source} (loss ${grad.report.loss.toFixed(4)}, ‖g‖₂ ${G.toPrecision(3)})\n`,
);

console.log(`| method | norm | ε | n | ${metricName} | loss | first-order aᵀg |`);
console.log('|---|---|---:|---:|---:|---:|---:|');
const rng = new Rng(Number(o.seed));
for (const eps of o.eps!.split(',').map(Number)) {
  for (const nText of o.n!.split(',')) {
    const n = resolveN(nText, k);
    const spec = { eps, p, n };
    const worst = worstCorruption(g, spec);
    const w = await corrupted(worst);
    console.log(`| gradient | ${o.norm} | ${eps} | ${nText} | ${fmt(w)} | ${w.loss.toFixed(4)} | ${worst.firstOrder.toPrecision(3)} |`);
    const rs: Score[] = [];
    for (let t = 0; t < Number(o.trials); t++) rs.push(await corrupted(randomCorruption(sizes, spec, rng)));
    const mean = { metric: rs.reduce((a, r) => a + r.metric, 0) / rs.length, loss: rs.reduce((a, r) => a + r.loss, 0) / rs.length };
    console.log(`| random (mean of ${rs.length}) | ${o.norm} | ${eps} | ${nText} | ${fmt(mean)} | ${mean.loss.toFixed(4)} | |`);
  }
}

const kindEps = Number(o['kind-eps']);
console.log(`\nBy kind (gradient-based, ${o.norm} norm, ε = ${kindEps}, within the kind: its 100 most sensitive parameters, and all of them):\n`);
console.log(`| kind | parameters | ${metricName}, n = 100 | loss, n = 100 | ${metricName}, n = all | loss, n = all |`);
console.log('|---|---:|---:|---:|---:|---:|');
for (const group of groupParams(task.model, 'kind')) {
  const names = new Set(group.params.map((q) => q.name));
  // NOTE: topN ranks by |g| over every tensor, so the other kinds' gradients are zeroed, not dropped.
  const gk = g.map((t, i) => (names.has(params[i]) ? t : new Float32Array(t.length)));
  const count = group.params.reduce((a, q) => a + q.size, 0);
  const few = await corrupted(worstCorruption(gk, { eps: kindEps, p, n: Math.min(100, count) }));
  const all = await corrupted(worstCorruption(gk, { eps: kindEps, p, n: count }));
  console.log(`| ${group.group} | ${count.toLocaleString('en')} | ${fmt(few)} | ${few.loss.toFixed(4)} | ${fmt(all)} | ${all.loss.toFixed(4)} |`);
}

// Theorem 1: for a uniformly random direction of L2 length ε over all k parameters, |ΔL| ≈ |aᵀg| = εG·η.
const eps1 = 1e-2;
const samples = Array.from({ length: 1000 }, () => Math.abs(dotDeltas(randomCorruption(sizes, { eps: eps1, p: 2, n: k }, rng).deltas, g)));
const th = theoreticalQuantiles(k, eps1, G);
const em = empiricalQuantiles(samples);
console.log(`\nTheorem 1 (random L2 corruptions, ε = ${eps1}, n = all, 1,000 draws): |aᵀg| quantiles, theory εG·η_q against the sample\n`);
console.log('| quantile | theory | sample |');
console.log('|---|---:|---:|');
for (const q of ['q90', 'q95', 'q995'] as const)
  console.log(
    `| ${q.replace('q', '0.').replace('0.995', '99.5%').replace('0.90', '90%').replace('0.95', '95%')} | ${th[q].toPrecision(3)} | ${em[q].toPrecision(3)} |`,
  );
