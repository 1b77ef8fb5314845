import type { GradRule } from '../grad-context.js';
import { flatPositions, shapeOf, staticShape, zerosOfShape } from './tensor-helpers.js';

// Y = Compress(X, c, axis): the slices (or, without axis, the flat elements) where c is true.  dX = zeros(X) with dY
// written back where the same Compress of X's flat positions points
export const Compress: GradRule = (g) => {
  const x = g.I(0);
  const attrs = g.hasAttr('axis') ? { axis: g.attrInt('axis', 0) } : {};
  const picked = g.op('Compress', flatPositions(g, x), g.I(1), attrs);
  const xs = staticShape(g, x);
  const numel = xs ? g.ints([xs.reduce((a, b) => a * b, 1)]) : g.op('Reshape', g.op('Size', x), g.ints([1]));
  const flat = zerosOfShape(g, numel, g.GO(0));
  const where = g.op('Reshape', picked, g.ints([-1, 1]));
  const scattered = g.op('ScatterND', flat, where, g.op('Reshape', g.GO(0), g.ints([-1])));
  g.setGI(0, g.op('Reshape', scattered, shapeOf(g, x)));
};
