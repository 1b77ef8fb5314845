import type { GradRule } from '../grad-context.js';
import { flatPositions, scatterAddAxis, shapeOf, staticShape } from './tensor-helpers.js';

// Y = gather_elements(X, I, axis).  dX = zeros(X) with dY added at the gathered positions (repeats accumulate)
export const GatherElements: GradRule = (g) => {
  const x = g.I(0);
  const axis = g.attrInt('axis', 0);
  if (g.opset >= 16) {
    const zeros = g.op('Expand', g.scalar(0, g.GO(0)), shapeOf(g, x));
    g.setGI(0, g.op('ScatterElements', zeros, g.I(1), g.GO(0), { axis, reduction: 'add' }));
    return;
  }
  // Before opset 16: gather X's flat positions with the same indices, then scatter-add on the flat tensor.
  const pos = g.op('Reshape', g.op('GatherElements', flatPositions(g, x), g.I(1), { axis }), g.ints([-1]));
  const xs = staticShape(g, x);
  const numel = xs ? g.ints([xs.reduce((p, d) => p * d, 1)]) : g.op('Reshape', g.op('Size', x), g.ints([1]));
  const flat = scatterAddAxis(g, numel, 1, 0, pos, g.op('Reshape', g.GO(0), g.ints([-1])));
  g.setGI(0, g.op('Reshape', flat, shapeOf(g, x)));
};
