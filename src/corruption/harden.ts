// Corruption-resistant training (parameter-corruption paper, "adversarial corruption-resistant training"):
// minimise L*(w) = (1−α)L(w; B) + αL(w + â; B) with â the worst-case corruption of the batch gradient,
// or the gradient-regularised L(w; B) + λ||∇L(w; B)||_q.
import { normLabel } from './norms.js';
import type { Dataset } from '../data/batches.js';
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';
import { buildModel } from '../models/index.js';
import type { Model } from '../onnx/ir.js';
import { trainClassifier, type TrainClassifierOptions, type TrainClassifierResult } from '../train/train-classifier.js';
import { train, type Objective, type TrainOptions, type TrainResult } from '../train/trainer.js';
import { resolveN, worstCorruption } from './closed-form.js';
import { probe, type ProbeOptions, type ProbeRecord, type ProbeReport } from './probe.js';
import { formatSelector, parseSelector, selectParams, type ParamSelector } from '../params/select.js';

/** How to harden: the corruption-resistant loss L* (the paper's default, α = 0.5), or gradient-norm regularisation. */
export type HardenMethod =
  | {
      kind: 'corruption';
      /** Weight of the corrupted loss, 0 ≤ α ≤ 1 (default 0.5): L* = (1−α)L(w) + αL(w + â). */
      alpha?: number;
      /** Length ε > 0 of the virtual corruption â, in the p-norm. */
      eps: number;
      /** Norm p ≥ 1 of the corruption, `Infinity` allowed (default 2, as the paper's Table 2). */
      p?: number;
      /** Most parameters corrupted: a count, a fraction, a percentage or 'all' (default 'all', n = k). */
      n?: number | string;
    }
  | {
      kind: 'grad-norm';
      /** Weight λ ≥ 0 of the penalty λ·||∇L||_q (λ = αε matches L* to first order). */
      lambda: number;
      /** Norm q ≥ 1 of the gradient, `Infinity` allowed (default 2; q = p/(p−1) resists p-norm corruption). */
      q?: number;
    };

/** A method with its defaults filled in and n resolved to a count. */
export type ResolvedHardenMethod = { kind: 'corruption'; alpha: number; eps: number; p: number; n: number } | { kind: 'grad-norm'; lambda: number; q: number };

/**
 * Validate a hardening method against a parameter count `k` and fill in its defaults; throws one clear error.
 *
 * @example resolveHardenMethod({ kind: 'corruption', eps: 0.1 }, 61706); // { kind: 'corruption', alpha: 0.5, eps: 0.1, p: 2, n: 61706 }
 */
export function resolveHardenMethod(m: HardenMethod, k: number): ResolvedHardenMethod {
  if (!m || typeof m !== 'object') throw new Error("harden: give a method: { kind: 'corruption', eps } or { kind: 'grad-norm', lambda }");
  if (m.kind === 'corruption') {
    const alpha = m.alpha ?? 0.5;
    const p = m.p ?? 2;
    if (!(typeof alpha === 'number' && alpha >= 0 && alpha <= 1)) throw new Error(`harden: α must be in [0, 1], got ${alpha}`);
    if (!(typeof m.eps === 'number' && Number.isFinite(m.eps) && m.eps > 0))
      throw new Error(`harden: the corruption length ε must be a finite number > 0, got ${m.eps}`);
    if (!(typeof p === 'number' && p >= 1)) throw new Error(`harden: the corruption norm p must be ≥ 1 (or inf), got ${p}`);
    let n: number;
    try {
      n = resolveN(m.n ?? 'all', k);
    } catch (e) {
      throw new Error(`harden: ${(e as Error).message}`);
    }
    return { kind: 'corruption', alpha, eps: m.eps, p, n };
  }
  if (m.kind === 'grad-norm') {
    const q = m.q ?? 2;
    if (!(typeof m.lambda === 'number' && Number.isFinite(m.lambda) && m.lambda >= 0))
      throw new Error(`harden: λ must be a finite number ≥ 0, got ${m.lambda}`);
    if (!(typeof q === 'number' && q >= 1)) throw new Error(`harden: the gradient norm q must be ≥ 1 (or inf), got ${q}`);
    return { kind: 'grad-norm', lambda: m.lambda, q };
  }
  throw new Error(`harden: unknown method '${(m as { kind: string }).kind}' (use 'corruption' or 'grad-norm')`);
}

