import type { GradRule } from '../grad-context.js';
import { shapeOf, zerosOfShape } from './tensor-helpers.js';

// (V, I) = TopK(X, k, axis).  dX = zeros(X) with dV written at I along axis (I holds distinct positions); I carries no gradient
export const TopK: GradRule = (g) => {
  const axis = g.attrInt('axis', -1);
  const zeros = zerosOfShape(g, shapeOf(g, g.I(0)), g.GO(0));
  const attrs = { axis, largest: g.attrInt('largest', 1), sorted: g.attrInt('sorted', 1) };
  const idx = g.O(1) || g.opN('TopK', [g.I(0), g.I(1)], 2, attrs)[1];
  g.setGI(0, g.op('ScatterElements', zeros, idx, g.GO(0), { axis }));
};
