import type { GradRule } from '../grad-context.js';

// Y = X.  dX = dY
export const Identity: GradRule = (g) => {
  g.setGI(0, g.GO(0));
};
