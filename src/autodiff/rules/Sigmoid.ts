import type { GradRule } from '../grad-context.js';

// Y = 1 / (1 + e^-X).  dX = dY * Y * (1 - Y)
export const Sigmoid: GradRule = (g) => {
  const y = g.O(0);
  g.setGI(0, g.op('Mul', g.GO(0), g.op('Mul', y, g.op('Sub', g.scalar(1, y), y))));
};
