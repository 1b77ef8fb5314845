import type { GradRule } from '../grad-context.js';

// Y = X - logΣexp(X, axis) (opset 13: one axis, default -1).  dX = dY - exp(Y) Σ_axis dY
export const LogSoftmax: GradRule = (g) => {
  const dy = g.GO(0);
  const s = g.reduceSum(dy, [g.attrInt('axis', -1)], true);
  g.setGI(0, g.op('Sub', dy, g.op('Mul', g.op('Exp', g.O(0)), s)));
};
