// Tuning under a constraint on the clean outputs: minimise the pattern loss subject to KL(old ‖ new) ≤ κ on clean
// inputs, by a Lagrange multiplier μ on the clean term updated by dual ascent, rather than a fixed weighted sum. Each
// step takes a pattern batch and an augmented clean batch (the clean constraint covers the data's neighbourhood).
import { differentiate } from '../autodiff/differentiate.js';
import { takeRows, type Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { withParams } from '../params/with-params.js';
import { compile } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { dataInput } from '../tasks/classifier.js';
import { runClassifier } from '../tasks/run.js';
import { GraphBuilder, tensorValueInfo } from '../onnx/builder.js';
import { cloneModel, onnxOpset } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shapes.js';
import { learningRate, Optimizer } from '../train/optimizers.js';
import { augmentImages, valueStd } from './augment.js';
import type { TuneContext, Tuned } from './tune.js';

/** A pattern input's target logits: its label's logit this much above the others (p ≈ 0.9995 for 10 classes). */
const PATTERN_MARGIN = 10;
/** Dual ascent: μ ← max(0, μ + RATE · (KL/κ − 1)) after each step, KL a running mean over about 10 steps. */
const RATE = 0.05;

export interface ConstrainedRun {
  pattern: Dataset;
  clean: Dataset;
  /** κ, in nats per clean input. */
  bound: number;
  /** μ at the start. */
  multiplier: number;
  /** Pattern inputs per step (the rest of the batch is clean). */
  patternBatch: number;
  /** Augmentations of the clean inputs: largest shift in pixels, noise as a share of the clean data's std. */
  shift: number;
  noise: number;
  masks?: Map<string, Uint8Array>;
  /** After each optimiser step (from 1): prune, reset. */
  afterStep?: (params: Map<string, HostTensor>, step: number) => void;
  phase: string;
}

export interface ConstrainedTuned extends Tuned {
  multiplier: number;
  /** The running mean of the clean KL at the end. */
  kl: number;
}

/**
 * The model with a weighted KL loss: inputs `target` (target logits [batch, classes]) and `weight` ([batch]); outputs
 * `rowKl` (KL(softmax(target) ‖ softmax(logits)) per row) and `loss` = Σ weight · rowKl. One pass serves both parts
 * of a batch, each with its own weight (1/|pattern| for pattern rows, μ/|clean| for clean rows).
 */
function weightedKl(model: Model): { model: Model; target: string; weight: string; rowKl: string; loss: string } {
  const m = cloneModel(model);
  const b = new GraphBuilder(m.graph);
  onnxOpset(m);
  const out = m.graph.outputs[0].name;
  const target = b.input(b.fresh('target'), 'float32', inferTypes(model).get(out)?.shape);
  const weight = b.input(b.fresh('row_weight'), 'float32', ['batch']);
  const logq = b.op('LogSoftmax', [out], { axis: -1 });
  const logp = b.op('LogSoftmax', [target], { axis: -1 });
  const rowKl = b.op('ReduceSum', [b.op('Mul', [b.op('Exp', [logp]), b.op('Sub', [logp, logq])]), b.ints([-1])], { keepdims: 0 }, 'row_kl');
  const loss = b.op('ReduceSum', [b.op('Mul', [rowKl, weight])], { keepdims: 0 }, 'weighted_kl');
  m.graph.outputs.push(tensorValueInfo(rowKl, 'float32', ['batch']), tensorValueInfo(loss, 'float32', []));
  return { model: m, target, weight, rowKl, loss };
}

/** Cycle through n rows in seeded permutations. */
function cycler(n: number, seed: number): (count: number) => number[] {
  let perm = new Rng(seed).permutation(n);
  let j = 0;
  let round = 0;
  return (count) => {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      if (j === n) {
        perm = new Rng(seed + ++round).permutation(n);
        j = 0;
      }
      out.push(perm[j++]);
    }
    return out;
  };
}

/**
 * `ctx.settings.steps` steps of the optimiser on L_pattern + μ·KL_clean(old ‖ new), μ raised while the clean KL's
 * running mean is above `bound` and lowered (to no less than 0) while it is below; only `ctx.names` (within `masks`)
 * move, every other entry keeps its bits. Deterministic for a seed.
 *
 * @example const r = await constrainedTune(ctx, { pattern, clean, bound: 0.01, multiplier: 1, patternBatch: 21, shift: 2, noise: 0.1, phase: 'constrained' });
 */
