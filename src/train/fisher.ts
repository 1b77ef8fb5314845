// Which entries a change (an edit, a repair) may move without disturbing clean predictions: the diagonal Fisher of the model's output
// distribution on clean inputs, F(w) = E_x E_{y∼p_w0(·|x)} (∂ log p(y|x)/∂w)², the curvature of KL(old ‖ new) at δ = 0
// (KL ≈ ½ Σ F δ²), and the side-effect-aware scores built from it.
import { differentiate } from '../autodiff/differentiate.js';
import { takeRows, type Dataset } from '../data/batches.js';
import { fixedBatch } from '../onnx/batch-dim.js';
import type { Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { dataInput } from '../tasks/classifier.js';
import { withLoss } from './losses.js';
import { runClassifier } from '../tasks/run.js';

/**
 * The diagonal Fisher of `names` at the model's current values, estimated on `examples` clean inputs drawn (seeded)
 * from `clean`, one label per input sampled from the model's own predictive distribution (so the estimate is of the
 * true Fisher, not the empirical one), one input per backward pass (a graph with a fixed batch b: b per pass, the
 * squared batch gradient scaled by b).
 *
 * @example const F = await cleanFisher(model, ['fc1.weight'], d.cleanTrain, { examples: 256 });
 */
export async function cleanFisher(
  model: Model,
  names: readonly string[],
  clean: Dataset,
  o: { examples?: number; seed?: number; runtime?: RuntimeOptions; onProgress?: (done: number, total: number) => void } = {},
): Promise<Float32Array[]> {
  const n = Math.min(clean.x.dims[0], o.examples ?? 512);
  if (n < 1) throw new Error('the Fisher needs at least one clean input');
  const rng = new Rng((o.seed ?? 0) + 31);
  const rows = rng.permutation(clean.x.dims[0]).slice(0, n);
  const x = takeRows(clean.x, rows);
  const { logits, classes } = await runClassifier(model, x, { runtime: o.runtime });
  const sampled = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[i * classes + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[i * classes + c] - max);
    let u = rng.uniform() * sum;
    let y = classes - 1;
    for (let c = 0; c < classes; c++) {
      u -= Math.exp(logits[i * classes + c] - max);
      if (u < 0) {
        y = c;
        break;
      }
    }
    sampled[i] = BigInt(y);
  }
  const lossy = withLoss(model, { kind: 'cross-entropy' });
  const { model: promoted, values } = promoteToInputs(lossy.model, names);
  const { model: graph, gradients } = differentiate(promoted, { of: lossy.loss, wrt: [...names], keepOutputs: false });
  const exe = await compile(graph, o.runtime);
  const input = dataInput(promoted, values);
  const b = fixedBatch(model) ?? 1;
  const fisher = names.map((name) => new Float32Array(values.get(name)!.data.length));
  const outputs = names.map((name) => gradients.get(name)!);
  const ys: HostTensor = { dtype: 'int64', dims: [n], data: sampled };
  const passes = Math.floor(n / b);
  if (passes < 1) throw new Error(`the Fisher needs at least ${b} clean inputs for this fixed-batch graph`);
  for (let p = 0; p < passes; p++) {
    const r = Array.from({ length: b }, (_, i) => p * b + i);
    const out = await exe.run({ ...Object.fromEntries(values), [input]: takeRows(x, r), [lossy.target]: takeRows(ys, r) }, outputs);
    names.forEach((_, t) => {
      const g = out[outputs[t]].data as Float32Array;
      const f = fisher[t];
      for (let i = 0; i < g.length; i++) f[i] += b * g[i] * g[i];
    });
    o.onProgress?.(p + 1, passes);
  }
  for (const f of fisher) for (let i = 0; i < f.length; i++) f[i] /= passes;
  return fisher;
}

/**
 * v / √(F + ε) entry by entry, with ε = `epsilon` × the mean of F over every entry (so the score does not depend on
 * the loss's scale): large where the change serves the pattern and the clean outputs barely feel it.
 *
 * @example const score = fisherRatio(gradients, F, 1e-2); // then flat.topN(score, N)
 */
export function fisherRatio(values: readonly Float32Array[], fisher: readonly Float32Array[], epsilon: number): Float32Array[] {
  let sum = 0;
  let count = 0;
  for (const f of fisher) {
    for (let i = 0; i < f.length; i++) sum += f[i];
    count += f.length;
  }
  const eps = Math.max(epsilon * (count ? sum / count : 0), 1e-30);
  return values.map((v, t) => {
    const f = fisher[t];
    const out = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = Math.abs(v[i]) / Math.sqrt(f[i] + eps);
    return out;
  });
}
