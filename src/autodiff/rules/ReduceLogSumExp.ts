import type { GradRule } from '../grad-context.js';
import { keepDims, reduceAxes } from './tensor-helpers.js';

// Y = log Σ_axes exp X.  dX = dY · exp(X - Y)
export const ReduceLogSumExp: GradRule = (g) => {
  const r = reduceAxes(g);
  const soft = g.op('Exp', g.op('Sub', g.I(0), keepDims(g, r, g.O(0))));
  g.setGI(0, g.op('Mul', keepDims(g, r, g.GO(0)), soft));
};
