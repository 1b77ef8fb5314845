import type { GradRule } from '../grad-context.js';
import { shapeOf } from './tensor-helpers.js';

// Y = reshape(X, shape).  dX = reshape(dY, shape(X))
export const Reshape: GradRule = (g) => {
  g.setGI(0, g.op('Reshape', g.GO(0), shapeOf(g, g.I(0))));
};
