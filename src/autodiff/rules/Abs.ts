import type { GradRule } from '../grad-context.js';

// Y = |X|.  dX = dY * sign(X)  (0 at X = 0)
export const Abs: GradRule = (g) => {
  g.setGI(0, g.op('Mul', g.GO(0), g.op('Sign', g.I(0))));
};
