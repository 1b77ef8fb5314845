// Neural Cleanse (Wang et al., S&P 2019): for each label, the smallest mask-and-pattern trigger that sends clean images there.
import type { LabelledData } from '../data/load-dataset.js';
import { takeRows } from '../data/batches.js';
import { stampImages, type MaskTrigger, type Normalization } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import { getMetadata } from '../onnx/metadata.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { checkDataFits, classifierIO } from '../tasks/classifier.js';
import { matchNormalization } from '../tasks/normalization.js';
import { evaluate } from '../tasks/run.js';
import { Optimizer } from '../train/optimizers.js';
import { anomalyIndex, ANOMALY_THRESHOLD } from './anomaly.js';
import { relativeAnomaly } from './reference-norms.js';
import { triggerGraph } from './trigger-graph.js';

export interface ReconstructOptions {
  /** Labels to reconstruct (default: every class of the model). */
  labels?: number[];
  /** Most optimisation steps per label (default 1000). */
  steps?: number;
  /** Images per step (default 64). */
  batchSize?: number;
  /** Adam learning rate (default 0.1; β = (0.5, 0.9) as in Neural Cleanse). */
  lr?: number;
  /** The cost c once the attack first succeeds (default 1e-3). */
  initCost?: number;
  /** Share of a batch that must reach the label for a step to count as successful (default 0.99). */
  successThreshold?: number;
  /** Steps of the cost schedule: ×2 after this many successful steps, ÷2^1.5 after this many failing ones (default 5). */
  costPatience?: number;
  /** Stop after this many steps without a 1% smaller best mask, once the cost is set (default 25). */
  earlyStopPatience?: number;
  /** Seeds the initial mask and pattern and the batch order (default 0). */
  seed?: number;
  /**
   * The cost schedule (default 'batch'). 'original' follows Neural Cleanse's visualizer.py: a step is a pass over
   * `stepImages` images in mini-batches, judged by its mean success and mean ‖m‖₁; the cost is set after
   * `costPatience` successful steps in a row; the early stop waits until the cost has gone both up and down.
   * 'batch' is scalpel's first schedule: a step is one mini-batch, the cost is set at the first success, and the
   * early stop does not wait for the cost to move.
   */
  schedule?: ReconstructSchedule;
  /**
   * Per label (every class of the model, in order), the trigger norm a clean twin of the model needs (see
   * `referenceNorms`): labels are then flagged by the anomaly index of log(‖m‖₁ / reference) instead of ‖m‖₁.
   */
  reference?: number[];
  /** Images per step of the 'original' schedule (default 1,000, Neural Cleanse's NB_SAMPLE; at most the data's size). */
  stepImages?: number;
  runtime?: RuntimeOptions;
  signal?: AbortSignal;
  onProgress?: (label: number, step: number, steps: number, status: string) => void;
}

/** See `ReconstructOptions.schedule`. */
export type ReconstructSchedule = 'original' | 'batch';

export interface LabelTrigger {
  label: number;
  /** ‖m‖₁ of the best mask (the smallest among successful steps; the last one when no step succeeded). */
  l1: number;
  /** Whether some step reached the success threshold. */
  success: boolean;
  /** Share of the defender's images, stamped with the best trigger, classified as the label. */
  attackSuccess: number;
  steps: number;
  /** The cost c at the end. */
  cost: number;
  anomalyIndex: number;
  flagged: boolean;
  trigger: MaskTrigger;
}

export interface ReconstructResult {
  labels: LabelTrigger[];
  median: number;
  mad: number;
  threshold: number;
  /** Labels flagged as backdoor targets. */
  flagged: number[];
  /** Where the defender's data came from. */
  source: string;
  examples: number;
  seconds: number;
}

/** The normalisation a model expects: its metadata's, else the data's, else raw pixels. */
export function modelNormalization(model: Model, data?: LabelledData): Normalization {
  const recorded = getMetadata(model, 'scalpel.normalization');
  if (recorded) return JSON.parse(recorded) as Normalization;
  return data?.normalization ?? { mean: 0, std: 1 };
}

/** Raw [0, 1] pixels of normalised images. */
function toPixels(x: HostTensor, norm: Normalization, C: number): Float32Array {
  const src = x.data as Float32Array;
  const out = new Float32Array(src.length);
  const per = src.length / x.dims[0] / C;
  const at = (v: number | readonly number[], c: number) => (typeof v === 'number' ? v : v[c]);
  for (let i = 0; i < src.length; i++) {
    const c = Math.floor(i / per) % C;
    out[i] = src[i] * at(norm.std, c) + at(norm.mean, c);
  }
  return out;
}

