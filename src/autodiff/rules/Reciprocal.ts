import type { GradRule } from '../grad-context.js';

// Y = 1 / X.  dX = -dY * Y²
export const Reciprocal: GradRule = (g) => {
  g.setGI(0, g.op('Neg', g.op('Mul', g.GO(0), g.op('Mul', g.O(0), g.O(0)))));
};
