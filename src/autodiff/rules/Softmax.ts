import type { GradRule } from '../grad-context.js';

// Y = softmax(X, axis) (opset 13: one axis, default -1).  dX = Y (dY - Σ_axis dY Y)
export const Softmax: GradRule = (g) => {
  const y = g.O(0);
  const dy = g.GO(0);
  const s = g.reduceSum(g.op('Mul', dy, y), [g.attrInt('axis', -1)], true);
  g.setGI(0, g.op('Mul', y, g.op('Sub', dy, s)));
};
