import type { GradRule } from '../grad-context.js';
import { spatialAxes } from './window.js';

// Y[n,c] = mean over the spatial dims of X[n,c].  dX = expand(dY / (number of spatial elements), shape(X))
export const GlobalAveragePool: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const s = g.shape(x);
  if (!s) throw new Error(`GlobalAveragePool node '${g.node.name}': the gradient needs the rank of '${x}', which is unknown`);
  const sp = s.slice(2);
  const count = sp.every((d) => typeof d === 'number')
    ? g.scalar(
        (sp as number[]).reduce((a, b) => a * b, 1),
        dy,
      )
    : g.reduceSum(g.onesLike(x), spatialAxes(sp.length), true);
  g.setGI(0, g.op('Expand', g.op('Div', dy, count), g.op('Shape', x)));
};
