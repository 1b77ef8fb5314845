import type { GradRule } from '../grad-context.js';
import { constInts, staticShape } from './tensor-helpers.js';

// Y = tile(X, reps).  dX = sum over the repeat axes of reshape(dY, [r0, d0, r1, d1, …])
export const Tile: GradRule = (g) => {
  const x = g.I(0);
  const r = g.rank(x);
  if (r === undefined) throw new Error(`Tile node '${g.node.name}': gradient needs the rank of '${x}', which is unknown`);
  if (r === 0) {
    g.setGI(0, g.GO(0));
    return;
  }
  const reps = constInts(g, g.I(1));
  const xs = staticShape(g, x);
  let pairs: string;
  if (reps && xs) pairs = g.ints(reps.flatMap((k, i) => [k, xs[i]]));
  else {
    const col = (v: string) => g.op('Unsqueeze', v, g.ints([1]));
    pairs = g.op('Reshape', g.op('Concat', col(g.I(1)), col(g.op('Shape', x)), { axis: 1 }), g.ints([-1]));
  }
  const axes = Array.from({ length: r }, (_, i) => 2 * i);
  g.setGI(0, g.reduceSum(g.op('Reshape', g.GO(0), pairs), axes, false));
};
