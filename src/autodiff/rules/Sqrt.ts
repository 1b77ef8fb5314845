import type { GradRule } from '../grad-context.js';

// Y = √X.  dX = dY * 0.5 / Y
export const Sqrt: GradRule = (g) => {
  g.setGI(0, g.op('Div', g.op('Mul', g.GO(0), g.scalar(0.5, g.I(0))), g.O(0)));
};
