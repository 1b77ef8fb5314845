// The training loop: minibatch gradient steps on a differentiated ONNX graph, with masks and checkpoints.
import { takeRows, type Dataset } from '../data/batches.js';
import { differentiate } from '../autodiff/differentiate.js';
import { cloneModel, floatInitializers, type Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { loadCheckpoint, saveCheckpoint, type RunPosition } from './checkpoint.js';
import { evaluate } from './evaluate.js';
import { withLoss, type LossKind } from './losses.js';
import { learningRate, Optimizer, type OptimizerOptions, type ScheduleOptions } from './optimizers.js';

/** Suffix of a training graph's outputs that carry updated buffers (BatchNormalization running statistics). */
export const UPDATED_SUFFIX = ':new';

export interface TrainOptions {
  /** Training-mode graph (batch statistics, dropout) sharing parameter names with the model; default the model itself. */
  trainModel?: Model;
  epochs?: number;
  batchSize?: number;
  /** Base learning rate (default 0.01 for sgd, 1e-3 for adam/adamw). */
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
}

export interface StepInfo { epoch: number; step: number; totalSteps: number; loss: number; lr: number; examplesPerSecond: number }
export interface EpochInfo { epoch: number; trainLoss: number; validationAccuracy?: number; validationLoss?: number }

export interface TrainResult {
  /** The evaluation-mode model with trained parameters. */
  model: Model;
  params: Map<string, HostTensor>;
  history: EpochInfo[];
  /** False when the run stopped early (signal or maxSteps). */
  completed: boolean;
  steps: number;
}

/** Replace a model's initializers with the given values (copying nothing else). */
export function withParams(model: Model, params: Map<string, HostTensor>): Model {
  const m = cloneModel(model);
  for (const [k, v] of params) {
    const init = m.graph.initializers.get(k);
    if (init) m.graph.initializers.set(k, { ...init, tensor: v, opaque: undefined });
  }
  return m;
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
  const batchSize = opts.batchSize ?? 64;
  const optimizer = new Optimizer(opts.optimizer);
  const lr0 = opts.lr ?? (optimizer.opts.name === 'sgd' ? 0.01 : 1e-3);
  const seed = opts.seed ?? 0;
  const trainGraph = opts.trainModel ?? model;

  const buffers = trainGraph.graph.outputs.filter((o) => o.name.endsWith(UPDATED_SUFFIX)).map((o) => o.name);
  const bufferOf = new Map(buffers.map((o) => [o, o.slice(0, -UPDATED_SUFFIX.length)]));
  const bufferNames = new Set(bufferOf.values());
  const allFloat = floatInitializers(trainGraph.graph).map((i) => i.name);
  const trainable = opts.trainable ? [...opts.trainable] : allFloat.filter((n) => !bufferNames.has(n));
  for (const t of trainable) if (!allFloat.includes(t)) throw new Error(`cannot train '${t}': not a float initializer of the model`);

  const n = data.x.dims[0];
  const stepsPerEpoch = Math.floor(n / batchSize);
  if (stepsPerEpoch < 1) throw new Error(`dataset has ${n} examples, fewer than one batch of ${batchSize}`);
  const totalSteps = stepsPerEpoch * epochs;

  const { model: lossModel, loss, target } = withLoss(trainGraph, { kind: opts.loss ?? 'cross-entropy' });
  const { model: promoted, values } = promoteToInputs(lossModel, allFloat);
  const { model: gradModel, gradients } = differentiate(promoted, { of: loss, wrt: trainable, keepOutputs: false });
  gradModel.graph.outputs.push(...buffers.map((name) => ({ name })));
  const exe = await compile(gradModel, opts.runtime);
  const input = gradModel.graph.inputs.find((v) => !values.has(v.name) && v.name !== target)?.name;
  if (!input) throw new Error('model has no data input');

  const params = new Map<string, HostTensor>([...values].map(([k, v]) => [k, copyTensor(v)]));
  const fingerprint = JSON.stringify({ epochs, batchSize, lr0, seed, n, opt: optimizer.opts, schedule: opts.schedule ?? {}, trainable });
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
  const outputs = [loss, ...trainable.map((t) => gradients.get(t)!), ...buffers];
  let completed = true;
  let t0 = performance.now();
  let seen = 0;
  run: for (let epoch = position.epoch; epoch < epochs; epoch++) {
    const order = new Rng(seed * 1000003 + epoch).permutation(n);
    let lossSum = 0;
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
      const grads = new Map(trainable.map((t) => [t, out[gradients.get(t)!]]));
      const lr = learningRate(lr0, position.step, totalSteps, stepsPerEpoch, opts.schedule);
      optimizer.step(params, grads, lr, opts.masks);
      for (const b of buffers) params.set(bufferOf.get(b)!, out[b]);
      position = { ...position, step: position.step + 1, epoch, stepInEpoch: s + 1 };
      lossSum += lossValue;
      count++;
      seen += rows.length;
      if (opts.onStep) {
        const dt = (performance.now() - t0) / 1000;
        opts.onStep({ epoch, step: position.step, totalSteps, loss: lossValue, lr, examplesPerSecond: seen / Math.max(dt, 1e-9) });
      }
      if (opts.checkpointEvery && position.step % opts.checkpointEvery === 0) await checkpoint();
    }
    position = { ...position, epoch: epoch + 1, stepInEpoch: 0 };
    const info: EpochInfo = { epoch, trainLoss: count ? lossSum / count : NaN };
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
