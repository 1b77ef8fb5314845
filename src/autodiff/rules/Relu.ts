import type { GradRule } from '../grad-context.js';

// Y = max(X, 0).  dX = dY * (X > 0)
export const Relu: GradRule = (g) => {
  const zero = g.scalar(0, g.I(0));
  g.setGI(0, g.op('Where', g.op('Greater', g.I(0), zero), g.GO(0), zero));
};
