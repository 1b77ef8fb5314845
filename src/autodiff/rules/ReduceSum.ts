import type { GradRule } from '../grad-context.js';
import { expandToInput, keepDims, reduceAxes } from './tensor-helpers.js';

// Y = Σ_axes X.  dX = broadcast(dY, X)
export const ReduceSum: GradRule = (g) => {
  const r = reduceAxes(g);
  g.setGI(0, expandToInput(g, keepDims(g, r, g.GO(0))));
};
