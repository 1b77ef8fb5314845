import type { GradRule } from '../grad-context.js';

// Y = X if X >= 0 else S X (S broadcast to X).  dX = dY if X >= 0 else S dY;  dS = unbroadcast(dY X where X < 0, S)
export const PRelu: GradRule = (g) => {
  const x = g.I(0);
  const s = g.I(1);
  const dy = g.GO(0);
  const neg = g.op('Less', x, g.scalar(0, x));
  if (g.needs(0)) g.setGI(0, g.op('Where', neg, g.op('Mul', dy, s), dy));
  if (g.needs(1)) g.setGI(1, g.unbroadcast(g.op('Where', neg, g.op('Mul', dy, x), g.scalar(0, x)), s));
};