/** One line describing a resolved method, e.g. `L* = (1−α)L(w) + αL(w+â) with α = 0.5, ε = 0.1, p = 2, n = 61706 (all)`. */
export function describeHardenMethod(m: ResolvedHardenMethod, k?: number): string {
  if (m.kind === 'corruption')
    return `L* = (1−α)L(w) + αL(w+â) with α = ${m.alpha}, ε = ${m.eps}, p = ${normLabel(m.p)}, n = ${m.n}${m.n === k ? ' (all)' : ''}`;
  return `L(w) + λ·||∇L(w)||_q with λ = ${m.lambda}, q = ${normLabel(m.q)}`;
}

/**
 * The parameters hardening corrupts: by default every trainable float parameter (BatchNorm running statistics excluded).
 *
 * @example hardenableParams(model, { kinds: ['conv'] });
 */
export function hardenableParams(model: Model, sel?: ParamSelector | readonly string[]): string[] {
  if (Array.isArray(sel)) return [...sel];
  return selectParams(model, sel as ParamSelector | undefined).map((p) => p.name);
}

/**
 * The trainer objective for a method over the named parameters (their sizes from `model`). For 'corruption', each
 * step takes â = worstCorruption(∇_S L(w; B), ε, p, n) (Proposition 1) over the parameters S and holds it fixed.
 *
 * @example train(model, data, { objective: hardenObjective(model, { kind: 'corruption', eps: 0.1 }) });
 */
export function hardenObjective(model: Model, method: HardenMethod, sel?: ParamSelector | readonly string[]): Objective {
  const params = hardenableParams(model, sel);
  const inits = model.graph.initializers;
  for (const p of params) if (!inits.get(p)?.tensor) throw new Error(`harden: '${p}' is not a parameter of the model`);
  if (params.length === 0) throw new Error('harden: no parameters to harden');
  const k = params.reduce((a, p) => a + inits.get(p)!.tensor!.data.length, 0);
  const m = resolveHardenMethod(method, k);
  if (m.kind === 'grad-norm') return { kind: 'grad-norm', lambda: m.lambda, q: m.q, params };
  const spec = { eps: m.eps, p: m.p, n: m.n };
  return {
    kind: 'perturbed',
    alpha: m.alpha,
    id: JSON.stringify({ corruption: spec, params }),
    perturb: (grads) => {
      const { deltas } = worstCorruption(
        params.map((p) => grads.get(p)!.data as Float32Array),
        spec,
      );
      return new Map(params.map((p, i) => [p, deltas[i]]));
    },
  };
}

export interface HardenOptions extends Omit<TrainOptions, 'objective'> {
  method: HardenMethod;
  /** Parameters corrupted (or whose gradient norm is penalised), by selector or by name; default every trainable one. */
  params?: ParamSelector | readonly string[];
}

/**
 * Train (from scratch or fine-tuning) a model to resist parameter corruption; otherwise exactly `train`.
 * For 'corruption' each step costs two forward+backward passes; for 'grad-norm', one pass of a twice-differentiated graph.
 *
 * @example
 * const { model } = await harden(buildModel('lenet5'), trainSet, {
 *   trainModel: buildModel('lenet5', { mode: 'train' }), epochs: 10, method: { kind: 'corruption', eps: 0.1, p: 2 },
 * });
 */
export async function harden(model: Model, data: Dataset, opts: HardenOptions): Promise<TrainResult> {
  const { method, params, ...rest } = opts;
  return train(model, data, { ...rest, objective: hardenObjective(model, method, params) });
}

/** The corruption sweep run on both models: gradient-based corruption at each ε, per norm, on the test split. */
export interface HardenSweep {
  /** Corruption lengths for p = 2 (default 0.25, 0.5, 1, 2). */
  eps2?: number[];
  /** Corruption lengths for p = ∞ (default 0.001, 0.002, 0.005, 0.01). */
  epsInf?: number[];
  /** Parameters corrupted: a count, fraction, percentage or 'all' (default 'all': n = k, as the paper's Table 2). */
  n?: number | string;
  /** Examples per onnxruntime run (default 1000). */
  batchSize?: number;
}

export const HARDEN_SWEEP_DEFAULTS = { eps2: [0.25, 0.5, 1, 2], epsInf: [0.001, 0.002, 0.005, 0.01], n: 'all' as number | string };

export interface HardenClassifierOptions extends Omit<TrainClassifierOptions, 'objective'> {
  method: HardenMethod;
  /** Parameters corrupted or penalised during training (selector text or object; default every trainable one). */
  params?: ParamSelector | string;
  /** The model to compare with (default: `from`, the model being fine-tuned); none and training from scratch: no comparison. */
  baseline?: Model;
  /** Name of the baseline in the report (a path). */
  baselineName?: string;
  /** The comparison sweep, or false for none. */
  sweep?: HardenSweep | false;
  onProgress?: ProbeOptions['onProgress'];
}

