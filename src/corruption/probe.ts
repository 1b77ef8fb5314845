// The sweep behind `scalpel probe`: gradient-based vs random corruption over ε × n × p (Table 1 of the paper),
// per-group vulnerability maps (its Figure 4), and the numerical check of Theorem 1 (its Table 3).
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';
import type { Split } from '../data/fashion-mnist.js';
import type { ParamInfo } from '../params/describe.js';
import { FlatParams } from '../params/flat.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { Rng } from '../tensor/rng.js';
import { checkDataFits } from '../tasks/classifier.js';
import { matchNormalization } from '../tasks/normalization.js';
import { isPlainCount } from '../data/count.js';
import { checkEps, checkNorm, type Corruption, type CorruptionSpec, resolveN, worstCorruption } from './closed-form.js';
import { normLabel } from './norms.js';
import { CorruptionEvaluator, type DatasetGradient, dotDeltas, type EvalResult, gradientOf, randomCorruption } from './corrupt.js';
import { formatSelector, groupParams, type Grouping, type ParamSelector, parseGrouping, parseSelector, selectParams } from '../params/select.js';
import { empiricalQuantiles, quantile, type Quantiles3, sortedCopy, theoreticalQuantiles } from './theorem1.js';

export type ProbeMethod = 'gradient' | 'random';

/** One corruption setting and what it did. */
export interface ProbeRecord {
  method: ProbeMethod;
  norm: number | 'inf';
  /** Parameters allowed to change (the n of the constraint set, after resolving fractions and clamping to the group). */
  n: number;
  eps: number;
  /** The parameter group corrupted (vulnerability maps); absent when the whole selection is. */
  group?: string;
  /** The n asked for (10, '1%', 'all'), which resolves to different counts in groups of different sizes. */
  nSpec?: number | string;
  /** Gradient: ε||h||_q, the first-order estimate of ΔL. Random: the mean over trials of |aᵀg|, its first-order |ΔL|. */
  firstOrder: number;
  /** Loss after corruption (random: the mean over trials). */
  loss: number;
  /** loss − the baseline loss on the same examples. */
  lossChange: number;
  /** Accuracy after corruption (random: the mean over trials). */
  accuracy: number;
  /** Parameters actually changed (≤ n). */
  changed: number;
  /** Gradient-based: how many entries of each parameter tensor changed (tensors left alone are omitted). */
  changedByTensor?: Record<string, number>;
  /** Random: the number of trials. */
  trials?: number;
  /** Random: spread over trials. */
  quantiles?: { loss: { q05: number; q50: number; q95: number; max: number }; accuracy: { q05: number; q50: number; q95: number; min: number } };
  /** Set when the record was measured on fewer examples than the report's baseline (random trials on a subset). */
  examples?: number;
  /** The unchanged model's loss and accuracy on those examples (when `examples` is set). */
  baseline?: { loss: number; accuracy: number };
}

/** Theorem 1 checked numerically (Table 3 of the paper), for p = 2 and n = k. */
export interface Theorem1Report {
  /** Parameters corrupted. */
  k: number;
  eps: number;
  trials: number;
  /** ||g||₂ of the loss gradient on the same examples as ΔL. */
  G: number;
  /** ε·G: the first-order loss change of the gradient-based corruption. */
  epsG: number;
  /** Quantiles α(0.9), α(0.95), α(0.995) of |ΔL| over the random trials. */
  empirical: Quantiles3;
  /** εG times the quantiles of η from its density: what Theorem 1 predicts to first order. */
  theoretical: Quantiles3;
  /** Quantiles of the trials' first-order |aᵀg| (= εGη exactly): tells sampling error from second-order effects. */
  firstOrder?: Quantiles3;
  /** The gradient-based corruption on the same examples and ε: its measured ΔL. */
  gradient?: { lossChange: number };
  /** Examples ΔL and G were computed on. */
  examples?: number;
}

export interface ProbeReport {
  model: string;
  data: string;
  /** Examples the baseline and the gradient-based records were evaluated on. */
  examples: number;
  baseline: { loss: number; accuracy: number };
  /** Parameters probed (the whole selection). */
  params: { count: number; tensors: number };
  /** With --by: the groups, in graph order. */
  groups?: { group: string; count: number; tensors: number }[];
  records: ProbeRecord[];
  theorem1?: Theorem1Report;
  settings: ProbeSettings;
}

