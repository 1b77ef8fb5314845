// An L1-penalised change by proximal steps, λ adapted to the budget, then the N largest |δ| re-tuned.
import { FlatParams } from '../../params/flat.js';
import { deltasOf, keepOnly, masksOf, nonzeroCount } from '../masks.js';
import { settingOf, type SurgeryMethod } from '../method.js';
import { snapshot, tune } from '../tune.js';

export const lagrange: SurgeryMethod = {
  name: 'lagrange',
  summary: 'L(w0+δ) + λ‖δ‖₁ by proximal steps, then the N largest |δ| re-tuned',
  help: 'minimise L(w0+δ) + λ‖δ‖₁ by proximal steps (soft-threshold δ after each step by λ times the step size of each entry, so an entry stays non-zero only while its gradient outweighs λ); λ starts at {lambda} and every {every} steps grows by {lambdaGrowth} while more than N entries are non-zero, or shrinks by it while fewer than N/2 are; after {phase} of the steps keep the N largest |δ| and re-tune them without the penalty.',
  budgeted: true,
  settings: [
    { key: 'every', flag: '--every <n>', help: 'steps between λ updates', default: 5, integer: true, min: 1 },
    { key: 'phase', flag: '--phase <fraction>', help: 'share of penalised steps', default: 0.6, min: 0.01, max: 1 },
    { key: 'lambda', flag: '--lambda <λ>', help: 'starting L1 weight, in units of the loss gradient', default: 1e-3, min: 0 },
    { key: 'lambdaGrowth', flag: '--lambda-growth <factor>', help: 'factor on λ at each update', default: 1.2, min: 1 },
  ],
  async run({ ctx, budget, settings }) {
    const flat = FlatParams.of(ctx.model, ctx.names);
    const w0 = snapshot(ctx.model, ctx.names);
    const every = settingOf(lagrange, settings, 'every');
    const penalised = Math.max(1, Math.round(settingOf(lagrange, settings, 'phase') * ctx.settings.steps));
    const growth = settingOf(lagrange, settings, 'lambdaGrowth');
    let lambda = settingOf(lagrange, settings, 'lambda');
    const masks = masksOf(
      flat,
      Uint32Array.from({ length: flat.k }, (_, i) => i),
    );
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
    if (atRetune < 0 && !t.stopped) throw new Error(`lagrange: the run stopped after ${t.steps} steps, before the re-tuning phase`);
    return { ...t, details: { lambda, penalisedSteps: penalised, nonzeroBeforeRetune: atRetune } };
  },
};
