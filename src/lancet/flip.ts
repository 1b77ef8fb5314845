// AI-Lancet's neuron flip: negate the located weights, most often located first, the fewest that fix the errors.
import type { Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { withParams } from '../params/with-params.js';
import { LayerEditor } from './ablation.js';
import { findLayer } from './layers.js';
import type { LocatedWeight } from './locate.js';
import { isFixed, stack, type PairSet } from './pairs.js';

export interface FlipOptions {
  /** Share of the held-out pairs that must be fixed (default 0.99): the fewest flips reaching it win; when none does, the fewest reaching the best share. */
  goal?: number;
  /**
   * Most accuracy the flip may cost on the held-out pairs' clean images (all classified right before; default 0.01):
   * flip counts that cost more are not chosen (the error may be fixed by breaking the class it was sent to).
   */
  maxDrop?: number;
  /**
   * Clean images of every class (the defender's) on which the accuracy budget is checked too, against the original
   * model's accuracy on them: the pairs' clean images never show the class the errors were sent to.
   */
  clean?: Dataset;
  runtime?: RuntimeOptions;
  onProgress?: (done: number, total: number) => void;
}

/** One tried number of flips. */
export interface FlipStep {
  flipped: number;
  /** Share of held-out pairs fixed. */
  fixedShare: number;
  /** Accuracy on the held-out pairs' clean images. */
  cleanAccuracy: number;
  /** Accuracy on the `clean` images, when given. */
  defenderAccuracy?: number;
}

export interface FlipResult {
  model: Model;
  layer: string;
  param: string;
  /** Weights negated (flat indices into the layer's weight), in the order they were flipped. */
  flipped: number[];
  /** Held-out pairs judged on. */
  pairs: number;
  /** Every count tried, ascending. */
  curve: FlipStep[];
  chosen: FlipStep;
  goal: number;
  maxDrop: number;
}

/** The flip counts tried: every count up to 64, then about 24 per doubling, up to `m`. */
export function flipCounts(m: number): number[] {
  const out: number[] = [];
  for (let k = 0; k <= m; k = k < 64 ? k + 1 : Math.max(k + 1, Math.round(k * 1.03))) out.push(k);
  if (out[out.length - 1] !== m) out.push(m);
  return out;
}

/**
 * Negate located weights in order of their count and keep the fewest that fix the errors of held-out pairs
 * (pairs not used to locate them) while keeping their clean images classified right (within `maxDrop`): no
 * training and no data beyond those pairs.
 *
 * @example const r = await flipRepair(model, 'fc1', located.weights, heldOut);
 */
export async function flipRepair(
  model: Model,
  layerName: string,
  weights: readonly LocatedWeight[],
  heldOut: PairSet,
  opts: FlipOptions = {},
): Promise<FlipResult> {
  const goal = opts.goal ?? 0.99;
  const maxDrop = opts.maxDrop ?? 0.01;
  if (!(goal > 0 && goal <= 1)) throw new Error(`the flip goal must be a share in (0, 1], got ${goal}`);
  if (!(maxDrop >= 0 && maxDrop <= 1)) throw new Error(`the flip's accuracy budget must be a share in [0, 1], got ${maxDrop}`);
  if (heldOut.pairs.length === 0) throw new Error('no held-out pairs to judge the flip on: the data shows no other error than the pairs used to locate');
  if (weights.length === 0) throw new Error('no located weights to flip');
  const layer = findLayer(model, layerName);
  const editor = await LayerEditor.create(model, layer, opts.runtime);
  for (const w of weights)
    if (!(w.index >= 0 && w.index < layer.size)) throw new Error(`located weight index ${w.index} is outside '${layer.param}' (${layer.size} entries)`);
  const xs = stack(
    heldOut.pairs.map((p) => p.x),
    heldOut.dims,
  );
  const cs = stack(
    heldOut.pairs.map((p) => p.clean),
    heldOut.dims,
  );
  const counts = flipCounts(weights.length);
  const cleanLabels = opts.clean ? Array.from(opts.clean.y.data as ArrayLike<number | bigint>, Number) : [];
  const accuracyOn = async (w: Float32Array) => {
    const p = await editor.predict(opts.clean!.x, w);
    return cleanLabels.reduce((a, y, i) => a + (p[i] === y ? 1 : 0), 0) / cleanLabels.length;
  };
  const base = opts.clean ? await accuracyOn(editor.original) : undefined;
  const withinBudget = (s: FlipStep) => s.cleanAccuracy >= 1 - maxDrop && (base === undefined || s.defenderAccuracy! >= base - maxDrop);
  const curve: FlipStep[] = [];
  for (const [k, m] of counts.entries()) {
    const w = editor.original.slice();
    for (let i = 0; i < m; i++) w[weights[i].index] = -w[weights[i].index];
    const hit = await editor.predict(xs, w);
    const clean = await editor.predict(cs, w);
    let fixed = 0;
    let correct = 0;
    heldOut.pairs.forEach((p, i) => {
      if (isFixed(p, hit[i], heldOut.fix)) fixed++;
      if (clean[i] === p.label) correct++;
    });
    const step: FlipStep = { flipped: m, fixedShare: fixed / heldOut.pairs.length, cleanAccuracy: correct / heldOut.pairs.length };
    if (opts.clean) step.defenderAccuracy = await accuracyOn(w);
    curve.push(step);
    opts.onProgress?.(k + 1, counts.length);
    if (step.fixedShare >= goal && withinBudget(step)) break;
  }
  // The fewest flips within the accuracy budget that reach the goal; else the fewest reaching the best share.
  const allowed = curve.filter(withinBudget);
  let chosen = allowed[0] ?? curve[0];
  for (const s of allowed) if (s.fixedShare >= goal ? chosen.fixedShare < goal : s.fixedShare > chosen.fixedShare) chosen = s;
  const flipped = weights.slice(0, chosen.flipped).map((w) => w.index);
  const w = editor.original.slice();
  for (const i of flipped) w[i] = -w[i];
  const repaired = withParams(model, new Map([[layer.param, { dtype: 'float32', dims: layer.shape, data: w }]]));
  return { model: repaired, layer: layer.name, param: layer.param, flipped, pairs: heldOut.pairs.length, curve, chosen, goal, maxDrop };
}