export async function constrainedTune(ctx: TuneContext, run: ConstrainedRun): Promise<ConstrainedTuned> {
  const s = ctx.settings;
  if (!(run.bound > 0)) throw new Error(`--kl-bound must be > 0, got ${run.bound}`);
  const cleanBatch = s.batchSize - run.patternBatch;
  if (run.patternBatch < 1 || cleanBatch < 1) throw new Error(`a batch of ${s.batchSize} cannot hold both pattern and clean inputs`);
  const lossy = weightedKl(ctx.model);
  const { model: promoted, values } = promoteToInputs(lossy.model, ctx.names);
  const { model: graph, gradients } = differentiate(promoted, { of: lossy.loss, wrt: ctx.names, keepOutputs: false });
  if (!graph.graph.outputs.some((o) => o.name === lossy.rowKl)) graph.graph.outputs.push({ name: lossy.rowKl });
  const exe = await compile(graph, s.runtime);
  const old = await compile(ctx.model, s.runtime);
  const input = dataInput(promoted, values);
  const params = new Map<string, HostTensor>([...values].map(([k, v]) => [k, { dtype: v.dtype, dims: [...v.dims], data: (v.data as Float32Array).slice() }]));
  const outputs = [lossy.rowKl, ...ctx.names.map((n) => gradients.get(n)!)];
  const bp = run.patternBatch;
  const rows = s.batchSize;
  const optimizer = new Optimizer({ name: s.optimizer, weightDecay: 0 });
  const nextPattern = cycler(run.pattern.x.dims[0], s.seed + 101);
  const nextClean = cycler(run.clean.x.dims[0], s.seed + 202);
  const rng = new Rng(s.seed + 303);
  const dataStd = valueStd(run.clean.x);
  let classes = 0;
  let mu = run.multiplier;
  let klMean = NaN;
  const losses: number[] = [];
  let step = 0;
  const t0 = performance.now();
  for (; step < s.steps; step++) {
    if (s.signal?.aborted) break;
    const rp = nextPattern(run.patternBatch);
    const xp = takeRows(run.pattern.x, rp);
    const yp = takeRows(run.pattern.y, rp);
    const xc = augmentImages(takeRows(run.clean.x, nextClean(cleanBatch)), { shift: run.shift, noise: run.noise, scale: dataStd }, rng);
    const zc = await runClassifier(ctx.model, xc, { session: old, batchSize: cleanBatch });
    classes = zc.classes;
    // One batch: the pattern rows (target: their label's logit PATTERN_MARGIN above the rest, weight 1/bp), then the
    // clean rows (target: the original logits, weight μ/bc). The gradient is that of L_pattern + μ·KL_clean.
    const x = new Float32Array(xp.data.length + xc.data.length);
    x.set(xp.data as Float32Array);
    x.set(xc.data as Float32Array, xp.data.length);
    const target = new Float32Array(rows * classes);
    for (let i = 0; i < bp; i++) target[i * classes + Number(yp.data[i])] = PATTERN_MARGIN;
    target.set(zc.logits, bp * classes);
    const weight = new Float32Array(rows);
    // SGD's step grows with the gradient, so under SGD the objective is divided by 1 + μ (the same minimiser at each
    // μ, a step that stays bounded as μ grows: without it ResNet-20 diverged within 20 steps); Adam's step does not
    // scale with the gradient and is left as it was.
    const scale = s.optimizer === 'sgd' ? 1 / (1 + mu) : 1;
    weight.fill(scale / bp, 0, bp);
    weight.fill((scale * mu) / cleanBatch, bp);
    const o = await exe.run(
      {
        ...Object.fromEntries(params),
        [input]: { dtype: 'float32', dims: [rows, ...xp.dims.slice(1)], data: x },
        [lossy.target]: { dtype: 'float32', dims: [rows, classes], data: target },
        [lossy.weight]: { dtype: 'float32', dims: [rows], data: weight },
      },
      outputs,
    );
    const rowKl = o[lossy.rowKl].data as Float32Array;
    let lp = 0;
    let kl = 0;
    for (let i = 0; i < bp; i++) lp += rowKl[i] / bp;
    for (let i = bp; i < rows; i++) kl += rowKl[i] / cleanBatch;
    if (!Number.isFinite(lp) || !Number.isFinite(kl)) throw new Error(`constrained tuning diverged at step ${step + 1}; lower the learning rate`);
    const grads = new Map<string, HostTensor>(ctx.names.map((n, t) => [n, o[outputs[t + 1]]]));
    const lr = learningRate(s.lr, step, s.steps, s.steps, { name: s.schedule });
    optimizer.step(params, grads, lr, run.masks);
    klMean = Number.isNaN(klMean) ? kl : 0.9 * klMean + 0.1 * kl;
    mu = Math.max(0, mu + RATE * (klMean / run.bound - 1));
    run.afterStep?.(params, step + 1);
    losses.push(lp);
    const dt = (performance.now() - t0) / 1000;
    s.onStep?.(run.phase, {
      epoch: 0,
      step: step + 1,
      totalSteps: s.steps,
      loss: lp,
      objective: lp + mu * kl,
      lr,
      examplesPerSecond: ((step + 1) * s.batchSize) / Math.max(dt, 1e-9),
    });
  }
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return {
    model: withParams(ctx.model, params),
    steps: step,
    finalLoss: tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length),
    stopped: !!s.signal?.aborted,
    multiplier: mu,
    kl: klMean,
  };
}
