import type { GradRule } from '../grad-context.js';
import { expandToInput, keepDims, reduceAxes } from './tensor-helpers.js';

// Y = log Σ_axes X.  dX = dY / exp(Y)  (= dY / Σ X)
export const ReduceLogSum: GradRule = (g) => {
  const r = reduceAxes(g);
  const dx = g.op('Div', keepDims(g, r, g.GO(0)), g.op('Exp', keepDims(g, r, g.O(0))));
  g.setGI(0, expandToInput(g, dx));
};
