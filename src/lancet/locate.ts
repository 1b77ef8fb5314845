// AI-Lancet's locate: importance values per pair, progressive ablation, and counts aggregated over the pairs.
import type { Model } from '../onnx/ir.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { LayerEditor, rankByImportance, searchRatio, zeroTop, type AblationSearch } from './ablation.js';
import { importanceGraph, type Weighting } from './importance-graph.js';
import { findLayer, lancetLayers, type LancetLayer } from './layers.js';
import { isFixed, pairKey, stack, type LancetPair, type PairSet } from './pairs.js';

export interface LocateOptions {
  /** A layer name, or 'auto' (default): try every conv/fc layer and keep the one that fixes most pairs with the smallest share of its weights. */
  layer?: string;
  /** How the smallest fixing ratio is searched (default 'coarse-to-fine'). */
  search?: AblationSearch;
  /** The feature weighting of IV (default 'authors') and the paper's α. */
  weighting?: Weighting;
  alpha?: number;
  runtime?: RuntimeOptions;
  /** Called after each pair of each layer tried. */
  onProgress?: (layer: string, done: number, total: number) => void;
}

/** One located weight and how many pairs located it. */
export interface LocatedWeight {
  /** Flat index into the layer's weight tensor. */
  index: number;
  count: number;
}

/** What locating in one layer found. */
export interface LayerLocation {
  layer: string;
  param: string;
  shape: number[];
  size: number;
  pairs: number;
  /** Pairs whose error zeroing some top-ranked share of this layer's weights fixed. */
  fixed: number;
  /** Per pair: the smallest fixing ratio, or null. */
  ratios: (number | null)[];
  /** Mean smallest fixing ratio over the fixed pairs (null when none was fixed). */
  meanRatio: number | null;
  /** Weights located by at least one pair, most often located first (ties by index). */
  weights: LocatedWeight[];
  /** Forward passes the ablation searches took, over all pairs. */
  evaluations: number;
  seconds: number;
}

export interface LocateResult {
  source: string;
  oracle: boolean;
  fix: PairSet['fix'];
  search: AblationSearch;
  weighting: Weighting;
  /** Rows (in the data the pairs were drawn from) of the pairs used. */
  rows: number[];
  /** Keys of the defender images the pairs were made from (pairKey), so that a repair can hold those pairs out. */
  images: string[];
  /** Every layer tried, in graph order. */
  layers: LayerLocation[];
  /** The layer chosen (the only one unless --layer auto). */
  chosen: string;
}

/**
 * Locate, in one layer, the weights behind the errors of a set of pairs.
 *
 * @example const loc = await locateInLayer(model, findLayer(model, 'fc2'), pairs);
 */
export async function locateInLayer(model: Model, layer: LancetLayer, set: PairSet, opts: Omit<LocateOptions, 'layer'> = {}): Promise<LayerLocation> {
  const t0 = performance.now();
  const search = opts.search ?? 'coarse-to-fine';
  const editor = await LayerEditor.create(model, layer, opts.runtime);
  const ig = importanceGraph(model, layer, { weighting: opts.weighting, alpha: opts.alpha });
  const exe = await compile(ig.model, opts.runtime);
  const w: HostTensor = { dtype: 'float32', dims: layer.shape, data: editor.original };
  const classes = (await editor.logits(stack([set.pairs[0].x], set.dims))).dims[1];
  const counts = new Uint32Array(layer.size);
  const ratios: (number | null)[] = [];
  let evaluations = 0;
  for (const [k, p] of set.pairs.entries()) {
    const iv = await importanceOf(exe, ig, w, p, set.dims, classes, opts.weighting === 'paper' ? p.wrong : p.label);
    const order = rankByImportance(iv);
    const x1 = stack([p.x], set.dims);
    const r = await searchRatio(layer.size, async (n) => isFixed(p, (await editor.predict(x1, zeroTop(editor.original, order, n)))[0], set.fix), search);
    for (let i = 0; i < r.count; i++) counts[order[i]]++;
    ratios.push(r.ratio);
    evaluations += r.evaluations;
    opts.onProgress?.(layer.name, k + 1, set.pairs.length);
  }
  const fixedRatios = ratios.filter((r): r is number => r !== null);
  const weights: LocatedWeight[] = [];
  for (let i = 0; i < counts.length; i++) if (counts[i] > 0) weights.push({ index: i, count: counts[i] });
  weights.sort((a, b) => b.count - a.count || a.index - b.index);
  return {
    layer: layer.name,
    param: layer.param,
    shape: layer.shape,
    size: layer.size,
    pairs: set.pairs.length,
    fixed: fixedRatios.length,
    ratios,
    meanRatio: fixedRatios.length ? fixedRatios.reduce((a, b) => a + b, 0) / fixedRatios.length : null,
    weights,
    evaluations,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** IV = |∂‖EIf‖₂/∂W| of one pair. */
async function importanceOf(
  exe: Awaited<ReturnType<typeof compile>>,
  ig: ReturnType<typeof importanceGraph>,
  w: HostTensor,
  p: LancetPair,
  dims: number[],
  classes: number,
  hotClass: number,
): Promise<Float32Array> {
  const hot = new Float32Array(2 * classes);
  hot[hotClass] = 1;
  const out = await exe.run({ [ig.input]: stack([p.x, p.clean], dims), [ig.onehot]: { dtype: 'float32', dims: [2, classes], data: hot }, [ig.weight]: w }, [
    ig.gradient,
  ]);
  const g = out[ig.gradient].data as Float32Array;
  const iv = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    if (!Number.isFinite(g[i]))
      throw new Error(`the importance of '${ig.weight}' is not finite for the pair of row ${p.row} (the pair's inputs give equal features?)`);
    iv[i] = Math.abs(g[i]);
  }
  return iv;
}

/** The better of two layers: more pairs fixed, then a smaller mean share of weights. */
function better(a: LayerLocation, b: LayerLocation): boolean {
  if (a.fixed !== b.fixed) return a.fixed > b.fixed;
  return (a.meanRatio ?? Infinity) < (b.meanRatio ?? Infinity);
}

/**
 * Locate the weights behind a set of errors: for each pair, rank the layer's weights by IV, find the smallest
 * top-ranked share whose zeroing fixes the pair, and count how often each weight is in that share. With
 * `layer: 'auto'` every conv/fc layer is tried and the one fixing most pairs with the smallest share is chosen.
 *
 * @example
 * const res = await locate(model, pairs, { layer: 'auto' });
 * console.log(res.chosen, res.layers.find((l) => l.layer === res.chosen)!.weights.slice(0, 10));
 */
export async function locate(model: Model, set: PairSet, opts: LocateOptions = {}): Promise<LocateResult> {
  if (set.pairs.length === 0) throw new Error(`no errors to locate: none of the examples shows the error (${set.source})`);
  const layerName = opts.layer ?? 'auto';
  const candidates = layerName === 'auto' ? lancetLayers(model) : [findLayer(model, layerName)];
  if (candidates.length === 0) throw new Error('the model has no conv or fully-connected layer to locate weights in');
  const layers: LayerLocation[] = [];
  for (const l of candidates) layers.push(await locateInLayer(model, l, set, opts));
  let best = layers[0];
  for (const l of layers.slice(1)) if (better(l, best)) best = l;
  return {
    source: set.source,
    oracle: set.oracle,
    fix: set.fix,
    search: opts.search ?? 'coarse-to-fine',
    weighting: opts.weighting ?? 'authors',
    rows: set.pairs.map((p) => p.row),
    images: set.pairs.map((p) => pairKey(p, set.fix)),
    layers,
    chosen: best.layer,
  };
}
