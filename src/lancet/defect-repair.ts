// AI-Lancet's general defect repair, cluster by cluster: the errors are grouped by their confusion, each group is
// located on its own (in one layer), the training images that lean on the located weights most join the group's error
// set, and each group is repaired by fine-tuning only its own located weights (neuron fine-tuning), one group after
// the other. The same plan with as many random weights of the layer per group is the baseline.
import { takeRows, type Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { Rng } from '../tensor/rng.js';
import { cleanFisher, fisherRatio } from '../train/fisher.js';
import { clusterByConfusion } from './defect-clusters.js';
import type { LancetLayer } from './layers.js';
import { locateInLayer } from './locate.js';
import { concatData, neuronFinetune, randomIndices } from './neuron-finetune.js';
import type { PairSet } from './pairs.js';
import { similarImages } from './similar-images.js';

export interface DefectPlanOptions {
  /** Groups with fewer pairs are left out (default 10). */
  minPairs?: number;
  /** At most this many groups, largest first (default 8). */
  maxClusters?: number;
  /** Weights per group: the `top` most often located (default 100). */
  top?: number;
  /** Similar images per error image of the group (default 1; 0: none). */
  similar?: number;
  /** Candidate training images per group (of its two classes, seeded choice; default 1000). */
  pool?: number;
  /**
   * Side-effect aware: rank each group's located weights by count / √(F + ε) instead of by count, F the layer's
   * diagonal Fisher on `examples` training images and ε = `epsilon` × mean F (weights the errors need and the clean
   * outputs barely feel). Absent: by count.
   */
  fisher?: { examples: number; epsilon: number };
  seed?: number;
  runtime?: RuntimeOptions;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export const DEFECT_PLAN_DEFAULTS = { minPairs: 10, maxClusters: 8, top: 100, similar: 1, pool: 1000 } as const;

/** One group's plan: its errors, its located weights and its similar images. */
export interface ClusterPlan {
  key: string;
  label: number;
  wrong: number;
  pairs: number;
  /** Rows of the error data with this confusion (every one, paired or not). */
  errorRows: number[];
  /** Flat indices of the layer's weight, most often located first. */
  located: number[];
  /** Rows of the training data chosen as similar, and their overlap with the located set. */
  similarRows: number[];
  meanOverlap: number;
  /** Pairs of the group that zeroing some top-IV share fixed. */
  fixed: number;
}

/**
 * Group the pairs, locate each group in `layer`, and pick each group's similar training images.
 *
 * @example const plan = await planDefectRepair(model, findLayer(model, 'fc1'), pairs, halfA, trainSplit);
 */
export async function planDefectRepair(
  model: Model,
  layer: LancetLayer,
  set: PairSet,
  errors: { data: Dataset; predicted: ArrayLike<number> },
  train: Dataset,
  opts: DefectPlanOptions = {},
): Promise<ClusterPlan[]> {
  const o = { ...DEFECT_PLAN_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as typeof DEFECT_PLAN_DEFAULTS &
    DefectPlanOptions;
  const clusters = clusterByConfusion(set, { minPairs: o.minPairs, max: o.maxClusters });
  const labelOf = (d: Dataset, r: number) => Number(d.y.data[r]);
  const F = o.fisher
    ? (
        await cleanFisher(model, [layer.param], train, {
          examples: o.fisher.examples,
          seed: o.seed,
          runtime: o.runtime,
          onProgress: (d, t) => o.onProgress?.('clean Fisher', d, t),
        })
      )[0]
    : undefined;
  const plans: ClusterPlan[] = [];
  for (const [ci, c] of clusters.entries()) {
    const loc = await locateInLayer(model, layer, c.set, { runtime: o.runtime, onProgress: (_l, d, t) => o.onProgress?.(`locate ${c.key}`, d, t) });
    let ranked = loc.weights;
    if (F) {
      const counts = Float32Array.from(ranked, (w) => w.count);
      const [score] = fisherRatio([counts], [Float32Array.from(ranked, (w) => F[w.index])], o.fisher!.epsilon);
      ranked = ranked.map((w, i) => ({ ...w, score: score[i] })).sort((a, b) => b.score - a.score || a.index - b.index);
    }
    const located = ranked.slice(0, o.top).map((w) => w.index);
    const errorRows: number[] = [];
    for (let r = 0; r < errors.data.y.dims[0]; r++) if (labelOf(errors.data, r) === c.label && errors.predicted[r] === c.wrong) errorRows.push(r);
    let similarRows: number[] = [];
    let meanOverlap = 0;
    const count = Math.round(o.similar * errorRows.length);
    if (count > 0) {
      const candidates: number[] = [];
      for (let r = 0; r < train.y.dims[0]; r++) if (labelOf(train, r) === c.label || labelOf(train, r) === c.wrong) candidates.push(r);
      const pool = new Rng((o.seed ?? 0) + 41 + ci)
        .shuffle(candidates)
        .slice(0, o.pool)
        .sort((a, b) => a - b);
      const s = await similarImages(model, layer, located, { x: takeRows(train.x, pool), y: takeRows(train.y, pool) }, count, {
        runtime: o.runtime,
        onProgress: (d, t) => o.onProgress?.(`similar ${c.key}`, d, t),
      });
      similarRows = s.rows.map((r) => pool[r]);
      meanOverlap = s.overlap.reduce((a, b) => a + b, 0) / Math.max(1, s.overlap.length);
    }
    plans.push({ key: c.key, label: c.label, wrong: c.wrong, pairs: c.set.pairs.length, errorRows, located, similarRows, meanOverlap, fixed: loc.fixed });
  }
  return plans;
}

export interface DefectRepairOptions {
  /** 'located' (each group's own weights) or 'random' (as many random weights of the layer per group). */
  weights: 'located' | 'random';
  /** Whether the similar images join the error sets (default true). */
  similar?: boolean;
  /** Correctly classified rows of the error data, `clean` of them (seeded) added to each group's set (default 300). */
  cleanRows: number[];
  clean?: number;
  epochs?: number;
  lr?: number;
  seed?: number;
  runtime?: RuntimeOptions;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/**
 * Repair the groups one after the other: each fine-tunes only its weights (its located ones, or as many random ones)
 * on its errors, its similar images (with their labels) and some correctly classified images, distilling the model
 * as it stands before that group.
 *
 * @example const repaired = await repairDefects(model, layer, plans, halfA, trainSplit, { weights: 'located', cleanRows });
 */
export async function repairDefects(
  model: Model,
  layer: LancetLayer,
  plans: readonly ClusterPlan[],
  errors: Dataset,
  train: Dataset,
  o: DefectRepairOptions,
): Promise<Model> {
  let m = model;
  for (const [ci, p] of plans.entries()) {
    const seed = (o.seed ?? 0) + 97 * ci;
    const indices = o.weights === 'located' ? Uint32Array.from(p.located).sort() : randomIndices(layer.size, p.located.length, seed + 1);
    const clean = new Rng(seed + 2).shuffle([...o.cleanRows]).slice(0, o.clean ?? 300);
    const parts: Dataset[] = [
      { x: takeRows(errors.x, p.errorRows), y: takeRows(errors.y, p.errorRows) },
      { x: takeRows(errors.x, clean), y: takeRows(errors.y, clean) },
    ];
    if (o.similar !== false && p.similarRows.length) parts.push({ x: takeRows(train.x, p.similarRows), y: takeRows(train.y, p.similarRows) });
    const r = await neuronFinetune(m, { param: layer.param, indices }, concatData(parts), {
      epochs: o.epochs,
      lr: o.lr,
      seed,
      runtime: o.runtime,
      onStep: (d, t) => o.onProgress?.(`repair ${p.key} (${o.weights})`, d, t),
    });
    m = r.model;
  }
  return m;
}
