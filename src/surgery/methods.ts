// The four ways to make an edit (neural network surgery, METHODS.md §2): full fine-tuning, an L1-penalised change with
// proximal steps, tuning a fixed selection, and dynamic selection. Each returns the edited model; counting what
// changed is the caller's (bitwise, against the input).
import { computeGradients } from '../analysis/gradients.js';
import { takeRows } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import { Rng } from '../tensor/rng.js';
import { dataInput } from '../tasks/classifier.js';
import { deltasOf, keepOnly, masksOf, nonzeroCount } from './masks.js';
import { FlatParams } from '../params/flat.js';
import { snapshot, tune, type TuneContext } from './tune.js';

export type SurgeryMethod = 'finetune' | 'lagrange' | 'select' | 'dynamic';
export const SURGERY_METHODS: readonly SurgeryMethod[] = ['dynamic', 'lagrange', 'select', 'finetune'];
export type SelectBy = 'random' | 'grad' | 'delta';
export const SELECT_BY: readonly SelectBy[] = ['random', 'grad', 'delta'];

/** Settings of the methods that have any, with their defaults. */
export interface MethodSettings {
  /** select: how the N entries are chosen before tuning (default 'grad'). */
  by?: SelectBy;
  /** dynamic and lagrange: steps between two prunings / λ updates (default 10 / 5). */
  every?: number;
  /** dynamic: share of the steps over which n′ shrinks to N (default 0.5); lagrange: share spent on penalised steps (default 0.6). */
  phase?: number;
  /**
   * lagrange: the starting λ (default 1e-3, in units of the loss gradient: an entry stays non-zero while its gradient
   * outweighs λ) and its factor at each update (default 1.2): up while more than N entries are non-zero, down while
   * fewer than N/2 are.
   */
  lambda?: number;
  lambdaGrowth?: number;
  /** select --by delta: share of the steps of the short full fine-tune that ranks the entries (default 0.2). */
  probe?: number;
  /** select --by grad: pattern examples the gradient is taken on (default 512). */
  gradExamples?: number;
}

export const METHOD_DEFAULTS = { by: 'grad' as SelectBy, dynamicEvery: 10, dynamicPhase: 0.5, lagrangeEvery: 5, lagrangePhase: 0.6, lambda: 1e-3, lambdaGrowth: 1.2, probe: 0.2, gradExamples: 512 };

export interface MethodResult {
  model: Model;
  steps: number;
  finalLoss: number;
  stopped: boolean;
  /** What the method decided on the way (schedule, final λ, …). */
  details: Record<string, number | string | number[]>;
}

/**
 * Fine-tune every parameter in `ctx.names` (the baseline; restrict `names` for one layer).
 *
 * @example const r = await finetuneMethod(ctx);
 */
export async function finetuneMethod(ctx: TuneContext): Promise<MethodResult> {
  const t = await tune(ctx, { phase: 'finetune' });
  return { ...t, details: {} };
}

/**
 * Dynamic selection (the paper's best): tune every entry at first; every `every` steps keep only the n′ entries with
 * the largest |δ| and reset the rest to w0 (they stay there), n′ shrinking geometrically from k to `budget` over the
 * first `phase` of the steps; the last steps tune the `budget` entries left.
 *
 * @example const r = await dynamicMethod(ctx, 100);
 */
export async function dynamicMethod(ctx: TuneContext, budget: number, s: MethodSettings = {}): Promise<MethodResult> {
  const flat = FlatParams.of(ctx.model, ctx.names);
  const w0 = snapshot(ctx.model, ctx.names);
  const every = s.every ?? METHOD_DEFAULTS.dynamicEvery;
  const phase = s.phase ?? METHOD_DEFAULTS.dynamicPhase;
  const prunes = Math.max(1, Math.floor((phase * ctx.settings.steps) / every));
  const schedule = Array.from({ length: prunes }, (_, j) => Math.max(budget, Math.round(flat.k * (budget / flat.k) ** ((j + 1) / prunes))));
  schedule[prunes - 1] = budget;
  const masks = masksOf(flat, Uint32Array.from({ length: flat.k }, (_, i) => i));
  let done = 0;
  const t = await tune(ctx, {
    phase: `dynamic N=${budget}`,
    masks,
    afterStep: (params, info) => {
      if (done >= prunes || info.step % every !== 0) return;
      const keep = flat.topN(deltasOf(flat, params, w0), schedule[done++]);
      keepOnly(flat, params, w0, masks, keep);
    },
  });
  if (done < prunes) throw new Error(`dynamic: only ${done} of ${prunes} prunings ran in ${t.steps} steps; give more --steps or a smaller --every`);
  return { ...t, details: { prunings: prunes, every, schedule } };
}

