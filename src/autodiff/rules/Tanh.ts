import type { GradRule } from '../grad-context.js';

// Y = tanh X.  dX = dY * (1 - Y²)
export const Tanh: GradRule = (g) => {
  const y = g.O(0);
  g.setGI(0, g.op('Mul', g.GO(0), g.op('Sub', g.scalar(1, y), g.op('Mul', y, y))));
};
