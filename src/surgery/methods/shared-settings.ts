// What more than one method shares: settings declared once (each method may give its own default), and the pruner.
import { FlatParams } from '../../params/flat.js';
import { cleanFisher, fisherRatio } from '../../train/fisher.js';
import { settingOf, type MethodInputs, type SettingSpec, type SurgeryMethod } from '../method.js';
import { byDelta, pruner, type Pruner } from '../pruning.js';
import { snapshot } from '../tune.js';

export const fisherSettings: SettingSpec[] = [
  { key: 'fisherExamples', flag: '--fisher-examples <n>', help: 'clean inputs the diagonal Fisher F is estimated on', default: 512, integer: true, min: 1 },
  { key: 'fisherEpsilon', flag: '--fisher-epsilon <ε>', help: 'ε of √(F + ε), as a multiple of the mean of F', default: 0.01, min: 0 },
];

/**
 * The dynamic pruner both `dynamic` and `constrained` tune under: n′ shrinks to the budget every `--every` steps over
 * `--phase` of the steps, keeping the largest |δ|, or with the `fisher` variant the largest |δ| / √(F + ε).
 *
 * @example const p = await dynamicPruner(dynamic, inputs);
 */
export async function dynamicPruner(method: SurgeryMethod, { ctx, budget, settings, variant, clean }: MethodInputs): Promise<Pruner> {
  const flat = FlatParams.of(ctx.model, ctx.names);
  const w0 = snapshot(ctx.model, ctx.names);
  let score = byDelta;
  if (variant === 'fisher') {
    const F = await cleanFisher(ctx.model, ctx.names, clean, {
      examples: settingOf(method, settings, 'fisherExamples'),
      seed: ctx.settings.seed,
      runtime: ctx.settings.runtime,
    });
    const eps = settingOf(method, settings, 'fisherEpsilon');
    score = (d) => fisherRatio(d, F, eps);
  }
  return pruner(flat, w0, budget, {
    steps: ctx.settings.steps,
    every: settingOf(method, settings, 'every'),
    phase: settingOf(method, settings, 'phase'),
    score,
  });
}