/** One corruption setting, both models. */
export interface HardenComparisonRow {
  norm: number | 'inf';
  eps: number;
  n: number;
  baseline: { accuracy: number; loss: number };
  hardened: { accuracy: number; loss: number };
  /** hardened − baseline accuracy (a fraction). */
  gain: number;
}

export interface HardenSide {
  clean: { accuracy: number; loss: number };
  records: ProbeRecord[];
  /** Gradient the sweep took on: its loss and examples. */
  gradient: { examples: number; loss: number };
  params: { count: number; tensors: number };
}

export interface HardenComparison {
  data: string;
  examples: number;
  /** The baseline's name (path), or 'input model'. */
  baselineName: string;
  clean: { baseline: { accuracy: number; loss: number }; hardened: { accuracy: number; loss: number }; gain: number };
  rows: HardenComparisonRow[];
  baseline: HardenSide;
  hardened: HardenSide;
  settings: { eps2: number[]; epsInf: number[]; n: number | string; split: string; method: 'gradient' };
}

export interface HardenReport extends TrainClassifierResult {
  /** The method with its defaults filled in (norms as numbers or 'inf'), and the parameters it acts on. */
  method: ({ kind: 'corruption'; alpha: number; eps: number; p: number | 'inf'; n: number } | { kind: 'grad-norm'; lambda: number; q: number | 'inf' }) & {
    params: string;
    k: number;
    description: string;
  };
  /** Where the hardened model started: a zoo name or 'fine-tuned'. */
  start: string;
  /** The input (or --baseline) model against the hardened one under the same corruption sweep. */
  comparison?: HardenComparison;
  /** The hardened model under the sweep when there is nothing to compare with. */
  sweep?: HardenSide;
}

function checkEpsList(name: string, xs: number[]): void {
  if (xs.length === 0) return;
  for (const e of xs) if (!(Number.isFinite(e) && e > 0)) throw new Error(`harden: sweep ε for ${name} must be finite numbers > 0, got ${e}`);
}

/** The sweep's n against a model's trainable parameters, as one plain error. */
function checkSweepN(model: Model, n: number | string): void {
  try {
    resolveN(
      n,
      selectParams(model).reduce((a, p) => a + p.size, 0),
    );
  } catch (e) {
    throw new Error(`harden: comparison sweep: ${(e as Error).message}`);
  }
}

async function sweepSide(
  model: Model,
  name: string,
  test: LabelledData,
  sw: Required<Omit<HardenSweep, 'batchSize'>> & { batchSize?: number },
  o: HardenClassifierOptions,
): Promise<HardenSide> {
  const common: ProbeOptions = {
    modelName: name,
    dataset: test,
    split: 'test',
    gradExamples: test.x.dims[0],
    n: [sw.n],
    methods: ['gradient'],
    batchSize: sw.batchSize,
    runtime: o.runtime,
    onProgress: o.onProgress,
  };
  const reports: ProbeReport[] = [];
  if (sw.eps2.length) reports.push(await probe(model, { ...common, eps: sw.eps2, norms: [2] }));
  if (sw.epsInf.length) reports.push(await probe(model, { ...common, eps: sw.epsInf, norms: [Infinity] }));
  const r0 = reports[0];
  return {
    clean: { accuracy: r0.baseline.accuracy, loss: r0.baseline.loss },
    records: reports.flatMap((r) => r.records),
    gradient: { examples: r0.settings.gradient.examples, loss: r0.settings.gradient.loss },
    params: r0.params,
  };
}

/**
 * `scalpel harden`: train a classifier from scratch (`model`) or fine-tune one (`from`) with a corruption-resistant
 * objective, write it like `trainClassifier`, and compare it with the input (or `baseline`) model under the same
 * gradient-based corruption sweep on the test split (the gradient taken on that split: the worst case for each model).
 * Every setting is checked, and the baseline swept, before training starts.
 *
 * @example
 * const r = await hardenClassifier({ from: readModel('lenet5.onnx'), data: 'fashion-mnist', epochs: 5, out: 'hard.onnx',
 *   method: { kind: 'corruption', eps: 0.2, p: 2 } });
 * r.comparison?.rows; // accuracy of both models at each ε
 */
