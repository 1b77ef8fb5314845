import type { GradRule } from '../grad-context.js';

// Y = Trilu(X, k, upper): X masked to a triangle.  dX = Trilu(dY, k, upper)
export const Trilu: GradRule = (g) => {
  const args = g.I(1) ? [g.GO(0), g.I(1)] : [g.GO(0)];
  g.setGI(0, g.op('Trilu', ...args, { upper: g.attrInt('upper', 1) }));
};
