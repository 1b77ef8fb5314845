import type { GradRule } from '../grad-context.js';

// Y = A - B (broadcast).  dA = unbroadcast(dY, A),  dB = -unbroadcast(dY, B)
export const Sub: GradRule = (g) => {
  if (g.needs(0)) g.setGI(0, g.unbroadcast(g.GO(0), g.I(0)));
  if (g.needs(1)) g.setGI(1, g.op('Neg', g.unbroadcast(g.GO(0), g.I(1))));
};
