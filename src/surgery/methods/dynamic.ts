// Dynamic selection (the paper's best): tune every entry, and every few steps keep only the best n′ of them, n′
// shrinking to N. Variants: by |δ| (the paper's), or by |δ| / √(F_clean + ε) (side-effect aware).
import { FlatParams } from '../../params/flat.js';
import { cleanFisher, fisherRatio } from '../../train/fisher.js';
import { settingOf, type SurgeryMethod } from '../method.js';
import { byDelta, pruner } from '../pruning.js';
import { snapshot, tune } from '../tune.js';
import { fisherSettings } from './shared-settings.js';

export const dynamic: SurgeryMethod = {
  name: 'dynamic',
  summary: "prune while tuning, to the N entries with the largest |δ| (the paper's best), or the best |δ|/√(F+ε)",
  help:
    'tune every selected parameter, and every {every} steps keep only the n′ entries with the largest score, resetting the others to their original values; n′ shrinks geometrically to N over the first {phase} of the steps, the rest tune the N kept. ' +
    'dynamic:delta (the default) scores by |δ|; dynamic:fisher by |δ| / √(F + ε), F the diagonal Fisher of the clean outputs at the original values ({fisherExamples} training inputs, ε = {fisherEpsilon} × mean F), so that entries the clean predictions are sensitive to are pruned first.',
  budgeted: true,
  variants: { names: ['delta', 'fisher'], default: 'delta', bare: true },
  settings: [
    { key: 'every', flag: '--every <n>', help: 'steps between prunings', default: 10, integer: true, min: 1 },
    { key: 'phase', flag: '--phase <fraction>', help: 'share of the steps over which n′ shrinks', default: 0.5, min: 0.01, max: 1 },
    ...fisherSettings,
  ],
  async run({ ctx, budget, settings, variant, clean }) {
    const flat = FlatParams.of(ctx.model, ctx.names);
    const w0 = snapshot(ctx.model, ctx.names);
    let score = byDelta;
    if (variant === 'fisher') {
      const F = await cleanFisher(ctx.model, ctx.names, clean, {
        examples: settingOf(dynamic, settings, 'fisherExamples'),
        seed: ctx.settings.seed,
        runtime: ctx.settings.runtime,
      });
      const eps = settingOf(dynamic, settings, 'fisherEpsilon');
      score = (d) => fisherRatio(d, F, eps);
    }
    const p = pruner(flat, w0, budget, {
      steps: ctx.settings.steps,
      every: settingOf(dynamic, settings, 'every'),
      phase: settingOf(dynamic, settings, 'phase'),
      score,
    });
    const t = await tune(ctx, {
      phase: `${variant === 'delta' ? 'dynamic' : `dynamic:${variant}`} N=${budget}`,
      masks: p.masks,
      afterStep: (params, info) => p.afterStep(params, info.step),
    });
    if (p.done() < p.schedule.length && !t.stopped)
      throw new Error(`dynamic: only ${p.done()} of ${p.schedule.length} prunings ran in ${t.steps} steps; give more --steps or a smaller --every`);
    return { ...t, details: { prunings: p.schedule.length, every: p.every, schedule: p.schedule } };
  },
};