export async function hardenClassifier(o: HardenClassifierOptions): Promise<HardenReport> {
  const sel = typeof o.params === 'string' ? parseSelector(o.params) : (o.params ?? {});
  const sw =
    o.sweep === false
      ? undefined
      : {
          eps2: o.sweep?.eps2 ?? HARDEN_SWEEP_DEFAULTS.eps2,
          epsInf: o.sweep?.epsInf ?? HARDEN_SWEEP_DEFAULTS.epsInf,
          n: o.sweep?.n ?? HARDEN_SWEEP_DEFAULTS.n,
          batchSize: o.sweep?.batchSize,
        };
  if (sw) {
    checkEpsList('p = 2', sw.eps2);
    checkEpsList('p = inf', sw.epsInf);
    if (sw.eps2.length + sw.epsInf.length === 0) throw new Error('harden: the comparison sweep has no ε; give some or turn the sweep off');
  }
  const baseline = o.baseline ?? o.from;
  const baselineName = o.baselineName ?? (o.baseline ? 'baseline' : 'input model');
  if (!o.model === !o.from) throw new Error('harden: give either a zoo model name or a model to fine-tune');
  // Selector, n and the sweep's n against the model (a zoo model built here for the check; its class count may differ).
  const subject = o.from ?? buildModel(o.model!, { mode: 'eval', seed: o.seed ?? 0, width: o.width });
  const names = hardenableParams(subject, sel);
  resolveHardenMethod(
    o.method,
    names.reduce((a, p) => a + subject.graph.initializers.get(p)!.tensor!.data.length, 0),
  );
  if (sw) checkSweepN(subject, sw.n);

  // The baseline first: a data or model problem shows before any training, and its numbers before the long part.
  let test: LabelledData | undefined;
  let before: HardenSide | undefined;
  if (sw) {
    test = await loadLabelledData(o.data, 'test');
    if (baseline) {
      checkSweepN(baseline, sw.n);
      before = await sweepSide(baseline, baselineName, test, sw, o);
    }
  }

  let resolved: ResolvedHardenMethod | undefined;
  let k = 0;
  const { method, params: _p, baseline: _b, baselineName: _bn, sweep: _s, onProgress: _op, ...trainOpts } = o;
  const { model: hardened, ...result } = await trainClassifier({
    ...trainOpts,
    metadata: {
      ...o.metadata,
      'scalpel.harden': JSON.stringify({ method, params: formatSelector(sel) }, (_, v) => (typeof v === 'number' ? normLabel(v) : v)),
    },
    objective: (model) => {
      if (sw) checkSweepN(model, sw.n);
      const names = hardenableParams(model, sel);
      k = names.reduce((a, p) => a + model.graph.initializers.get(p)!.tensor!.data.length, 0);
      resolved = resolveHardenMethod(method, k);
      return hardenObjective(model, method, names);
    },
  });
  const report: HardenReport = {
    ...result,
    ...(hardened ? { model: hardened } : {}),
    method: {
      ...(resolved!.kind === 'corruption' ? { ...resolved!, p: normLabel(resolved!.p) } : { ...resolved!, q: normLabel(resolved!.q) }),
      params: formatSelector(sel),
      k,
      description: describeHardenMethod(resolved!, k),
    },
    start: o.from ? 'fine-tuned' : o.model!,
  };
  if (!hardened || !sw || !test) return report;
  const after = await sweepSide(hardened, o.out, test, sw, o);
  if (!before) {
    report.sweep = after;
    return report;
  }
  const key = (r: ProbeRecord) => `${r.norm}|${r.eps}|${r.n}`;
  const afterBy = new Map(after.records.map((r) => [key(r), r]));
  const rows: HardenComparisonRow[] = before.records.flatMap((b) => {
    const a = afterBy.get(key(b));
    if (!a) return [];
    return [
      {
        norm: b.norm,
        eps: b.eps,
        n: b.n,
        baseline: { accuracy: b.accuracy, loss: b.loss },
        hardened: { accuracy: a.accuracy, loss: a.loss },
        gain: a.accuracy - b.accuracy,
      },
    ];
  });
  report.comparison = {
    data: test.source,
    examples: test.x.dims[0],
    baselineName,
    clean: { baseline: before.clean, hardened: after.clean, gain: after.clean.accuracy - before.clean.accuracy },
    rows,
    baseline: before,
    hardened: after,
    settings: { eps2: sw.eps2, epsInf: sw.epsInf, n: sw.n, split: 'test', method: 'gradient' },
  };
  return report;
}
