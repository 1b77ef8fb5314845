import type { GradRule } from '../grad-context.js';

// Y = erf(X).  dX = dY * 2/√π * exp(-X²)
export const Erf: GradRule = (g) => {
  const x = g.I(0);
  const gauss = g.op('Exp', g.op('Neg', g.op('Mul', x, x)));
  g.setGI(0, g.op('Mul', g.GO(0), g.op('Mul', gauss, g.scalar(2 / Math.sqrt(Math.PI), x))));
};
