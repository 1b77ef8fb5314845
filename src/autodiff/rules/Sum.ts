import type { GradRule } from '../grad-context.js';

// Y = Σ Xi (broadcast).  dXi = unbroadcast(dY, Xi)
export const Sum: GradRule = (g) => {
  g.node.inputs.forEach((x, i) => {
    if (g.needs(i)) g.setGI(i, g.unbroadcast(g.GO(0), x));
  });
};
