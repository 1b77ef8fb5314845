import type { GradRule } from '../grad-context.js';

// Y = X max(0, min(1, X/6 + 1/2)).  dX = 0 if X < -3, dY if X > 3, else dY (X/3 + 1/2)
export const HardSwish: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const mid = g.op('Mul', dy, g.op('Add', g.op('Mul', x, g.scalar(1 / 3, x)), g.scalar(0.5, x)));
  const upper = g.op('Where', g.op('Greater', x, g.scalar(3, x)), dy, mid);
  g.setGI(0, g.op('Where', g.op('Less', x, g.scalar(-3, x)), g.scalar(0, x), upper));
};
