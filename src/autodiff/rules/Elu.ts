import type { GradRule } from '../grad-context.js';

// Y = X if X > 0 else alpha (e^X - 1).  dX = dY if X > 0 else dY (Y + alpha)
export const Elu: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const alpha = g.scalar(g.attrFloat('alpha', 1), x);
  g.setGI(0, g.op('Where', g.op('Greater', x, g.scalar(0, x)), dy, g.op('Mul', dy, g.op('Add', g.O(0), alpha))));
};
