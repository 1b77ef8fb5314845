// Pairs for misclassified inputs: x′ = x with a small, clustered region blurred away, found by gradient descent.
import { differentiate } from '../autodiff/differentiate.js';
import type { Dataset } from '../data/batches.js';
import { GraphBuilder } from '../onnx/builder.js';
import { cloneModel, type Model } from '../onnx/ir.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { dataInput } from '../tasks/classifier.js';
import { Optimizer } from '../train/optimizers.js';
import type { PairSet } from './pairs.js';
import { argmax, runClassifier } from '../tasks/run.js';

/** Settings of the blur-mask search (every one has a default). */
export interface BlurMaskOptions {
  /** Weight λ of the mask's size Σm, per pixel (default 0.01). */
  lambda?: number;
  /** Adam steps (default 100) at learning rate `lr` (default 0.1). */
  steps?: number;
  lr?: number;
  /** Standard deviation, in pixels, of the Gaussian that clusters the mask (default 1; kernel 5×5). */
  maskSigma?: number;
  /** Standard deviation, in pixels, of the Gaussian blur(x) (default 3; kernel 13×13). */
  imageSigma?: number;
  /** Most misclassified examples searched (default 200), drawn in a seeded order. */
  limit?: number;
  seed?: number;
  runtime?: RuntimeOptions;
  onProgress?: (done: number, total: number) => void;
}

/** The mask logits' starting value. */
const THETA0 = -3;

export const BLUR_MASK_DEFAULTS = { lambda: 0.01, steps: 100, lr: 0.1, maskSigma: 1, imageSigma: 3, limit: 200 } as const;

/** A normalised 2-D Gaussian kernel [k, k] with k = 2⌈2σ⌉ + 1. */
export function gaussianKernel(sigma: number): { k: number; data: Float32Array } {
  const r = Math.ceil(2 * sigma);
  const k = 2 * r + 1;
  const data = new Float32Array(k * k);
  let sum = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) sum += data[i * k + j] = Math.exp(-((i - r) ** 2 + (j - r) ** 2) / (2 * sigma * sigma));
  for (let i = 0; i < data.length; i++) data[i] /= sum;
  return { k, data };
}

/** A depthwise Gaussian blur of an [N, C, H, W] value with 'same' padding. */
function blur(b: GraphBuilder, x: string, channels: number, sigma: number): string {
  const { k, data } = gaussianKernel(sigma);
  const w = new Float32Array(channels * k * k);
  for (let c = 0; c < channels; c++) w.set(data, c * k * k);
  const r = (k - 1) / 2;
  const kernel = b.constant({ dtype: 'float32', dims: [channels, 1, k, k], data: w });
  return b.op('Conv', [x, kernel], { group: channels, pads: [r, r, r, r], kernel_shape: [k, k] });
}

/**
 * The mask-search graph: inputs θ [N, 1, H, W], the images, and one-hot labels; m = blur(sigmoid(θ)),
 * x′ = (1 − m)⊙x + m⊙blur(x), loss = Σ_n CE(M(x′_n), y_n) + λ·Σ m, and its gradient with respect to θ.
 */
function maskGraph(model: Model, dims: number[], o: Required<Pick<BlurMaskOptions, 'lambda' | 'maskSigma' | 'imageSigma'>>) {
  const m0 = cloneModel(model);
  const input = dataInput(m0);
  const logits = m0.graph.outputs[0].name;
  // The builder is made while the model's input is still declared, so that no new name can take the input's name.
  const b = new GraphBuilder(m0.graph);
  m0.graph.inputs = m0.graph.inputs.filter((v) => v.name !== input);
  const [C, H, W] = dims;
  const base = m0.graph.nodes.length;
  const theta = b.input(b.fresh('mask_theta'), 'float32', [null, 1, H, W]);
  const image = b.input(b.fresh('image'), 'float32', [null, C, H, W]);
  const onehot = b.input(b.fresh('onehot'), 'float32', [null, null]);
  const mask = blur(b, b.op('Sigmoid', [theta]), 1, o.maskSigma);
  const blurred = blur(b, image, C, o.imageSigma);
  const mixed = b.op('Add', [image, b.op('Mul', [mask, b.op('Sub', [blurred, image])])]);
  b.graph.nodes.push({ opType: 'Identity', domain: '', name: b.fresh('masked_input'), inputs: [mixed], outputs: [input], attributes: [] });
  // The mask's nodes feed the model's input: move them before the model's nodes (topological order).
  b.graph.nodes.unshift(...b.graph.nodes.splice(base));
  const ce = b.op('Neg', [b.op('ReduceSum', [b.op('Mul', [onehot, b.op('LogSoftmax', [logits], { axis: -1 })])], { keepdims: 0 })]);
  const loss = b.op('Add', [ce, b.op('Mul', [b.op('ReduceSum', [mask], { keepdims: 0 }), b.constant(o.lambda)])], undefined, 'mask_loss');
  b.output(mask, 'float32');
  b.output(mixed, 'float32');
  const d = differentiate(m0, { of: loss, wrt: [theta] });
  return { model: d.model, theta, image, onehot, logits, mask, mixed, loss, gradient: d.gradients.get(theta)! };
}

