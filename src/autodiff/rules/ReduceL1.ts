import type { GradRule } from '../grad-context.js';
import { keepDims, reduceAxes } from './tensor-helpers.js';

// Y = Σ_axes |X|.  dX = dY · sign(X)
export const ReduceL1: GradRule = (g) => {
  const r = reduceAxes(g);
  g.setGI(0, g.op('Mul', keepDims(g, r, g.GO(0)), g.op('Sign', g.I(0))));
};
