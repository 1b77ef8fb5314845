import type { GradRule } from '../grad-context.js';
import { asInt64, constInts, dimsOf, scatterAddAxis, shapeOf, wrapIndices } from './tensor-helpers.js';

// Y = take(X, I, axis).  dX = scatter_add(zeros(X), I, dY; axis), repeated indices accumulating (ops: scatterAddAxis)
export const Gather: GradRule = (g) => {
  const x = g.I(0);
  const ind = g.I(1);
  const r = g.rank(x);
  const q = g.rank(ind);
  if (r === undefined || q === undefined) {
    throw new Error(`Gather node '${g.node.name}': gradient needs the ranks of '${x}' and '${ind}', which are unknown`);
  }
  const a = g.axis(g.attrInt('axis', 0), x);
  // One constant index (h[-1] of a recurrent net, a CLS token): dX is dY padded with zeros along the axis.
  const single = q === 0 ? constInts(g, ind) : undefined;
  const size = g.shape(x)?.[a];
  if (single && typeof size === 'number') {
    const i = single[0] < 0 ? single[0] + size : single[0];
    const pads = new Array<number>(2 * r).fill(0);
    pads[a] = i;
    pads[r + a] = size - 1 - i;
    g.setGI(0, g.op('Pad', g.unsqueeze(g.GO(0), [a]), g.ints(pads)));
    return;
  }
  const n = dimsOf(g, x, [a]);
  const idx = g.op('Reshape', asInt64(g, ind), g.ints([-1]));
  // dY is [X dims before a, I dims, X dims after a]: fold the I dims into one.
  let u = g.GO(0);
  if (q !== 1) {
    const ys = g.shape(u);
    const lead = ys?.slice(0, a);
    const tail = ys?.slice(a + q);
    const known = (ds: typeof ys) => ds !== undefined && ds.every((d) => typeof d === 'number');
    if (known(lead) && known(tail)) u = g.op('Reshape', u, g.ints([...(lead as number[]), -1, ...(tail as number[])]));
    else {
      const sy = g.op('Shape', u);
      const part = (s: number, e: number) => g.op('Slice', sy, g.ints([s]), g.ints([e]));
      u = g.op('Reshape', u, g.op('Concat', part(0, a), g.ints([-1]), part(a + q, r - 1 + q), { axis: 0 }));
    }
  }
  g.setGI(0, scatterAddAxis(g, shapeOf(g, x), r, a, wrapIndices(g, idx, n), u));
};