export interface ProbeSettings {
  eps: number[];
  n: (number | string)[];
  norms: (number | 'inf')[];
  methods: ProbeMethod[];
  trials: number;
  params: string;
  by?: string;
  split: Split | 'file';
  /** Where the gradient v = ∇L of the gradient-based corruption was taken. */
  gradient: { data: string; split: Split | 'file'; examples: number; loss: number };
  /** Random trials ran on the first this many evaluation examples. */
  trialExamples: number;
  batch: number;
  seed: number;
  seconds?: number;
  /** The command line, when run from the CLI. */
  command?: string;
}

export interface ProbeOptions {
  /** Name shown in the report (default 'model'). */
  modelName?: string;
  /** Evaluation data (loadLabelledData spec; default the embedded subset) and its split (default 'test'). */
  data?: string;
  split?: Split;
  /** …or the evaluation data itself (then `data` is only its name). */
  dataset?: LabelledData;
  /** Data for the gradient (default: the same source as `data`, training split; a file is used as it is). */
  gradData?: string;
  gradSplit?: Split;
  gradDataset?: LabelledData;
  /** Gradient over the first this many examples (default 1000). */
  gradExamples?: number;
  /** Corruption lengths ε (default 1e-3, 1e-2, 1e-1). */
  eps?: number[];
  /** Parameter counts: numbers, fractions, '1%', 'all' (default 10, 100, '1%'). */
  n?: (number | string)[];
  /** Norms p ≥ 1, Infinity for the max norm (default ∞ and 2). */
  norms?: number[];
  /** Default gradient and random; only gradient when grouping. */
  methods?: ProbeMethod[];
  /** Random trials per setting (default 10). */
  trials?: number;
  /** Which parameters (default every trainable one). */
  params?: ParamSelector | string;
  /** Vulnerability map: corrupt one group at a time. */
  by?: Grouping | string;
  /** Examples per onnxruntime run (default 200: a fresh session's first runs cost more with larger batches). */
  batchSize?: number;
  seed?: number;
  /** Random trials evaluate on the first this many examples (default all when trials ≤ 100, else 512). */
  trialExamples?: number;
  runtime?: RuntimeOptions;
  /** Progress: a phase label and its count. */
  onProgress?: (label: string, done: number, total: number) => void;
  /** Called with each gradient-based record and its corruption (one dense delta per selected tensor, `names` order). */
  onGradientCorruption?: (record: ProbeRecord, names: readonly string[], deltas: Float32Array[]) => void;
}

/** Everything checked before any work: what will run. */
export interface ProbePlan {
  selection: ParamInfo[];
  groups?: { group: string; params: ParamInfo[] }[];
  eps: number[];
  norms: number[];
  methods: ProbeMethod[];
  trials: number;
  /** Per group (or the single whole selection), the distinct resolved counts and the n each came from. */
  counts: { n: number; spec: number | string }[][];
  selectorText: string;
  byText?: string;
  theorem: boolean;
}

export const PROBE_DEFAULTS = {
  eps: [1e-3, 1e-2, 1e-1],
  n: [10, 100, '1%'] as (number | string)[],
  norms: [Infinity, 2],
  trials: 10,
  gradExamples: 1000,
  batchSize: 200,
};

/** Trials needed before the Theorem 1 table is computed (its 99.5% quantile needs a few hundred). */
export const THEOREM1_MIN_TRIALS = 100;

/**
 * Check every setting against the model (ε > 0, p ≥ 1, n within the selection, a selector and grouping that match)
 * and return what would run. Throws one clear error for the first problem; nothing has run yet.
 *
 * @example planProbe(model, { eps: [1e-3], n: [10], norms: [Infinity] });
 */
