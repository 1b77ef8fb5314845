import type { GradRule } from '../grad-context.js';

// Y = sin X.  dX = dY * cos X
export const Sin: GradRule = (g) => {
  g.setGI(0, g.op('Mul', g.GO(0), g.op('Cos', g.I(0))));
};
