import type { GradRule } from '../grad-context.js';
import { expandToInput, keepDims, reduceAxes, reducedCount } from './tensor-helpers.js';

// Y = mean_axes X.  dX = broadcast(dY, X) / n, n the number of elements each output averages
export const ReduceMean: GradRule = (g) => {
  const r = reduceAxes(g);
  g.setGI(0, expandToInput(g, g.op('Div', keepDims(g, r, g.GO(0)), reducedCount(g, r))));
};
