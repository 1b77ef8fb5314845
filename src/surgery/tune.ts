// The tuning every surgery method runs: the trainer on the edit's data, BatchNorm frozen on its running statistics
// (the inference model is the one edited), only the selected parameters, optionally masked and with a hook per step.
import type { Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { LossKind } from '../train/losses.js';
import type { Optimizer, OptimizerName, ScheduleName } from '../train/optimizers.js';
import { train, type StepInfo } from '../train/trainer.js';

/** The optimisation settings shared by every method. */
export interface TuneSettings {
  /** Optimiser steps of a run (default 600). */
  steps: number;
  /** Examples per step (default 64). */
  batchSize: number;
  /** Base learning rate (default 0.01 with adam). */
  lr: number;
  optimizer: OptimizerName;
  schedule: ScheduleName;
  /** 'cross-entropy' on int64 labels, or 'kl' on float target logits [n, classes] (distillation). */
  loss?: LossKind;
  seed: number;
  runtime?: RuntimeOptions;
  signal?: AbortSignal;
  /** Progress: the phase, steps done and total, the batch loss. */
  onStep?: (phase: string, s: StepInfo) => void;
}

export const TUNE_DEFAULTS = { steps: 600, batchSize: 64, lr: 0.01, optimizer: 'adam' as OptimizerName, schedule: 'cosine' as ScheduleName, seed: 0 };

/** What a method works on: the model, the mixed training stream, and the parameters that may change. */
export interface TuneContext {
  model: Model;
  /** `settings.steps × settings.batchSize` examples: one pass is one run. */
  data: Dataset;
  /** Names of the parameters that may change, in graph order. */
  names: string[];
  settings: TuneSettings;
}

export interface TuneRun {
  /** Masks over `names` (1 = may move); absent: every entry of every name moves. Edited in place by `afterStep` hooks. */
  masks?: Map<string, Uint8Array>;
  /** Stop after this many steps (a short probing run); default the whole stream. */
  maxSteps?: number;
  /** Called after each optimiser step with the parameters (edit them in place) and the step. */
  afterStep?: (params: Map<string, HostTensor>, s: StepInfo, optimizer: Optimizer) => void;
  /** A name for progress lines. */
  phase: string;
}

export interface Tuned {
  model: Model;
  steps: number;
  /** Mean training loss of the last tenth of the steps. */
  finalLoss: number;
  stopped: boolean;
}

/**
 * One tuning run of `ctx.names` on `ctx.data` (one pass = `settings.steps` steps), BatchNorm frozen, no weight decay
 * (entries outside the masks keep their exact bits).
 *
 * @example const { model } = await tune(ctx, { phase: 'finetune' });
 */
export async function tune(ctx: TuneContext, run: TuneRun): Promise<Tuned> {
  const s = ctx.settings;
  const losses: number[] = [];
  const res = await train(ctx.model, ctx.data, {
    frozenBatchNorm: true,
    trainable: ctx.names,
    masks: run.masks,
    epochs: 1,
    batchSize: s.batchSize,
    lr: s.lr,
    optimizer: { name: s.optimizer, weightDecay: 0 },
    schedule: { name: s.schedule },
    loss: s.loss,
    seed: s.seed,
    runtime: s.runtime,
    signal: s.signal,
    maxSteps: run.maxSteps,
    afterStep: run.afterStep,
    onStep: (info) => {
      losses.push(info.loss);
      s.onStep?.(run.phase, { ...info, totalSteps: run.maxSteps ?? info.totalSteps });
    },
  });
  const tail = losses.slice(-Math.max(1, Math.floor(losses.length / 10)));
  return { model: res.model, steps: res.steps, finalLoss: tail.reduce((a, b) => a + b, 0) / tail.length, stopped: !!s.signal?.aborted };
}

/** Copies of the named parameters' values (the starting point w0). */
export function snapshot(model: Model, names: readonly string[]): Map<string, Float32Array> {
  return new Map(names.map((n) => [n, Float32Array.from(model.graph.initializers.get(n)!.tensor!.data as Float32Array)]));
}

/** All-zero masks over the named parameters. */
export function emptyMasks(model: Model, names: readonly string[]): Map<string, Uint8Array> {
  return new Map(names.map((n) => [n, new Uint8Array(model.graph.initializers.get(n)!.tensor!.data.length)]));
}
