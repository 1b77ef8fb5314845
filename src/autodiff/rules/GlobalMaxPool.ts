import type { GradRule } from '../grad-context.js';
import { spatialAxes } from './window.js';

// Y[n,c] = max over the spatial dims of X[n,c].  dX = dY · [X = Y] / #ties (ties share the gradient evenly)
export const GlobalMaxPool: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const r = g.rank(x);
  if (r === undefined) throw new Error(`GlobalMaxPool node '${g.node.name}': the gradient needs the rank of '${x}', which is unknown`);
  const hit = g.op('Where', g.op('Equal', x, g.O(0)), g.scalar(1, dy), g.scalar(0, dy));
  const ties = g.reduceSum(hit, spatialAxes(r - 2), true);
  g.setGI(0, g.op('Mul', hit, g.op('Div', dy, ties)));
};
