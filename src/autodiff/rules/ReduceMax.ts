import type { GradContext, GradRule } from '../grad-context.js';
import { keepDims, reduceAxes, sumKeep, toFloatLike } from './tensor-helpers.js';

/** dX of ReduceMax/ReduceMin: dY shared equally among the elements equal to the result (ties split the gradient). */
export function reduceExtremum(g: GradContext): void {
  const r = reduceAxes(g);
  const x = g.I(0);
  const hit = toFloatLike(g, g.op('Equal', x, keepDims(g, r, g.O(0))), x);
  const share = g.op('Div', hit, sumKeep(g, r, hit));
  g.setGI(0, g.op('Mul', keepDims(g, r, g.GO(0)), share));
}

// Y = max_axes X.  dX = dY · [X = Y] / #{X = Y} (ties share dY equally, as torch.amax and tf.reduce_max do)
export const ReduceMax: GradRule = reduceExtremum;
