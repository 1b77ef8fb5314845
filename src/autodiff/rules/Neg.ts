import type { GradRule } from '../grad-context.js';

// Y = -X.  dX = -dY
export const Neg: GradRule = (g) => {
  g.setGI(0, g.op('Neg', g.GO(0)));
};
