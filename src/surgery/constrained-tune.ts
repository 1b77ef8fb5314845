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
import { dataInput } from '../train/evaluate.js';
import { withLoss } from '../train/losses.js';
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
  const lossy = withLoss(ctx.model, { kind: 'kl' });
  const { model: promoted, values } = promoteToInputs(lossy.model, ctx.names);
  const { model: graph, gradients } = differentiate(promoted, { of: lossy.loss, wrt: ctx.names, keepOutputs: false });
  const exe = await compile(graph, s.runtime);
  const old = await compile(ctx.model, s.runtime);
  const input = dataInput(promoted, values);
  const output = ctx.model.graph.outputs[0].name;
  const params = new Map<string, HostTensor>([...values].map(([k, v]) => [k, { dtype: v.dtype, dims: [...v.dims], data: (v.data as Float32Array).slice() }]));
  const outputs = [lossy.loss, ...ctx.names.map((n) => gradients.get(n)!)];
  const optimizer = new Optimizer({ name: s.optimizer, weightDecay: 0 });
  const nextPattern = cycler(run.pattern.x.dims[0], s.seed + 101);
  const nextClean = cycler(run.clean.x.dims[0], s.seed + 202);
  const rng = new Rng(s.seed + 303);
  const scale = valueStd(run.clean.x);
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
    const xc = augmentImages(takeRows(run.clean.x, nextClean(cleanBatch)), { shift: run.shift, noise: run.noise, scale }, rng);
    const zc = (await old.run({ [input]: xc }, [output]))[output];
    classes = zc.dims[1];
    const tp = new Float32Array(run.patternBatch * classes);
    for (let i = 0; i < run.patternBatch; i++) tp[i * classes + Number(yp.data[i])] = PATTERN_MARGIN;
    const feeds = Object.fromEntries(params);
    const op = await exe.run({ ...feeds, [input]: xp, [lossy.target]: { dtype: 'float32', dims: [run.patternBatch, classes], data: tp } }, outputs);
    const oc = await exe.run({ ...feeds, [input]: xc, [lossy.target]: zc }, outputs);
    const lp = Number(op[lossy.loss].data[0]);
    const kl = Number(oc[lossy.loss].data[0]);
    if (!Number.isFinite(lp) || !Number.isFinite(kl)) throw new Error(`constrained tuning diverged at step ${step + 1}; lower the learning rate`);
    const grads = new Map<string, HostTensor>();
    ctx.names.forEach((n, t) => {
      const gp = op[outputs[t + 1]].data as Float32Array;
      const gc = oc[outputs[t + 1]].data as Float32Array;
      const g = new Float32Array(gp.length);
      for (let i = 0; i < g.length; i++) g[i] = gp[i] + mu * gc[i];
      grads.set(n, { dtype: 'float32', dims: op[outputs[t + 1]].dims, data: g });
    });
    const lr = learningRate(s.lr, step, s.steps, s.steps, { name: s.schedule });
    optimizer.step(params, grads, lr, run.masks);
    klMean = Number.isNaN(klMean) ? kl : 0.9 * klMean + 0.1 * kl;
    mu = Math.max(0, mu + RATE * (klMean / run.bound - 1));
    run.afterStep?.(params, step + 1);
    losses.push(lp);
    const dt = (performance.now() - t0) / 1000;
    s.onStep?.(run.phase, { epoch: 0, step: step + 1, totalSteps: s.steps, loss: lp, objective: lp + mu * kl, lr, examplesPerSecond: ((step + 1) * s.batchSize) / Math.max(dt, 1e-9) });
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
