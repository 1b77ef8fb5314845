// The gradient of the pattern loss at the starting point, on a seeded subset of the pattern's training inputs: what
// `select --by grad` ranks by, and the numerator of the side-effect-aware ratio.
import { computeGradients } from '../analysis/gradients.js';
import { takeRows, type Dataset } from '../data/batches.js';
import { Rng } from '../tensor/rng.js';
import { dataInput } from '../tasks/classifier.js';
import type { TuneContext } from './tune.js';

/**
 * ∂L_pattern/∂w at w0 for each of `ctx.names`, on at most `examples` pattern inputs (seeded choice).
 *
 * @example const g = await patternGradient(ctx, d.patternTrain, 512);
 */
export async function patternGradient(ctx: TuneContext, pattern: Dataset, examples: number): Promise<{ gradients: Float32Array[]; examples: number }> {
  const n = Math.min(pattern.x.dims[0], examples);
  const rows = new Rng(ctx.settings.seed + 11).permutation(pattern.x.dims[0]).slice(0, n);
  const feeds = new Map([
    [dataInput(ctx.model), takeRows(pattern.x, rows)],
    ['y', takeRows(pattern.y, rows)],
  ]);
  const { gradients } = await computeGradients(ctx.model, feeds, { params: ctx.names, runtime: ctx.settings.runtime });
  return { gradients: ctx.names.map((x) => gradients.get(x)!.data as Float32Array), examples: n };
}
