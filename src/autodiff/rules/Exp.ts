import type { GradRule } from '../grad-context.js';

// Y = exp(X).  dX = dY * Y
export const Exp: GradRule = (g) => {
  g.setGI(0, g.op('Mul', g.GO(0), g.O(0)));
};
