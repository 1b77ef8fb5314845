import type { GradRule } from '../grad-context.js';

const FLOATS = new Set(['float32', 'float64', 'float16']);

// Y = cast(X, type of T).  dX = cast(dY, type of X); T carries none, nor does a non-floating X or T
export const CastLike: GradRule = (g) => {
  const from = g.type(g.I(0))?.dtype;
  const to = g.type(g.I(1))?.dtype;
  if ((from && !FLOATS.has(from)) || (to && !FLOATS.has(to))) return;
  g.setGI(0, from && from === to ? g.GO(0) : g.op('CastLike', g.GO(0), g.I(0)));
};
