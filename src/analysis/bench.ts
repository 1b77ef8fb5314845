// Time a model's forward pass and its forward+backward pass on one batch.
import { performance } from 'node:perf_hooks';
import { differentiate } from '../autodiff/differentiate.js';
import { bindRecurrentDims } from '../onnx/bind-dims.js';
import type { Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile, type Executable, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { type LossKind, withLoss } from '../train/losses.js';
import { checkFeeds } from './feeds.js';
import { selectParameters } from './gradients.js';

export interface BenchOptions {
  /** Untimed runs before measuring (default 3). */
  warmup?: number;
  /** Timed runs (default 20). */
  iters?: number;
  /** Loss for the backward pass when the data holds labels (default 'cross-entropy'). */
  loss?: LossKind;
  /** Name of the label/target tensor (default 'y'); without it the backward pass differentiates the sum of the output. */
  labels?: string;
  /** Execution provider and threads. */
  runtime?: RuntimeOptions;
  /** Name of the data source, for messages. */
  source?: string;
  /** Called after each run: phase, runs done, runs in the phase (warm-up included). */
  onProgress?: (phase: BenchPhase, done: number, total: number) => void;
}

export type BenchPhase = 'forward' | 'forward+backward';

export interface Timing {
  medianMs: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

export interface BenchReport {
  /** Leading dim of the first input. */
  batch?: number;
  warmup: number;
  iters: number;
  /** Threads asked for (null: the runtime default). */
  threads: number | null;
  /** Execution provider asked for (null: the runtime default). */
  provider: string | null;
  /** What the backward pass differentiates: 'cross-entropy(logits, y)' or 'sum(logits)'. */
  objective: string;
  /** Parameter tensors and elements differentiated in the backward pass. */
  parameterTensors: number;
  parameters: number;
  forward: Timing;
  forwardBackward: Timing;
  /** forwardBackward.medianMs / forward.medianMs. */
  ratio: number;
}

function timing(samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { medianMs: median, meanMs: s.reduce((a, b) => a + b, 0) / s.length, minMs: s[0], maxMs: s[s.length - 1] };
}

async function measure(
  exe: Executable,
  feeds: Record<string, HostTensor>,
  phase: BenchPhase,
  warmup: number,
  iters: number,
  opts: BenchOptions,
): Promise<Timing> {
  const samples: number[] = [];
  const total = warmup + iters;
  for (let k = 0; k < total; k++) {
    const t0 = performance.now();
    await exe.run(feeds);
    const dt = performance.now() - t0;
    if (k >= warmup) samples.push(dt);
    opts.onProgress?.(phase, k + 1, total);
  }
  return timing(samples);
}

/**
 * Median milliseconds per batch of the forward pass, and of forward+backward with respect to every
 * floating-point initializer, after warm-up runs.
 *
 * @example
 * const r = await benchModel(loadModel('mlp.onnx'), await loadData('mlp.safetensors'), { iters: 50 });
 * console.log(r.forward.medianMs, r.forwardBackward.medianMs);
 */
export async function benchModel(model: Model, data: ReadonlyMap<string, HostTensor>, opts: BenchOptions = {}): Promise<BenchReport> {
  const warmup = opts.warmup ?? 3;
  const iters = opts.iters ?? 20;
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`warmup must be a non-negative integer, got ${warmup}`);
  if (!Number.isInteger(iters) || iters < 1) throw new Error(`iters must be a positive integer, got ${iters}`);
  const kind = opts.loss ?? 'cross-entropy';
  const labels = opts.labels ?? 'y';
  const checked = checkFeeds(model, data, { source: opts.source, target: { name: labels, kind, required: false } });
  const names = selectParameters(model);

  // Build both graphs (and fail on missing gradient rules) before timing anything.
  const output = model.graph.outputs[0].name;
  let objective: string;
  let backward: Model;
  let of: string;
  const feeds: Record<string, HostTensor> = { ...checked.feeds };
  if (checked.target) {
    const lossy = withLoss(bindRecurrentDims(model, checked.dims), { kind, target: labels });
    backward = lossy.model;
    of = lossy.loss;
    feeds[labels] = checked.target;
    objective = `${kind}(${output}, ${labels})`;
  } else {
    backward = bindRecurrentDims(model, checked.dims);
    of = output;
    objective = `sum(${output})`;
  }
  const { model: promoted, values } = promoteToInputs(backward, names);
  const { model: graph } = differentiate(promoted, { of, wrt: names, keepOutputs: false });
  for (const [k, v] of values) feeds[k] = v;

  const fwd = await compile(model, opts.runtime);
  const bwd = await compile(graph, opts.runtime);
  const forward = await measure(fwd, checked.feeds, 'forward', warmup, iters, opts);
  const forwardBackward = await measure(bwd, feeds, 'forward+backward', warmup, iters, opts);
  return {
    batch: checked.batch,
    warmup,
    iters,
    threads: opts.runtime?.threads ?? null,
    provider: opts.runtime?.executionProvider ?? null,
    objective,
    parameterTensors: names.length,
    parameters: [...values.values()].reduce((a, t) => a + t.data.length, 0),
    forward,
    forwardBackward,
    ratio: forwardBackward.medianMs / forward.medianMs,
  };
}
