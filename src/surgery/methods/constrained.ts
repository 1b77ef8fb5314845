// Side-effect-aware surgery: dynamic pruning (scored by |δ| / √(F + ε)) under a constraint on the clean outputs,
// KL(old ‖ new) ≤ κ on an augmented clean stream, held by a Lagrange multiplier instead of a fixed weight.
import { FlatParams } from '../../params/flat.js';
import { constrainedTune } from '../constrained-tune.js';
import { cleanFisher, fisherRatio } from '../../train/fisher.js';
import { settingOf, type SurgeryMethod } from '../method.js';
import { byDelta, pruner } from '../pruning.js';
import { snapshot } from '../tune.js';
import { fisherSettings } from './shared-settings.js';

export const constrained: SurgeryMethod = {
  name: 'constrained',
  summary: 'dynamic pruning by |δ|/√(F+ε) while a multiplier keeps the clean KL(old‖new) under a bound',
  help:
    'dynamic pruning as above ({every}, {phase}), but each step minimises L_pattern + μ·KL(old ‖ new) with μ a Lagrange multiplier, not a fixed weight: μ starts at {multiplier} and after each step moves by 0.05 × (KL/κ − 1) (KL a running mean over about 10 steps, κ = {klBound} nats), so the clean outputs are held to the bound rather than traded against the pattern. ' +
    "Each batch holds the pattern inputs (a share 1/(1 + --clean-weight)) and clean training inputs shifted by up to {shift} pixels with Gaussian noise of {noise} × the data's std, fitted to the original model's outputs on the same augmented inputs (so the constraint covers the neighbourhood of the data); --clean-labels does not apply. constrained:delta (the default) prunes by |δ|, constrained:fisher by |δ| / √(F + ε) ({fisherExamples}, {fisherEpsilon}).",
  budgeted: true,
  variants: { names: ['delta', 'fisher'], default: 'delta' },
  settings: [
    { key: 'every', flag: '--every <n>', help: 'steps between prunings', default: 10, integer: true, min: 1 },
    { key: 'phase', flag: '--phase <fraction>', help: 'share of the steps over which n′ shrinks', default: 0.5, min: 0.01, max: 1 },
    { key: 'klBound', flag: '--kl-bound <nats>', help: 'the bound κ on the clean KL(old ‖ new)', default: 0.05, min: 0 },
    { key: 'multiplier', flag: '--multiplier <μ>', help: 'the multiplier at the start', default: 1, min: 0 },
    { key: 'shift', flag: '--shift <pixels>', help: 'largest shift of the clean inputs', default: 2, integer: true, min: 0 },
    { key: 'noise', flag: '--noise <share>', help: "noise on the clean inputs, as a share of the data's std", default: 0.1, min: 0 },
    ...fisherSettings,
  ],
  async run({ ctx, budget, settings, variant, pattern, clean, cleanWeight }) {
    const flat = FlatParams.of(ctx.model, ctx.names);
    const w0 = snapshot(ctx.model, ctx.names);
    let score = byDelta;
    if (variant === 'fisher') {
      const F = await cleanFisher(ctx.model, ctx.names, clean, {
        examples: settingOf(constrained, settings, 'fisherExamples'),
        seed: ctx.settings.seed,
        runtime: ctx.settings.runtime,
      });
      const eps = settingOf(constrained, settings, 'fisherEpsilon');
      score = (d) => fisherRatio(d, F, eps);
    }
    const p = pruner(flat, w0, budget, {
      steps: ctx.settings.steps,
      every: settingOf(constrained, settings, 'every'),
      phase: settingOf(constrained, settings, 'phase'),
      score,
    });
    const patternBatch = Math.max(1, Math.min(ctx.settings.batchSize - 1, Math.round(ctx.settings.batchSize / (1 + cleanWeight))));
    const t = await constrainedTune(ctx, {
      pattern,
      clean,
      patternBatch,
      masks: p.masks,
      afterStep: (params, step) => p.afterStep(params, step),
      phase: `constrained:${variant} N=${budget}`,
      bound: settingOf(constrained, settings, 'klBound'),
      multiplier: settingOf(constrained, settings, 'multiplier'),
      shift: settingOf(constrained, settings, 'shift'),
      noise: settingOf(constrained, settings, 'noise'),
    });
    if (p.done() < p.schedule.length && !t.stopped)
      throw new Error(`constrained: only ${p.done()} of ${p.schedule.length} prunings ran in ${t.steps} steps; give more --steps or a smaller --every`);
    return {
      model: t.model,
      steps: t.steps,
      finalLoss: t.finalLoss,
      stopped: t.stopped,
      details: { prunings: p.schedule.length, schedule: p.schedule, patternBatch, multiplier: t.multiplier, cleanKl: t.kl },
    };
  },
};
