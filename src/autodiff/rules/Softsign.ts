import type { GradRule } from '../grad-context.js';

// Y = X / (1 + |X|).  dX = dY / (1 + |X|)²
export const Softsign: GradRule = (g) => {
  const x = g.I(0);
  const d = g.op('Add', g.op('Abs', x), g.scalar(1, x));
  g.setGI(0, g.op('Div', g.GO(0), g.op('Mul', d, d)));
};
