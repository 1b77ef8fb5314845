// The training loop: minibatch gradient steps on a differentiated ONNX graph, with masks and checkpoints.
import { fixedBatch } from '../onnx/batch-dim.js';
import { takeRows, type Dataset } from '../data/batches.js';
import { differentiate } from '../autodiff/differentiate.js';
import { withParams } from '../params/with-params.js';
import { describeParams } from '../params/describe.js';
import { GraphBuilder } from '../onnx/builder.js';
import { cloneModel, floatInitializers, type Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { loadCheckpoint, saveCheckpoint, type RunPosition } from './checkpoint.js';
import { evaluate } from '../tasks/run.js';
import { withLoss, type LossKind } from './losses.js';
import { trainingGraph, UPDATED_SUFFIX } from './training-graph.js';
import { defaultLearningRate, learningRate, Optimizer, type OptimizerOptions, type ScheduleOptions } from './optimizers.js';

export { UPDATED_SUFFIX };
export { withParams };

/**
 * What each step minimises on its batch B (default 'plain': the loss L(w; B)).
 * - 'perturbed': L*(w) = (1−α)·L(w; B) + α·L(w + a; B), where a = perturb(∇L(w; B)) is held constant, so the step
 *   gradient is (1−α)·∇L(w) + α·∇L(w + a): two passes of the same graph per step (adversarial corruption-resistant
 *   training when `perturb` is the worst-case corruption; the trainer knows nothing about how a is chosen).
 * - 'grad-norm': L(w; B) + λ·||∇_S L(w; B)||_q over the parameters S (default the trainable ones), q ≥ 1 or Infinity;
 *   the penalty is appended to the differentiated graph, which is then differentiated again.
 */
export type Objective =
  | { kind: 'plain' }
  | {
      kind: 'perturbed';
      alpha: number;
      /** The perturbation of some trainable parameters, from the clean batch gradient of every trainable parameter. */
      perturb: (grads: ReadonlyMap<string, HostTensor>) => Map<string, Float32Array>;
      /** The perturbation's settings, recorded in checkpoints so that a resume must use the same ones. */
      id?: string;
    }
  | { kind: 'grad-norm'; lambda: number; q: number; params?: readonly string[] };

export interface TrainOptions {
  /** What each step minimises (default 'plain'). */
  objective?: Objective;
  /**
   * Training-mode graph (batch statistics, dropout) sharing parameter names with the model; default
   * `trainingGraph(model)`: its BatchNorms on batch statistics with their running statistics updated, as PyTorch's
   * `model.train()`, or the model itself with `frozenBatchNorm`.
   */
  trainModel?: Model;
  /** Without `trainModel`: keep BatchNorm on the model's running statistics, frozen (fine-tuning with small batches). */
  frozenBatchNorm?: boolean;
  epochs?: number;
  batchSize?: number;
  /** Base learning rate (default: defaultLearningRate, 0.05 for sgd, 1e-3 for adam/adamw). */
  lr?: number;
  optimizer?: OptimizerOptions;
  schedule?: ScheduleOptions;
  /** Seeds the shuffling (default 0). */
  seed?: number;
  loss?: LossKind;
  /** Parameters that may change (default: every float initializer that is not an updated buffer). */
  trainable?: readonly string[];
  /** Per-parameter masks, 1 where an entry may move: only that subset of each tensor is trained. */
  masks?: Map<string, Uint8Array>;
  validation?: Dataset;
  /** Write a checkpoint here every `checkpointEvery` steps and at the end of each epoch. */
  checkpoint?: string;
  checkpointEvery?: number;
  /** Resume from this checkpoint (must come from a run with the same settings). */
  resume?: string;
  /** Stop (after writing a checkpoint) once this signal aborts, e.g. on Ctrl-C. */
  signal?: AbortSignal;
  /** Stop after this many steps in total (for tests of interruption). */
  maxSteps?: number;
  runtime?: RuntimeOptions;
  onStep?: (s: StepInfo) => void;
  onEpoch?: (e: EpochInfo) => void;
  /**
   * Called after each optimiser step with the parameters (host tensors the next step reads; edit them in place, e.g.
   * a proximal step or resetting entries), the step's info and the optimiser (its per-entry state, for step sizes);
   * `masks` may be edited in place too. Runs before `onStep`.
   */
  afterStep?: (params: Map<string, HostTensor>, s: StepInfo, optimizer: Optimizer) => void;
}

/** `loss` is the clean batch loss L(w; B); `objective` the value minimised, when that differs (a non-plain objective). */
export interface StepInfo {
  epoch: number;
  step: number;
  totalSteps: number;
  loss: number;
  objective?: number;
  lr: number;
  examplesPerSecond: number;
}
export interface EpochInfo {
  epoch: number;
  trainLoss: number;
  trainObjective?: number;
  validationAccuracy?: number;
  validationLoss?: number;
}

export interface TrainResult {
  /** The evaluation-mode model with trained parameters. */
  model: Model;
  params: Map<string, HostTensor>;
  history: EpochInfo[];
  /** False when the run stopped early (signal or maxSteps). */
  completed: boolean;
  steps: number;
}

function copyTensor(t: HostTensor): HostTensor {
  return { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() as HostTensor['data'] };
}

/**
 * Train a classifier with minibatch gradient descent. Deterministic for a given seed: a resumed run
 * ends with the same parameters as an uninterrupted one.
 *
 * @example
 * const { model } = await train(buildModel('lenet5'), trainSet, { epochs: 5, trainModel: buildModel('lenet5', { mode: 'train' }) });
 */
export async function train(model: Model, data: Dataset, opts: TrainOptions = {}): Promise<TrainResult> {
  const epochs = opts.epochs ?? 10;
  // A graph that hard-codes its batch size trains at that size (openModel's note says so).
  const batchSize = fixedBatch(model) ?? opts.batchSize ?? 64;
  const optimizer = new Optimizer(opts.optimizer);
  const lr0 = opts.lr ?? defaultLearningRate(optimizer.opts.name);
  const seed = opts.seed ?? 0;
  const trainGraph = opts.trainModel ?? (opts.frozenBatchNorm ? model : trainingGraph(model));

  const buffers = trainGraph.graph.outputs.filter((o) => o.name.endsWith(UPDATED_SUFFIX)).map((o) => o.name);
  const bufferOf = new Map(buffers.map((o) => [o, o.slice(0, -UPDATED_SUFFIX.length)]));
  const bufferNames = new Set(bufferOf.values());
  const allFloat = floatInitializers(trainGraph.graph).map((i) => i.name);
  // By default every float parameter trains except buffers: a training graph's BatchNorm running statistics (updated
  // by ':new' outputs) and, in an inference graph (a model to fine-tune), the statistics its BatchNorms read.
  const statistics = new Set(
    describeParams(trainGraph)
      .filter((p) => !p.trainable)
      .map((p) => p.name),
  );
  const trainable = opts.trainable ? [...opts.trainable] : allFloat.filter((n) => !bufferNames.has(n) && !statistics.has(n));
  for (const t of trainable) if (!allFloat.includes(t)) throw new Error(`cannot train '${t}': not a float initializer of the model`);

  const n = data.x.dims[0];
  const stepsPerEpoch = Math.floor(n / batchSize);
  if (stepsPerEpoch < 1) throw new Error(`dataset has ${n} examples, fewer than one batch of ${batchSize}`);
  const totalSteps = stepsPerEpoch * epochs;

  const objective = checkObjective(opts.objective ?? { kind: 'plain' }, trainable);

  const { model: lossModel, loss, target } = withLoss(trainGraph, { kind: opts.loss ?? 'cross-entropy' });
  const { model: promoted, values } = promoteToInputs(lossModel, allFloat);
  const { model: gradModel, gradients, objectiveOutput } = stepGraph(promoted, loss, trainable, objective);
  for (const name of [...buffers, ...(objectiveOutput ? [objectiveOutput] : [])]) {
    if (!gradModel.graph.outputs.some((o) => o.name === name)) gradModel.graph.outputs.push({ name });
  }
  const exe = await compile(gradModel, opts.runtime);
  const input = gradModel.graph.inputs.find((v) => !values.has(v.name) && v.name !== target)?.name;
  if (!input) throw new Error('model has no data input');

  const params = new Map<string, HostTensor>([...values].map(([k, v]) => [k, copyTensor(v)]));
  const fingerprint = JSON.stringify({
    epochs,
    batchSize,
    lr0,
    seed,
    n,
    opt: optimizer.opts,
    schedule: opts.schedule ?? {},
    trainable,
    ...(objective.kind === 'plain' ? {} : { objective: { ...objective, perturb: undefined } }),
  });
  let position: RunPosition = { step: 0, epoch: 0, stepInEpoch: 0, fingerprint };
  if (opts.resume) {
    const c = await loadCheckpoint(opts.resume);
    if (c.position.fingerprint !== fingerprint) throw new Error(`checkpoint ${opts.resume} comes from a run with other settings; cannot resume`);
    for (const [k, v] of c.params) if (params.has(k)) params.set(k, v);
    optimizer.state = c.optimizer;
    position = c.position;
  }
  const checkpoint = async () => {
    if (opts.checkpoint) await saveCheckpoint(opts.checkpoint, { position, params, optimizer: optimizer.state });
  };

  const history: EpochInfo[] = [];
  const outputs = [loss, ...trainable.map((t) => gradients.get(t)!), ...buffers, ...(objectiveOutput ? [objectiveOutput] : [])];
  let completed = true;
  let t0 = performance.now();
  let seen = 0;
  run: for (let epoch = position.epoch; epoch < epochs; epoch++) {
    const order = new Rng(seed * 1000003 + epoch).permutation(n);
    let lossSum = 0;
    let objectiveSum = 0;
    let count = 0;
    for (let s = position.stepInEpoch; s < stepsPerEpoch; s++) {
      if (opts.signal?.aborted || (opts.maxSteps !== undefined && position.step >= opts.maxSteps)) {
        completed = false;
        break run;
      }
      const rows = order.subarray(s * batchSize, (s + 1) * batchSize);
      const feeds: Record<string, HostTensor> = { [input]: takeRows(data.x, rows), [target]: takeRows(data.y, rows) };
      for (const [k, v] of params) feeds[k] = v;
      const out = await exe.run(feeds, outputs);
      const lossValue = Number(out[loss].data[0]);
      if (!Number.isFinite(lossValue)) throw new Error(`training diverged: loss is ${lossValue} at epoch ${epoch + 1}, step ${s + 1}; lower the learning rate`);
      let grads = new Map(trainable.map((t) => [t, out[gradients.get(t)!]]));
      let objectiveValue = objectiveOutput ? Number(out[objectiveOutput].data[0]) : undefined;
      if (objective.kind === 'perturbed' && objective.alpha > 0) {
        // L*: a second pass at w + a with a fixed; buffers (BN running statistics) come from the clean pass.
        const shifted = { ...feeds };
        for (const [k, d] of objective.perturb(grads)) {
          const w = params.get(k);
          if (!w || !trainable.includes(k)) throw new Error(`objective: the perturbation changes '${k}', which is not a trainable parameter`);
          shifted[k] = addDelta(w, d);
        }
        const out2 = await exe.run(shifted, outputs);
        const alpha = objective.alpha;
        objectiveValue = (1 - alpha) * lossValue + alpha * Number(out2[loss].data[0]);
        grads = new Map(trainable.map((t) => [t, mix(1 - alpha, grads.get(t)!, alpha, out2[gradients.get(t)!])]));
      }
      if (objectiveValue !== undefined && !Number.isFinite(objectiveValue)) {
        throw new Error(
          `training diverged: the objective is ${objectiveValue} at epoch ${epoch + 1}, step ${s + 1}; lower the learning rate or the corruption strength`,
        );
      }
      const lr = learningRate(lr0, position.step, totalSteps, stepsPerEpoch, opts.schedule);
      optimizer.step(params, grads, lr, opts.masks);
      for (const b of buffers) params.set(bufferOf.get(b)!, out[b]);
      position = { ...position, step: position.step + 1, epoch, stepInEpoch: s + 1 };
      if (opts.afterStep)
        opts.afterStep(params, { epoch, step: position.step, totalSteps, loss: lossValue, objective: objectiveValue, lr, examplesPerSecond: 0 }, optimizer);
      lossSum += lossValue;
      objectiveSum += objectiveValue ?? lossValue;
      count++;
      seen += rows.length;
      if (opts.onStep) {
        const dt = (performance.now() - t0) / 1000;
        opts.onStep({ epoch, step: position.step, totalSteps, loss: lossValue, objective: objectiveValue, lr, examplesPerSecond: seen / Math.max(dt, 1e-9) });
      }
      if (opts.checkpointEvery && position.step % opts.checkpointEvery === 0) await checkpoint();
    }
    position = { ...position, epoch: epoch + 1, stepInEpoch: 0 };
    const info: EpochInfo = { epoch, trainLoss: count ? lossSum / count : NaN };
    if (objective.kind !== 'plain') info.trainObjective = count ? objectiveSum / count : NaN;
    if (opts.validation) {
      const r = await evaluate(withParams(model, params), opts.validation, { runtime: opts.runtime });
      info.validationAccuracy = r.accuracy;
      info.validationLoss = r.loss;
    }
    history.push(info);
    opts.onEpoch?.(info);
    await checkpoint();
    t0 = performance.now();
    seen = 0;
  }
  if (!completed) await checkpoint();
  return { model: withParams(model, params), params, history, completed, steps: position.step };
}

/** Validate an objective against the trainable parameters before any work starts. */
function checkObjective(o: Objective, trainable: readonly string[]): Objective {
  switch (o.kind) {
    case 'plain':
      return o;
    case 'perturbed':
      if (!(o.alpha >= 0 && o.alpha <= 1)) throw new Error(`objective: α must be in [0, 1], got ${o.alpha}`);
      if (typeof o.perturb !== 'function') throw new Error('objective: a perturbed objective needs a perturb function');
      return o;
    case 'grad-norm': {
      if (!(Number.isFinite(o.lambda) && o.lambda >= 0)) throw new Error(`objective: λ must be a finite number ≥ 0, got ${o.lambda}`);
      if (!(o.q >= 1)) throw new Error(`objective: the gradient norm q must be ≥ 1 (or Infinity), got ${o.q}`);
      for (const p of o.params ?? []) if (!trainable.includes(p)) throw new Error(`objective: '${p}' is not a trainable parameter`);
      if (o.params && o.params.length === 0) throw new Error('objective: the gradient norm needs at least one parameter');
      return o;
    }
    default:
      throw new Error(`unknown objective '${(o as { kind: string }).kind}'`);
  }
}

/**
 * The graph a step runs: loss and gradients of the trainable parameters; for 'grad-norm', of L + λ·||∇_S L||_q,
 * built by appending the norm to the differentiated graph and differentiating that (a gradient of a gradient).
 * `objectiveOutput` names the penalised loss when it differs from the loss.
 */
function stepGraph(
  promoted: Model,
  loss: string,
  trainable: string[],
  objective: Objective,
): { model: Model; gradients: Map<string, string>; objectiveOutput?: string } {
  if (objective.kind !== 'grad-norm') {
    const { model, gradients } = differentiate(promoted, { of: loss, wrt: trainable, keepOutputs: false });
    return { model, gradients };
  }
  const normOver = [...(objective.params ?? trainable)];
  const first = differentiate(promoted, { of: loss, wrt: normOver, keepOutputs: false });
  const b = new GraphBuilder(first.model.graph);
  const norm = gradientNorm(
    b,
    normOver.map((w) => first.gradients.get(w)!),
    objective.q,
  );
  const total = b.op('Add', [loss, b.op('Mul', [norm, b.constant(objective.lambda)])], undefined, 'objective');
  const second = differentiate(first.model, { of: total, wrt: trainable, keepOutputs: false });
  if (!second.model.graph.outputs.some((o) => o.name === loss)) second.model.graph.outputs.push({ name: loss });
  return { model: second.model, gradients: second.gradients, objectiveOutput: total };
}

/** ||concat(gs)||_q as graph ops: q = 2 → √Σg², q = 1 → Σ|g|, q = ∞ → max |g|, else (Σ|g|^q)^{1/q}. */
function gradientNorm(b: GraphBuilder, gs: string[], q: number): string {
  const sumAll = (x: string) => b.op('ReduceSum', [x], { keepdims: 0 });
  const combine = (op: string, xs: string[]) => (xs.length === 1 ? xs[0] : b.op(op, xs));
  if (q === Infinity)
    return combine(
      'Max',
      gs.map((g) => b.op('ReduceMax', [b.op('Abs', [g])], { keepdims: 0 })),
    );
  if (q === 1)
    return combine(
      'Sum',
      gs.map((g) => sumAll(b.op('Abs', [g]))),
    );
  if (q === 2)
    return b.op('Sqrt', [
      combine(
        'Sum',
        gs.map((g) => sumAll(b.op('Mul', [g, g]))),
      ),
    ]);
  const powered = combine(
    'Sum',
    gs.map((g) => sumAll(b.op('Pow', [b.op('Abs', [g]), b.constant(q)]))),
  );
  return b.op('Pow', [powered, b.constant(1 / q)]);
}

function addDelta(t: HostTensor, d: Float32Array): HostTensor {
  const w = t.data as Float32Array;
  if (w.length !== d.length) throw new Error(`perturbation of length ${d.length} for a parameter of ${w.length} entries`);
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) out[i] = w[i] + d[i];
  return { dtype: t.dtype, dims: t.dims, data: out };
}

function mix(a: number, x: HostTensor, b: number, y: HostTensor): HostTensor {
  const xd = x.data as Float32Array;
  const yd = y.data as Float32Array;
  const out = new Float32Array(xd.length);
  for (let i = 0; i < xd.length; i++) out[i] = a * xd[i] + b * yd[i];
  return { dtype: x.dtype, dims: x.dims, data: out };
}
