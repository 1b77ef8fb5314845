// What an edit did, measured on the test split: pattern success, clean accuracy, instance-wise consistency, KL of the
// output distributions, the flip matrix, and which parameters changed (bitwise against the input).
import type { Dataset } from '../data/batches.js';
import { describeParams } from '../params/describe.js';
import type { Model } from '../onnx/ir.js';
import { compileUncached, type RuntimeOptions } from '../runtime/session.js';
import { runClassifier } from '../tasks/run.js';
import { changedCount, deltaBetween, type SparseDelta } from '../params/delta.js';

/** Share of rows whose prediction equals the label. */
export function agreement(pred: Int32Array, labels: Dataset['y']): number {
  let k = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === Number(labels.data[i])) k++;
  return pred.length ? k / pred.length : NaN;
}

/** log-softmax of one row. */
function logSoftmax(z: Float32Array, off: number, c: number, out: Float64Array): void {
  let max = -Infinity;
  for (let k = 0; k < c; k++) max = Math.max(max, z[off + k]);
  let s = 0;
  for (let k = 0; k < c; k++) s += Math.exp(z[off + k] - max);
  const lse = max + Math.log(s);
  for (let k = 0; k < c; k++) out[k] = z[off + k] - lse;
}

/**
 * Mean over rows of KL(old ‖ new) = Σ_c p_old(c) (log p_old(c) − log p_new(c)) of the softmax distributions, in nats.
 *
 * @example meanKl(before.logits, after.logits, 10);
 */
export function meanKl(oldLogits: Float32Array, newLogits: Float32Array, classes: number): number {
  const n = oldLogits.length / classes;
  const a = new Float64Array(classes);
  const b = new Float64Array(classes);
  let total = 0;
  for (let i = 0; i < n; i++) {
    logSoftmax(oldLogits, i * classes, classes, a);
    logSoftmax(newLogits, i * classes, classes, b);
    let kl = 0;
    for (let k = 0; k < classes; k++) kl += Math.exp(a[k]) * (a[k] - b[k]);
    total += Math.max(0, kl);
  }
  return n ? total / n : NaN;
}

/** flips[old][new]: how many rows the old model predicted `old` and the new one `new`. */
export function flipMatrix(oldPred: Int32Array, newPred: Int32Array, classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < oldPred.length; i++) m[oldPred[i]][newPred[i]]++;
  return m;
}

export interface ChangedTensor {
  name: string;
  layer: string;
  count: number;
  size: number;
}
export interface ChangedLayer {
  layer: string;
  count: number;
  size: number;
}

/** The parameters an edit changed, exactly as `scalpel diff` counts them (bitwise). */
export interface ChangeSummary {
  count: number;
  /** count / the parameters that were allowed to change (k). */
  fraction: number;
  /** The parameters that were allowed to change. */
  k: number;
  /** Every float parameter of the model, for the fraction of the whole. */
  total: number;
  l2: number;
  linf: number;
  byTensor: ChangedTensor[];
  byLayer: ChangedLayer[];
}

/**
 * Summarise a delta: counts by tensor and layer (graph order, changed ones only), ‖δ‖₂ and ‖δ‖∞.
 *
 * @example summariseChange(model, deltaBetween(model, edited), 61706);
 */
export function summariseChange(model: Model, delta: SparseDelta, k: number): ChangeSummary {
  const info = new Map(describeParams(model).map((p) => [p.name, p]));
  let sq = 0;
  let linf = 0;
  const byTensor: ChangedTensor[] = [];
  for (const t of delta.tensors) {
    for (let i = 0; i < t.indices.length; i++) {
      const d = t.after[i] - t.before[i];
      sq += d * d;
      linf = Math.max(linf, Math.abs(d));
    }
    const p = info.get(t.name);
    byTensor.push({
      name: t.name,
      layer: p?.layer ?? t.name,
      count: t.indices.length,
      size: p?.size ?? model.graph.initializers.get(t.name)?.tensor?.data.length ?? 0,
    });
  }
  const order = new Map(describeParams(model).map((p, i) => [p.name, i]));
  byTensor.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
  const layers = new Map<string, ChangedLayer>();
  for (const t of byTensor) {
    const l = layers.get(t.layer) ?? { layer: t.layer, count: 0, size: 0 };
    l.count += t.count;
    l.size += t.size;
    layers.set(t.layer, l);
  }
  const count = changedCount(delta);
  const total = describeParams(model).reduce((a, p) => a + p.size, 0);
  return { count, fraction: count / k, k, total, l2: Math.sqrt(sq), linf, byTensor, byLayer: [...layers.values()] };
}

/** Outcome on the test split, before and after. */
export interface EditMeasures {
  success: { before: number; after: number; examples: number };
  clean: { before: number; after: number; examples: number };
  /** Share of clean test inputs whose predicted class is unchanged. */
  consistency: number;
  /** Mean KL(old ‖ new) over the clean test inputs, in nats. */
  meanKl: number;
  /** flips[old prediction][new prediction] over the clean test inputs. */
  flips: number[][];
  changed: ChangeSummary;
}

/** The original model's outputs, computed once for every run of a sweep. */
export interface Baseline {
  clean: { logits: Float32Array; pred: Int32Array; accuracy: number };
  pattern: { pred: Int32Array; success: number };
  classes: number;
}

/** The original model on the clean and pattern test sets. */
export async function measureBaseline(model: Model, cleanTest: Dataset, patternTest: Dataset, runtime?: RuntimeOptions): Promise<Baseline> {
  const c = await runClassifier(model, cleanTest.x, { runtime });
  const p = await runClassifier(model, patternTest.x, { runtime });
  const cp = c.predictions;
  const pp = p.predictions;
  return {
    clean: { logits: c.logits, pred: cp, accuracy: agreement(cp, cleanTest.y) },
    pattern: { pred: pp, success: agreement(pp, patternTest.y) },
    classes: c.classes,
  };
}

/**
 * Measure an edited model against the original on the test split.
 *
 * @example const m = await measureEdit(model, edited, base, d.cleanTest, d.patternTest, k);
 */
export async function measureEdit(
  model: Model,
  edited: Model,
  base: Baseline,
  cleanTest: Dataset,
  patternTest: Dataset,
  k: number,
  runtime?: RuntimeOptions,
): Promise<EditMeasures> {
  // A session of its own, released after: a sweep edits many models, each measured once.
  const exe = await compileUncached(edited, runtime);
  let c: Awaited<ReturnType<typeof runClassifier>>;
  let p: Awaited<ReturnType<typeof runClassifier>>;
  try {
    c = await runClassifier(edited, cleanTest.x, { session: exe });
    p = await runClassifier(edited, patternTest.x, { session: exe });
  } finally {
    await exe.release();
  }
  const cp = c.predictions;
  const pp = p.predictions;
  let same = 0;
  for (let i = 0; i < cp.length; i++) if (cp[i] === base.clean.pred[i]) same++;
  return {
    success: { before: base.pattern.success, after: agreement(pp, patternTest.y), examples: pp.length },
    clean: { before: base.clean.accuracy, after: agreement(cp, cleanTest.y), examples: cp.length },
    consistency: cp.length ? same / cp.length : NaN,
    meanKl: meanKl(base.clean.logits, c.logits, c.classes),
    flips: flipMatrix(base.clean.pred, cp, c.classes),
    changed: summariseChange(model, deltaBetween(model, edited), k),
  };
}