/**
 * Pairs for the model's own mistakes: each misclassified example x gets x′ from the blur-mask search (the
 * authors' pairing when no trigger is known); examples whose x′ is still misclassified are dropped.
 *
 * @example const set = await misclassifiedPairs(model, defenderData, { limit: 150 });
 */
export async function misclassifiedPairs(model: Model, data: Dataset, opts: BlurMaskOptions = {}): Promise<PairSet> {
  const o = { ...BLUR_MASK_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as typeof BLUR_MASK_DEFAULTS &
    BlurMaskOptions;
  const dims = data.x.dims.slice(1);
  if (dims.length !== 3) throw new Error(`misclassified pairs need images [N, C, H, W]; the data is [${data.x.dims.join(', ')}]`);
  const len = dims.reduce((a, b) => a * b, 1);
  const { classes, predictions: pred } = await runClassifier(model, data.x, { runtime: o.runtime });
  const wrong: number[] = [];
  for (const row of new Rng(o.seed ?? 0).permutation(data.x.dims[0])) if (pred[row] !== Number(data.y.data[row])) wrong.push(row);
  const rows = wrong.slice(0, o.limit);
  const set: PairSet = { pairs: [], dims, fix: 'true-label', source: 'misclassified', oracle: false };
  if (rows.length === 0) return set;
  const g = maskGraph(model, dims, o);
  const exe = await compile(g.model, o.runtime);
  const n = rows.length;
  const [, H, W] = dims;
  const xs = new Float32Array(n * len);
  rows.forEach((r, i) => xs.set((data.x.data as Float32Array).subarray(r * len, (r + 1) * len), i * len));
  const hot = new Float32Array(n * classes);
  rows.forEach((r, i) => (hot[i * classes + Number(data.y.data[r])] = 1));
  // θ starts at −3 everywhere: a faint mask (sigmoid(−3) ≈ 0.05) that the descent grows where it helps.
  const theta: HostTensor = { dtype: 'float32', dims: [n, 1, H, W], data: new Float32Array(n * H * W).fill(THETA0) };
  const params = new Map([['theta', theta]]);
  const adam = new Optimizer({ name: 'adam' });
  const feeds = () => ({
    [g.theta]: params.get('theta')!,
    [g.image]: { dtype: 'float32' as const, dims: [n, ...dims], data: xs },
    [g.onehot]: { dtype: 'float32' as const, dims: [n, classes], data: hot },
  });
  for (let s = 0; s < o.steps; s++) {
    const out = await exe.run(feeds(), [g.gradient]);
    adam.step(params, new Map([['theta', out[g.gradient]]]), o.lr);
    o.onProgress?.(s + 1, o.steps);
  }
  const out = await exe.run(feeds(), [g.logits, g.mixed]);
  const p = argmax(out[g.logits].data as Float32Array, classes);
  const mixed = out[g.mixed].data as Float32Array;
  rows.forEach((r, i) => {
    const label = Number(data.y.data[r]);
    if (p[i] !== label) return;
    set.pairs.push({ x: xs.slice(i * len, (i + 1) * len), clean: mixed.slice(i * len, (i + 1) * len), label, wrong: pred[r], row: r });
  });
  return set;
}
