// Tune a selection of N entries fixed before tuning, chosen by a criterion.
import { FlatParams } from '../../params/flat.js';
import { Rng } from '../../tensor/rng.js';
import { cleanFisher, fisherRatio } from '../../train/fisher.js';
import { deltasOf, masksOf } from '../masks.js';
import { settingOf, type MethodResult, type SurgeryMethod } from '../method.js';
import { patternGradient } from '../pattern-gradient.js';
import { snapshot, tune } from '../tune.js';
import { fisherSettings } from './shared-settings.js';

export const select: SurgeryMethod = {
  name: 'select',
  summary: 'fix N entries before tuning (random, grad, delta or fisher), then tune only those',
  help: 'fix N entries before tuning, then tune only those: select:random (seeded), select:grad (largest |∂L_pattern/∂w| at the original values, on {gradExamples} pattern inputs; the default), select:delta (largest |δ| after a short full fine-tune of {probe} of the steps) or select:fisher (largest |∂L_pattern/∂w| / √(F + ε), F the diagonal Fisher of the clean outputs on {fisherExamples} training inputs, ε = {fisherEpsilon} × mean F: entries that serve the pattern and that clean predictions barely feel). --by names the criterion too.',
  budgeted: true,
  variants: { names: ['random', 'grad', 'delta', 'fisher'], default: 'grad' },
  settings: [
    { key: 'gradExamples', flag: '--grad-examples <n>', help: 'pattern inputs the gradient is taken on', default: 512, integer: true, min: 1 },
    { key: 'probe', flag: '--probe <fraction>', help: 'share of the steps of the ranking fine-tune', default: 0.2, min: 0.01, max: 1 },
    ...fisherSettings,
  ],
  async run({ ctx, budget, settings, variant, pattern, clean }) {
    const flat = FlatParams.of(ctx.model, ctx.names);
    const by = variant ?? 'grad';
    let keep: Uint32Array;
    const details: MethodResult['details'] = { by };
    if (by === 'random') {
      keep = new Rng(ctx.settings.seed + 7).permutation(flat.k).slice(0, budget).sort();
    } else if (by === 'grad' || by === 'fisher') {
      const g = await patternGradient(ctx, pattern, settingOf(select, settings, 'gradExamples'));
      details.gradExamples = g.examples;
      let score = g.gradients;
      if (by === 'fisher') {
        const F = await cleanFisher(ctx.model, ctx.names, clean, {
          examples: settingOf(select, settings, 'fisherExamples'),
          seed: ctx.settings.seed,
          runtime: ctx.settings.runtime,
        });
        score = fisherRatio(g.gradients, F, settingOf(select, settings, 'fisherEpsilon'));
      }
      keep = flat.topN(score, budget);
    } else {
      const w0 = snapshot(ctx.model, ctx.names);
      const probeSteps = Math.max(1, Math.round(settingOf(select, settings, 'probe') * ctx.settings.steps));
      const probe = await tune(ctx, { phase: 'select: probe', maxSteps: probeSteps });
      const params = new Map(ctx.names.map((x) => [x, probe.model.graph.initializers.get(x)!.tensor!]));
      keep = flat.topN(deltasOf(flat, params, w0), budget);
      details.probeSteps = probeSteps;
    }
    const t = await tune(ctx, { phase: `select:${by} N=${budget}`, masks: masksOf(flat, keep) });
    return { ...t, details };
  },
};
