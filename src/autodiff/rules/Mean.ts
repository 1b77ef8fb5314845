import type { GradRule } from '../grad-context.js';

// Y = (1/n) Σ Xi (broadcast).  dXi = unbroadcast(dY / n, Xi)
export const Mean: GradRule = (g) => {
  const n = g.node.inputs.length;
  const dy = n === 1 ? g.GO(0) : g.op('Mul', g.GO(0), g.scalar(1 / n, g.O(0)));
  g.node.inputs.forEach((x, i) => {
    if (g.needs(i)) g.setGI(i, g.unbroadcast(dy, x));
  });
};
