import type { GradRule } from '../grad-context.js';

// Y = cos X.  dX = -dY * sin X
export const Cos: GradRule = (g) => {
  g.setGI(0, g.op('Neg', g.op('Mul', g.GO(0), g.op('Sin', g.I(0)))));
};