export function planProbe(model: Model, o: ProbeOptions = {}): ProbePlan {
  const eps = o.eps ?? PROBE_DEFAULTS.eps;
  const norms = o.norms ?? PROBE_DEFAULTS.norms;
  const trials = o.trials ?? PROBE_DEFAULTS.trials;
  if (eps.length === 0) throw new Error('give at least one corruption length ε');
  if (norms.length === 0) throw new Error('give at least one norm p');
  eps.forEach(checkEps);
  norms.forEach(checkNorm);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`trials must be a whole number ≥ 1, got ${trials}`);
  const sel = typeof o.params === 'string' ? parseSelector(o.params) : (o.params ?? {});
  const selection = selectParams(model, sel);
  const by = typeof o.by === 'string' ? parseGrouping(o.by, model) : o.by;
  const groups = by === undefined ? undefined : groupParams(model, by, sel);
  const methods = [...new Set(o.methods ?? (groups ? ['gradient'] : ['gradient', 'random']))] as ProbeMethod[];
  if (methods.length === 0) throw new Error('give at least one method (gradient, random)');
  for (const m of methods) if (m !== 'gradient' && m !== 'random') throw new Error(`unknown method '${m}'; use gradient or random`);
  const k = selection.reduce((a, p) => a + p.size, 0);
  const nSpecs = o.n ?? PROBE_DEFAULTS.n;
  if (nSpecs.length === 0) throw new Error('give at least one parameter count n');
  const whole = nSpecs.map((n) => resolveN(n, k)); // errors name the selection's k
  const counts = (groups ?? [{ group: '', params: selection }]).map((g) => {
    const gk = g.params.reduce((a, p) => a + p.size, 0);
    const seen = new Set<number>();
    const out: { n: number; spec: number | string }[] = [];
    nSpecs.forEach((spec, i) => {
      const n = groups ? (isPlainCount(spec) ? Math.min(whole[i], gk) : resolveN(spec, gk)) : whole[i];
      if (!seen.has(n)) out.push({ n, spec });
      seen.add(n);
    });
    return out;
  });
  const theorem = !groups && methods.includes('random') && norms.includes(2) && counts[0].some((c) => c.n === k) && trials >= THEOREM1_MIN_TRIALS;
  return {
    selection,
    groups,
    eps,
    norms,
    methods,
    trials,
    counts,
    selectorText: formatSelector(sel),
    byText: typeof o.by === 'string' ? o.by : by === undefined ? undefined : JSON.stringify(by),
    theorem,
  };
}

function splitOf(d: LabelledData, split: Split): Split | 'file' {
  return /\.(safetensors|npz)$/.test(d.source) ? 'file' : split;
}

/** Load, re-normalise and check the evaluation and gradient data (before any computation). */
export async function loadProbeData(model: Model, o: ProbeOptions): Promise<{ data: LabelledData; split: Split; grad: LabelledData; gradSplit: Split }> {
  const split = o.split ?? 'test';
  const data = matchNormalization(model, o.dataset ?? (await loadLabelledData(o.data, split)));
  checkDataFits(model, data);
  const gradSplit = o.gradSplit ?? 'train';
  let grad: LabelledData;
  if (o.gradDataset) grad = o.gradDataset;
  else if (o.dataset && o.gradData === undefined) grad = o.dataset;
  else grad = await loadLabelledData(o.gradData ?? o.data, gradSplit);
  grad = matchNormalization(model, grad);
  if (grad !== data) checkDataFits(model, grad);
  return { data, split, grad, gradSplit };
}

/** Place a corruption of some of the evaluator's tensors (`which`) into all of them (zeros elsewhere). */
function embed(c: Corruption, which: number[], sizes: readonly number[], zeros: () => Float32Array[]): Corruption {
  if (which.length === sizes.length && which.every((t, i) => t === i)) return c;
  const deltas = zeros().slice();
  which.forEach((t, i) => (deltas[t] = c.deltas[i]));
  // Indices are global over the group's tensors in `which` order; map each to the evaluator's global space.
  const all = FlatParams.ofSizes(sizes);
  const indices = new Uint32Array(c.indices.length);
  FlatParams.ofSizes(which.map((t) => sizes[t])).forEach(c.indices, (t, o, j) => (indices[j] = all.offsets[which[t]] + o));
  // Tensors of a named group need not be in evaluator order; keep indices increasing for the evaluator.
  if (which.some((t, i) => i > 0 && t < which[i - 1])) indices.sort();
  return { deltas, indices, firstOrder: c.firstOrder };
}

