import type { GradRule } from '../grad-context.js';

// Y = gamma X if X > 0 else gamma alpha (e^X - 1).  dX = gamma dY if X > 0 else dY (Y + gamma alpha)
export const Selu: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const alpha = g.attrFloat('alpha', 1.67326319217681884765625);
  const gamma = g.attrFloat('gamma', 1.05070102214813232421875);
  const pos = g.op('Mul', dy, g.scalar(gamma, x));
  const neg = g.op('Mul', dy, g.op('Add', g.O(0), g.scalar(gamma * alpha, x)));
  g.setGI(0, g.op('Where', g.op('Greater', x, g.scalar(0, x)), pos, neg));
};
