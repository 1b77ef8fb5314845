import type { GradRule } from '../grad-context.js';

// Y = ln(1 + e^X).  dX = dY * sigmoid(X)
export const Softplus: GradRule = (g) => {
  g.setGI(0, g.op('Mul', g.GO(0), g.op('Sigmoid', g.I(0))));
};
