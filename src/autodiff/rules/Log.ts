import type { GradRule } from '../grad-context.js';

// Y = ln X.  dX = dY / X
export const Log: GradRule = (g) => {
  g.setGI(0, g.op('Div', g.GO(0), g.I(0)));
};