/** Entries a corruption changed, in all and per tensor (tensors it left alone omitted). */
function countChanged(
  deltas: Float32Array[],
  indices: Uint32Array,
  sizes: readonly number[],
  names: readonly string[],
): { changed: number; changedByTensor: Record<string, number> } {
  const perTensor = new Array<number>(sizes.length).fill(0);
  FlatParams.ofSizes(sizes).forEach(indices, (t, o) => {
    if (deltas[t][o] !== 0) perTensor[t]++;
  });
  const changedByTensor: Record<string, number> = {};
  perTensor.forEach((c, i) => {
    if (c > 0) changedByTensor[names[i]] = c;
  });
  return { changed: perTensor.reduce((a, b) => a + b, 0), changedByTensor };
}

/**
 * Probe a classifier's parameters: gradient-based corruption (Algorithm 2, v = ∇L over the gradient data, by default
 * the first 1,000 training examples, as the paper takes the gradient on the training set) and random corruption
 * (Algorithm 1, `trials` draws) for every ε × n × p, evaluated on the evaluation data (default the test split);
 * with `by`, one group of parameters at a time. With random trials ≥ 100, p = 2 and n = k it also checks
 * Theorem 1 (Table 3) at the first ε: |ΔL| quantiles of the trials beside εG times the quantiles of η, with
 * G = ||∇L||₂ taken on the same examples as ΔL (the first `trialExamples`).
 * Every setting and the data are checked before any work.
 *
 * @example
 * const report = await probe(readModel('lenet5.onnx'), { data: 'fashion-mnist', eps: [1e-3], n: [100], norms: [Infinity] });
 */
export async function probe(model: Model, o: ProbeOptions = {}): Promise<ProbeReport> {
  const started = performance.now();
  const plan = planProbe(model, o);
  const g = await gatherProbe(model, plan, o);
  const { records, theorem1 } = await sweepProbe(plan, g, o);
  return probeReport(plan, g, records, theorem1, o, (performance.now() - started) / 1000);
}

/** What the sweep needs, computed once: the data, the gradient, the evaluators and the baselines. */
interface ProbeInputs {
  data: LabelledData;
  split: Split;
  gradData: LabelledData;
  gradSplit: Split;
  names: string[];
  grad: DatasetGradient;
  /** The gradient on the random trials' examples (Theorem 1 only). */
  gradTrials?: DatasetGradient;
  ev: CorruptionEvaluator;
  baseline: EvalResult;
  /** The evaluator and baseline of the random trials (a subset of the examples when `needSubset`). */
  trialEv: CorruptionEvaluator;
  trialBase: EvalResult;
  needSubset: boolean;
  trialExamples: number;
  batchSize: number;
  seed: number;
}

/** Step 2: load the data, take the gradient, build the evaluators, measure the baselines. */
async function gatherProbe(model: Model, plan: ProbePlan, o: ProbeOptions): Promise<ProbeInputs> {
  const { data, split, grad: gradData, gradSplit } = await loadProbeData(model, o);
  const batchSize = o.batchSize ?? PROBE_DEFAULTS.batchSize;
  const gradExamples = Math.min(o.gradExamples ?? PROBE_DEFAULTS.gradExamples, gradData.x.dims[0]);
  const total = data.x.dims[0];
  const trialExamples = Math.min(o.trialExamples ?? (plan.trials <= THEOREM1_MIN_TRIALS ? total : 512), total);
  const names = plan.selection.map((p) => p.name);
  const progress = o.onProgress ?? (() => {});
  const runtime = o.runtime;
  const gradBatch = Math.min(batchSize, 250);
  const grad = await gradientOf(model, gradData, {
    params: names,
    maxExamples: gradExamples,
    batchSize: gradBatch,
    runtime,
    onProgress: (d, t) => progress('gradient', d, t),
  });
  const ev = await CorruptionEvaluator.create(model, names, data, { batchSize, runtime });
  const baseline = await ev.evaluate(undefined, (d, t) => progress('baseline', d, t));
  const needSubset = plan.methods.includes('random') && trialExamples < total;
  const trialEv = needSubset ? await CorruptionEvaluator.create(model, names, data, { batchSize, runtime, maxExamples: trialExamples }) : ev;
  const trialBase = needSubset ? await trialEv.evaluate() : baseline;
  // Theorem 1: the gradient on the trial examples themselves.
  let gradTrials: DatasetGradient | undefined;
  if (plan.theorem)
    gradTrials =
      trialExamples === gradExamples && gradData === data
        ? grad
        : await gradientOf(model, data, { params: names, maxExamples: trialExamples, batchSize: gradBatch, runtime });
  return {
    data,
    split,
    gradData,
    gradSplit,
    names,
    grad,
    gradTrials,
    ev,
    baseline,
    trialEv,
    trialBase,
    needSubset,
    trialExamples,
    batchSize,
    seed: o.seed ?? 0,
  };
}

