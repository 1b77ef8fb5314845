import type { GradRule } from '../grad-context.js';
import { flatPositions, scatterAddAxis, shapeOf, staticShape } from './tensor-helpers.js';

// Y = gather_nd(X, I).  dX = scatter_add(zeros(X), gather_nd(flat positions of X, I), dY) on the flattened X
export const GatherND: GradRule = (g) => {
  const x = g.I(0);
  const bd = g.attrInt('batch_dims', 0);
  const pos = g.op('Reshape', g.op('GatherND', flatPositions(g, x), g.I(1), { batch_dims: bd }), g.ints([-1]));
  const xs = staticShape(g, x);
  const numel = xs ? g.ints([xs.reduce((p, d) => p * d, 1)]) : g.op('Reshape', g.op('Size', x), g.ints([1]));
  const flat = scatterAddAxis(g, numel, 1, 0, pos, g.op('Reshape', g.GO(0), g.ints([-1])));
  g.setGI(0, g.op('Reshape', flat, shapeOf(g, x)));
};