/**
 * L1-penalised change with proximal steps: after each optimiser step, soft-threshold δ = w − w0 by η·λ, η the step's
 * size per unit gradient for that entry (lr for SGD, Adam's lr/(√v̂+ε)), so that entries that reach 0 return exactly
 * to w0 and an entry stays non-zero only while its gradient outweighs λ; every `every` steps raise λ by `lambdaGrowth` while more than `budget` entries are
 * non-zero (and lower it while fewer than half as many are). After the penalised `phase` of the steps, keep the
 * `budget` largest |δ| (only the non-zero ones when fewer), reset the rest, and re-tune those without the penalty.
 *
 * @example const r = await lagrangeMethod(ctx, 100);
 */
export async function lagrangeMethod(ctx: TuneContext, budget: number, s: MethodSettings = {}): Promise<MethodResult> {
  const flat = FlatParams.of(ctx.model, ctx.names);
  const w0 = snapshot(ctx.model, ctx.names);
  const every = s.every ?? METHOD_DEFAULTS.lagrangeEvery;
  const penalised = Math.max(1, Math.round((s.phase ?? METHOD_DEFAULTS.lagrangePhase) * ctx.settings.steps));
  const growth = s.lambdaGrowth ?? METHOD_DEFAULTS.lambdaGrowth;
  let lambda = s.lambda ?? METHOD_DEFAULTS.lambda;
  const masks = masksOf(flat, Uint32Array.from({ length: flat.k }, (_, i) => i));
  let nonzero = flat.k;
  let atRetune = -1;
  const t = await tune(ctx, {
    phase: `lagrange N=${budget}`,
    masks,
    afterStep: (params, info, optimizer) => {
      if (info.step > penalised) return;
      for (const n of flat.names) {
        const w = params.get(n)!.data as Float32Array;
        const base = w0.get(n)!;
        // The proximal step of λ‖δ‖₁ under the optimiser's per-entry step size η: soft-threshold by η·λ.
        const eta = optimizer.stepSizes(n, info.lr, w.length);
        for (let i = 0; i < w.length; i++) {
          const d = w[i] - base[i];
          const tau = eta[i] * lambda;
          w[i] = d > tau ? base[i] + (d - tau) : d < -tau ? base[i] + (d + tau) : base[i];
        }
      }
      nonzero = nonzeroCount(flat, params, w0);
      if (info.step % every === 0 && info.step < penalised) {
        if (nonzero > budget) lambda *= growth;
        else if (nonzero < budget / 2) lambda /= growth;
      }
      if (info.step === penalised) {
        atRetune = nonzero;
        // At most N entries: the non-zero ones when there are no more than N (any others would be picked blindly).
        keepOnly(flat, params, w0, masks, flat.topN(deltasOf(flat, params, w0), nonzero > 0 ? Math.min(budget, nonzero) : budget));
      }
    },
  });
  if (atRetune < 0) throw new Error(`lagrange: the run stopped after ${t.steps} steps, before the re-tuning phase`);
  return { ...t, details: { lambda, penalisedSteps: penalised, nonzeroBeforeRetune: atRetune } };
}

/**
 * Tune a selection of `budget` entries fixed before tuning: chosen at random (seeded), by the largest |gradient| of
 * the pattern loss at w0 ('grad'), or by the largest |δ| after a short full fine-tune ('delta').
 *
 * @example const r = await selectMethod(ctx, 100, { by: 'grad' }, patternTrain);
 */
export async function selectMethod(ctx: TuneContext, budget: number, s: MethodSettings, pattern: { x: import('../tensor/host-tensor.js').HostTensor; y: import('../tensor/host-tensor.js').HostTensor }): Promise<MethodResult> {
  const flat = FlatParams.of(ctx.model, ctx.names);
  const by = s.by ?? METHOD_DEFAULTS.by;
  let keep: Uint32Array;
  const details: MethodResult['details'] = { by };
  if (by === 'random') {
    keep = new Rng(ctx.settings.seed + 7).permutation(flat.k).slice(0, budget).sort();
  } else if (by === 'grad') {
    const n = Math.min(pattern.x.dims[0], s.gradExamples ?? METHOD_DEFAULTS.gradExamples);
    const rows = new Rng(ctx.settings.seed + 11).permutation(pattern.x.dims[0]).slice(0, n);
    const feeds = new Map([[dataInput(ctx.model), takeRows(pattern.x, rows)], ['y', takeRows(pattern.y, rows)]]);
    const { gradients } = await computeGradients(ctx.model, feeds, { params: ctx.names, runtime: ctx.settings.runtime });
    keep = flat.topN(ctx.names.map((x) => gradients.get(x)!.data as Float32Array), budget);
    details.gradExamples = n;
  } else {
    const w0 = snapshot(ctx.model, ctx.names);
    const probeSteps = Math.max(1, Math.round((s.probe ?? METHOD_DEFAULTS.probe) * ctx.settings.steps));
    const probe = await tune(ctx, { phase: 'select: probe', maxSteps: probeSteps });
    const params = new Map(ctx.names.map((x) => [x, probe.model.graph.initializers.get(x)!.tensor!]));
    keep = flat.topN(deltasOf(flat, params, w0), budget);
    details.probeSteps = probeSteps;
  }
  const t = await tune(ctx, { phase: `select:${by} N=${budget}`, masks: masksOf(flat, keep) });
  return { ...t, details };
}