/** Step 3: every method × group × p × n × ε, evaluated; Theorem 1 from the first matching random setting. */
async function sweepProbe(plan: ProbePlan, g: ProbeInputs, o: ProbeOptions): Promise<{ records: ProbeRecord[]; theorem1?: Theorem1Report }> {
  const { ev, names, grad } = g;
  const progress = o.onProgress ?? (() => {});
  // Zero deltas for the tensors a group leaves alone, made only when a group leaves some alone (a model's worth).
  let zerosMade: Float32Array[] | undefined;
  const zeros = () => (zerosMade ??= ev.sizes.map((s) => new Float32Array(s)));
  const index = new Map(names.map((n, i) => [n, i]));
  const groups = plan.groups ?? [{ group: undefined as string | undefined, params: plan.selection }];
  const settings = plan.eps.length * plan.norms.length * plan.counts.reduce((a, c) => a + c.length, 0);
  const totalEvals = settings * ((plan.methods.includes('gradient') ? 1 : 0) + (plan.methods.includes('random') ? plan.trials : 0));
  let evals = 0;
  const tick = () => progress('corrupting', ++evals, totalEvals);

  const records: ProbeRecord[] = [];
  let theorem1: Theorem1Report | undefined;
  let recordSeed = 0;
  for (const method of plan.methods) {
    for (const [gi, group] of groups.entries()) {
      const which = group.params.map((p) => index.get(p.name)!);
      const gGrad = which.map((t) => grad.gradients[t]);
      const gSizes = which.map((t) => ev.sizes[t]);
      for (const p of plan.norms) {
        for (const { n, spec: nSpec } of plan.counts[gi]) {
          for (const eps of plan.eps) {
            const spec = { eps, p, n };
            const base = { method, norm: normLabel(p), n, eps, ...(group.group !== undefined ? { group: group.group } : {}), nSpec };
            if (method === 'gradient') {
              const c = embed(worstCorruption(gGrad, spec), which, ev.sizes, zeros);
              const r = await ev.evaluate(c);
              tick();
              const record: ProbeRecord = {
                ...base,
                firstOrder: c.firstOrder,
                loss: r.loss,
                lossChange: r.loss - g.baseline.loss,
                accuracy: r.accuracy,
                ...countChanged(c.deltas, c.indices, ev.sizes, names),
              };
              records.push(record);
              o.onGradientCorruption?.(record, names, c.deltas);
              continue;
            }
            const rng = new Rng((g.seed * 7919 + ++recordSeed * 104729) >>> 0);
            const trials = await randomTrials(plan, g, which, gSizes, spec, rng, zeros, tick);
            records.push(randomRecord(base, trials, plan, g));
            if (g.gradTrials && !theorem1 && p === 2 && n === ev.k && eps === plan.eps[0]) theorem1 = await theorem1Of(plan, g, eps, trials);
          }
        }
      }
    }
  }
  return { records, theorem1 };
}

/** The outcome of `trials` random corruptions of one setting. */
interface Trials {
  results: EvalResult[];
  /** |aᵀg| of each trial with the gradient data's g, and with the trial examples' g (Theorem 1). */
  first: number[];
  firstT: number[];
  changed: number;
}

async function randomTrials(
  plan: ProbePlan,
  g: ProbeInputs,
  which: number[],
  gSizes: number[],
  spec: CorruptionSpec,
  rng: Rng,
  zeros: () => Float32Array[],
  tick: () => void,
): Promise<Trials> {
  const { ev } = g;
  const out: Trials = { results: [], first: [], firstT: [], changed: 0 };
  for (let t = 0; t < plan.trials; t++) {
    const c = embed(randomCorruption(gSizes, spec, rng), which, ev.sizes, zeros);
    out.first.push(Math.abs(dotDeltas(c.deltas, g.grad.gradients, c.indices.length < ev.k ? c.indices : undefined)));
    if (g.gradTrials) out.firstT.push(Math.abs(dotDeltas(c.deltas, g.gradTrials.gradients)));
    out.changed = Math.max(out.changed, countChanged(c.deltas, c.indices, ev.sizes, g.names).changed);
    out.results.push(await g.trialEv.evaluate(c));
    tick();
  }
  return out;
}

