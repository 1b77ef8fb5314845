import type { GradRule } from '../grad-context.js';

// Y = X if X >= 0 else alpha X.  dX = dY if X >= 0 else alpha dY
export const LeakyRelu: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const alpha = g.scalar(g.attrFloat('alpha', 0.01), x);
  g.setGI(0, g.op('Where', g.op('Less', x, g.scalar(0, x)), g.op('Mul', dy, alpha), dy));
};