/** atanh of a value in (0, 1) mapped to (−1, 1), kept off ±1. */
const toTanhSpace = (v: number) => Math.atanh((v - 0.5) * 2 * (1 - 1e-6));

function argmaxShare(logits: HostTensor, label: number): number {
  const [n, k] = logits.dims;
  const d = logits.data as Float32Array;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (d[i * k + j] > d[i * k + best]) best = j;
    if (best === label) hits++;
  }
  return hits / n;
}

/**
 * Reverse-engineer, for each label, the smallest trigger that sends the defender's clean images to it, and flag the
 * labels whose trigger is anomalously small (the anomaly index of the L1 norms). Only the inputs are differentiated;
 * the model's weights stay constant initializers.
 *
 * @param model an image classifier (input [N, C, H, W])
 * @param data the defender's clean data (see `defenderData`), never the test split
 *
 * @example
 * const defender = await loadDefenderData({ data: 'fashion-mnist' });
 * const r = await reconstruct(readModel('models/lenet5-badnets.onnx'), defender);
 * r.flagged; // [0]
 */
export async function reconstruct(model: Model, data: LabelledData, o: ReconstructOptions = {}): Promise<ReconstructResult> {
  const t0 = performance.now();
  const defender = matchNormalization(model, data);
  checkDataFits(model, defender);
  const n = defender.x.dims[0];
  if (n === 0) throw new Error(`defender data ${defender.source} is empty`);
  const norm = modelNormalization(model, defender);
  const graph = triggerGraph(model, norm);
  const { channels: C, height: H, width: W } = graph.shape;
  const exe = await compile(graph.model, o.runtime);
  const classes = classifierIO(model).classes;
  const labels = o.labels ?? Array.from({ length: classes }, (_, i) => i);
  for (const t of labels) {
    if (!Number.isInteger(t) || t < 0 || t >= classes) throw new Error(`label ${t} is out of range for a model with ${classes} classes (0–${classes - 1})`);
  }
  if (labels.length === 0) throw new Error('no labels to reconstruct');
  if (o.reference && o.reference.length !== classes)
    throw new Error(`the reference holds ${o.reference.length} trigger norms but the model has ${classes} classes`);
  const settings = {
    steps: o.steps ?? 1000,
    batchSize: Math.min(o.batchSize ?? 64, n),
    lr: o.lr ?? 0.1,
    initCost: o.initCost ?? 1e-3,
    threshold: o.successThreshold ?? 0.99,
    costPatience: o.costPatience ?? 5,
    early: o.earlyStopPatience ?? 25,
    seed: o.seed ?? 0,
    schedule: o.schedule ?? 'batch',
    stepImages: Math.min(o.stepImages ?? 1000, n),
  };
  if (settings.schedule !== 'original' && settings.schedule !== 'batch')
    throw new Error(`unknown reconstruct schedule '${String(settings.schedule)}'; use original or batch`);
  const pixels: HostTensor = { dtype: 'float32', dims: [...defender.x.dims], data: toPixels(defender.x, norm, C) };
  const found: Omit<LabelTrigger, 'anomalyIndex' | 'flagged'>[] = [];
  for (const label of labels) {
    if (o.signal?.aborted) throw new Error('trigger reconstruction interrupted; nothing written');
    found.push(await reconstructLabel(exe, graph, pixels, label, { C, H, W }, settings, o));
    const last = found[found.length - 1];
    const stamped = stampImages(defender.x, last.trigger, norm);
    last.attackSuccess = argmaxShareOver(await evaluate(model, { x: stamped, y: defender.y }, { runtime: o.runtime }), label);
  }
  const a = o.reference
    ? relativeAnomaly(
        found.map((f) => f.l1),
        labels.map((l) => o.reference![l]),
      )
    : anomalyIndex(found.map((f) => f.l1));
  const result: LabelTrigger[] = found.map((f, i) => ({ ...f, anomalyIndex: a.index[i], flagged: a.flagged.includes(i) }));
  return {
    labels: result,
    median: a.median,
    mad: a.mad,
    threshold: ANOMALY_THRESHOLD,
    flagged: a.flagged.map((i) => labels[i]),
    source: defender.source,
    examples: n,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** Share of all examples predicted as `label`, from a confusion matrix. */
function argmaxShareOver(r: { confusion: number[][]; examples: number }, label: number): number {
  let hits = 0;
  for (const row of r.confusion) hits += row[label];
  return hits / r.examples;
}

type Settings = {
  steps: number;
  batchSize: number;
  lr: number;
  initCost: number;
  threshold: number;
  costPatience: number;
  early: number;
  seed: number;
  schedule: ReconstructSchedule;
  stepImages: number;
};

async function reconstructLabel(
  exe: Awaited<ReturnType<typeof compile>>,
  graph: ReturnType<typeof triggerGraph>,
  pixels: HostTensor,
  label: number,
  { C, H, W }: { C: number; H: number; W: number },
  s: Settings,
  o: ReconstructOptions,
): Promise<Omit<LabelTrigger, 'anomalyIndex' | 'flagged'>> {
  const rng = new Rng(s.seed * 1009 + label);
  const params = new Map<string, HostTensor>([
    [graph.inputs.thetaMask, { dtype: 'float32', dims: [H, W], data: Float32Array.from({ length: H * W }, () => toTanhSpace(rng.uniform())) }],
    [graph.inputs.thetaPattern, { dtype: 'float32', dims: [C, H, W], data: Float32Array.from({ length: C * H * W }, () => toTanhSpace(rng.uniform())) }],
  ]);
  const adam = new Optimizer({ name: 'adam', beta1: 0.5, beta2: 0.9 });
  const n = pixels.dims[0];
  const labels: HostTensor = { dtype: 'int64', dims: [s.batchSize], data: new BigInt64Array(s.batchSize).fill(BigInt(label)) };
  let cost = 0;
  let costSet = false;
  let up = 0;
  let down = 0;
  let best: { l1: number; mask: Float32Array; pattern: Float32Array } | undefined;
  let last: { l1: number; mask: Float32Array; pattern: Float32Array } | undefined;
  let earlyRef = Infinity;
  let sinceBetter = 0;
  let order = rng.permutation(n);
  let pos = 0;
  let step = 0;
  const out = graph.outputs;
  // One batch of the defender's images through the trigger graph at cost c: every output a step reads.
  const runGraph = (rows: ArrayLike<number>, c: number) =>
    exe.run(
      {
        [graph.inputs.pixels]: takeRows(pixels, rows),
        [graph.inputs.labels]: labels,
        [graph.inputs.cost]: { dtype: 'float32', dims: [], data: Float32Array.of(c) },
        [graph.inputs.thetaMask]: params.get(graph.inputs.thetaMask)!,
        [graph.inputs.thetaPattern]: params.get(graph.inputs.thetaPattern)!,
      },
      [out.logits, out.l1, out.mask, out.pattern, out.crossEntropy, out.gradMask, out.gradPattern],
    );
  const batch = async (rows: Int32Array | Uint32Array | number[], c: number) => {
    const res = await runGraph(rows, c);
    const l1 = Number(res[out.l1].data[0]);
    const ce = Number(res[out.crossEntropy].data[0]);
    if (!Number.isFinite(l1) || !Number.isFinite(ce)) throw new Error(`trigger reconstruction for label ${label} diverged at step ${step + 1}`);
    adam.step(
      params,
      new Map([
        [graph.inputs.thetaMask, res[out.gradMask]],
        [graph.inputs.thetaPattern, res[out.gradPattern]],
      ]),
      s.lr,
    );
    return { success: argmaxShare(res[out.logits], label), l1 };
  };
  if (s.schedule === 'original') {
    // visualizer.py: a step is a pass of mini-batches; the best mask is the one after a step whose mean success
    // reaches the threshold with the smallest mean ‖m‖₁.
    const perStep = Math.max(1, Math.round(s.stepImages / s.batchSize));
    let bestReg = Infinity;
    let earlyBest = Infinity;
    let earlyCount = 0;
    let setCount = 0;
    let upFlag = false;
    let downFlag = false;
    while (step < s.steps) {
      let successSum = 0;
      let regSum = 0;
      for (let b = 0; b < perStep; b++) {
        if (o.signal?.aborted) throw new Error('trigger reconstruction interrupted; nothing written');
        if (pos + s.batchSize > n) {
          order = rng.permutation(n);
          pos = 0;
        }
        const r = await batch(order.subarray(pos, pos + s.batchSize), cost);
        pos += s.batchSize;
        successSum += r.success;
        regSum += r.l1;
      }
      step++;
      const success = successSum / perStep;
      const reg = regSum / perStep;
      const ok = success >= s.threshold;
      last = currentTrigger(params, graph, C, H, W);
      if (ok && reg < bestReg) {
        bestReg = reg;
        best = last;
      }
      if (bestReg < Infinity) {
        if (bestReg >= 0.99 * earlyBest) earlyCount++;
        else earlyCount = 0;
      }
      earlyBest = Math.min(earlyBest, bestReg);
      if (upFlag && downFlag && earlyCount >= s.early) break;
      if (cost === 0 && ok) {
        if (++setCount >= s.costPatience) {
          cost = s.initCost;
          up = 0;
          down = 0;
          upFlag = false;
          downFlag = false;
        }
      } else setCount = 0;
      if (ok) {
        up++;
        down = 0;
      } else {
        up = 0;
        down++;
      }
      if (up >= s.costPatience) {
        up = 0;
        cost *= 2;
        upFlag = true;
      } else if (down >= s.costPatience) {
        down = 0;
        cost /= 2 ** 1.5;
        downFlag = true;
      }
      o.onProgress?.(label, step, s.steps, `‖m‖₁ ${(best ?? last).l1.toFixed(1)}  success ${(100 * success).toFixed(0)}%  c ${cost.toExponential(1)}`);
    }
    return finish();
  }
  while (step < s.steps) {
    if (o.signal?.aborted) throw new Error('trigger reconstruction interrupted; nothing written');
    if (pos + s.batchSize > n) {
      order = rng.permutation(n);
      pos = 0;
    }
    const rows = order.subarray(pos, pos + s.batchSize);
    pos += s.batchSize;
    const res = await runGraph(rows, cost);
    step++;
    const success = argmaxShare(res[out.logits], label);
    const l1 = Number(res[out.l1].data[0]);
    const ce = Number(res[out.crossEntropy].data[0]);
    if (!Number.isFinite(l1) || !Number.isFinite(ce)) throw new Error(`trigger reconstruction for label ${label} diverged at step ${step}`);
    last = { l1, mask: res[out.mask].data as Float32Array, pattern: res[out.pattern].data as Float32Array };
    const ok = success >= s.threshold;
    if (ok && (!best || l1 < best.l1)) best = last;
    if (costSet) {
      if (best && best.l1 < earlyRef * 0.99) {
        earlyRef = best.l1;
        sinceBetter = 0;
      } else if (++sinceBetter >= s.early && best) break;
      if (ok) {
        up++;
        down = 0;
      } else {
        down++;
        up = 0;
      }
      if (up >= s.costPatience) {
        cost *= 2;
        up = 0;
      } else if (down >= s.costPatience) {
        cost /= 2 ** 1.5;
        down = 0;
      }
    } else if (ok) {
      cost = s.initCost;
      costSet = true;
    }
    o.onProgress?.(label, step, s.steps, `‖m‖₁ ${(best ?? last).l1.toFixed(1)}  success ${(100 * success).toFixed(0)}%  c ${cost.toExponential(1)}`);
    adam.step(
      params,
      new Map([
        [graph.inputs.thetaMask, res[out.gradMask]],
        [graph.inputs.thetaPattern, res[out.gradPattern]],
      ]),
      s.lr,
    );
  }
  return finish();

  function finish(): Omit<LabelTrigger, 'anomalyIndex' | 'flagged'> {
    const chosen = best ?? last!;
    return {
      label,
      l1: chosen.l1,
      success: best !== undefined,
      attackSuccess: 0,
      steps: step,
      cost,
      trigger: { type: 'mask', size: [H, W], channels: C, mask: unit(chosen.mask), pattern: unit(chosen.pattern) },
    };
  }
}

/** A copy clipped to [0, 1]: tanh(θ)/2 + ½ in float32 can round to −6e-8 or 1 + 6e-8, which trigger files refuse. */
const unit = (v: Float32Array) => Float32Array.from(v, (x) => Math.min(1, Math.max(0, x)));

/** The mask and pattern of the current parameters, m = tanh(θ)/2 + ½, as the graph computes them. */
function currentTrigger(
  params: Map<string, HostTensor>,
  graph: ReturnType<typeof triggerGraph>,
  C: number,
  H: number,
  W: number,
): { l1: number; mask: Float32Array; pattern: Float32Array } {
  const squash = (t: HostTensor) => Float32Array.from(t.data as Float32Array, (v) => Math.tanh(v) / 2 + 0.5);
  const mask = squash(params.get(graph.inputs.thetaMask)!);
  const pattern = squash(params.get(graph.inputs.thetaPattern)!);
  if (mask.length !== H * W || pattern.length !== C * H * W) throw new Error('trigger parameters changed shape');
  let l1 = 0;
  for (const v of mask) l1 += v;
  return { l1, mask, pattern };
}
