import type { GradRule } from '../grad-context.js';

// Y = cumsum(X, axis, exclusive, reverse).  dX = cumsum(dY, axis, exclusive, !reverse)
export const CumSum: GradRule = (g) => {
  const exclusive = g.attrInt('exclusive', 0);
  const reverse = g.attrInt('reverse', 0) ? 0 : 1;
  g.setGI(0, g.op('CumSum', g.GO(0), g.I(1), { exclusive, reverse }));
};
