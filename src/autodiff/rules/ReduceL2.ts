import type { GradRule } from '../grad-context.js';
import { keepDims, reduceAxes } from './tensor-helpers.js';

// Y = sqrt(Σ_axes X²).  dX = dY · X / Y, taken as 0 where Y = 0 (as torch.linalg.norm does)
export const ReduceL2: GradRule = (g) => {
  const r = reduceAxes(g);
  const x = g.I(0);
  const y = keepDims(g, r, g.O(0));
  const zero = g.scalar(0, x);
  const safe = g.op('Where', g.op('Equal', y, zero), g.scalar(1, x), y);
  g.setGI(0, g.op('Mul', keepDims(g, r, g.GO(0)), g.op('Div', x, safe)));
};
