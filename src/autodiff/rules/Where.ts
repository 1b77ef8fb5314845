import type { GradRule } from '../grad-context.js';

// Z = C ? X : Y (broadcast).  dX = unbroadcast(C ? dZ : 0, X),  dY = unbroadcast(C ? 0 : dZ, Y);  C carries none
export const Where: GradRule = (g) => {
  const c = g.I(0);
  const dz = g.GO(0);
  const zero = g.scalar(0, g.O(0));
  if (g.needs(1)) g.setGI(1, g.unbroadcast(g.op('Where', c, dz, zero), g.I(1)));
  if (g.needs(2)) g.setGI(2, g.unbroadcast(g.op('Where', c, zero, dz), g.I(2)));
};
