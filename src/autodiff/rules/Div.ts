import type { GradRule } from '../grad-context.js';

// Y = A / B (broadcast).  dA = unbroadcast(dY / B, A),  dB = -unbroadcast(dY * Y / B, B)
export const Div: GradRule = (g) => {
  if (g.needs(0)) g.setGI(0, g.unbroadcast(g.op('Div', g.GO(0), g.I(1)), g.I(0)));
  if (g.needs(1)) g.setGI(1, g.op('Neg', g.unbroadcast(g.op('Div', g.op('Mul', g.GO(0), g.O(0)), g.I(1)), g.I(1))));
};
