import type { GradRule } from '../grad-context.js';

// Y = expand(X, shape) (broadcast).  dX = unbroadcast(dY, X)
export const Expand: GradRule = (g) => {
  g.setGI(0, g.unbroadcast(g.GO(0), g.I(0)));
};
