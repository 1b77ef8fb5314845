import type { GradRule } from '../grad-context.js';
import { keepDims, reduceAxes } from './tensor-helpers.js';

// Y = Σ_axes X².  dX = 2 X dY
export const ReduceSumSquare: GradRule = (g) => {
  const r = reduceAxes(g);
  g.setGI(0, g.op('Mul', g.op('Mul', keepDims(g, r, g.GO(0)), g.I(0)), g.scalar(2, g.I(0))));
};