function randomRecord(base: Pick<ProbeRecord, 'method' | 'norm' | 'n' | 'eps' | 'group' | 'nSpec'>, t: Trials, plan: ProbePlan, g: ProbeInputs): ProbeRecord {
  const losses = sortedCopy(t.results.map((r) => r.loss));
  const accs = sortedCopy(t.results.map((r) => r.accuracy));
  const rec: ProbeRecord = {
    ...base,
    firstOrder: mean(t.first),
    loss: mean(losses),
    lossChange: mean(losses) - g.trialBase.loss,
    accuracy: mean(accs),
    changed: t.changed,
    trials: plan.trials,
    quantiles: {
      loss: { q05: quantile(losses, 0.05), q50: quantile(losses, 0.5), q95: quantile(losses, 0.95), max: losses[losses.length - 1] },
      accuracy: { q05: quantile(accs, 0.05), q50: quantile(accs, 0.5), q95: quantile(accs, 0.95), min: accs[0] },
    },
  };
  if (g.needSubset) {
    rec.examples = g.trialExamples;
    rec.baseline = { loss: g.trialBase.loss, accuracy: g.trialBase.accuracy };
  }
  return rec;
}

/** Step 4: Theorem 1 at ε from the random trials of p = 2, n = k, beside the gradient-based corruption's ΔL. */
async function theorem1Of(plan: ProbePlan, g: ProbeInputs, eps: number, t: Trials): Promise<Theorem1Report> {
  const { ev, trialEv, trialBase } = g;
  const gT = g.gradTrials!;
  const G = l2(gT.gradients);
  const worst = await trialEv.evaluate(worstCorruption(gT.gradients, { eps, p: 2, n: ev.k }));
  return {
    k: ev.k,
    eps,
    trials: plan.trials,
    G,
    epsG: eps * G,
    empirical: empiricalQuantiles(t.results.map((r) => Math.abs(r.loss - trialBase.loss))),
    theoretical: theoreticalQuantiles(ev.k, eps, G),
    firstOrder: empiricalQuantiles(t.firstT),
    gradient: { lossChange: worst.loss - trialBase.loss },
    examples: g.trialExamples,
  };
}

/** Step 5: the report. */
function probeReport(
  plan: ProbePlan,
  g: ProbeInputs,
  records: ProbeRecord[],
  theorem1: Theorem1Report | undefined,
  o: ProbeOptions,
  seconds: number,
): ProbeReport {
  const sizeOf = (ps: ParamInfo[]) => ps.reduce((a, p) => a + p.size, 0);
  return {
    model: o.modelName ?? 'model',
    data: g.data.source,
    examples: g.data.x.dims[0],
    baseline: { loss: g.baseline.loss, accuracy: g.baseline.accuracy },
    params: { count: g.ev.k, tensors: g.names.length },
    ...(plan.groups ? { groups: plan.groups.map((x) => ({ group: x.group, count: sizeOf(x.params), tensors: x.params.length })) } : {}),
    records,
    ...(theorem1 ? { theorem1 } : {}),
    settings: {
      eps: plan.eps,
      n: o.n ?? PROBE_DEFAULTS.n,
      norms: plan.norms.map(normLabel),
      methods: plan.methods,
      trials: plan.trials,
      params: plan.selectorText,
      ...(plan.byText ? { by: plan.byText } : {}),
      split: splitOf(g.data, g.split),
      gradient: { data: g.gradData.source, split: splitOf(g.gradData, g.gradSplit), examples: g.grad.examples, loss: g.grad.loss },
      trialExamples: g.trialExamples,
      batch: g.batchSize,
      seed: g.seed,
      seconds,
    },
  };
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

function l2(xs: Float32Array[]): number {
  let m = 0;
  for (const x of xs) for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  if (m === 0) return 0;
  let s = 0;
  for (const x of xs) for (let i = 0; i < x.length; i++) s += (x[i] / m) ** 2;
  return m * Math.sqrt(s);
}
