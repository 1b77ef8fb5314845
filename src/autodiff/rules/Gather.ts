import type { GradContext, GradRule } from '../grad-context.js';
import { asInt64, constInts, dimsOf, scatterAddAxis, shapeOf, wrapIndices, zerosOfShape } from './tensor-helpers.js';

/** How the gradient of a Gather along axis 0 with an index tensor is formed (see `gatherRows`). */
export type GatherGradVariant = 'rows' | 'scatter';

// Y = take(X, I, axis).  dX = scatter_add(zeros(X), I, dY; axis), repeated indices accumulating
export const Gather: GradRule = (g) => gatherGrad(g, 'rows');

/**
 * Gather's gradient. 'rows' (the rule's choice) forms an embedding's gradient from its rows: for axis 0 and index
 * tensors, ScatterND(zeros, I[:, None], dY rows; add) from opset 16, or before 16 the segment sums of the sorted rows on
 * the compact side and one ScatterND of the distinct rows; any other case, and 'scatter', go through scatterAddAxis
 * (ScatterElements with indices expanded to dY's shape from 16; sorted segment sums over two dense [V, d] scatters before).
 * The result is the dense gradient either way; 'rows' does one dense pass over it where 'scatter' does several
 * (measured in BENCHMARKS.md, "Text models").
 */
export function gatherGrad(g: GradContext, variant: GatherGradVariant): void {
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
  const idx = wrapIndices(g, g.op('Reshape', asInt64(g, ind), g.ints([-1])), n);
  if (variant === 'rows' && a === 0 && q >= 1) {
    g.setGI(0, gatherRows(g, x, idx, q, r));
    return;
  }
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
  g.setGI(0, scatterAddAxis(g, shapeOf(g, x), r, a, idx, u));
}

// dX[v] = Σ_{i: I_i = v} dY_i for a Gather along axis 0: dY as rows [N, …], then one ScatterND into zeros(X).
function gatherRows(g: GradContext, x: string, idx: string, q: number, r: number): string {
  const tail = g.op('Slice', g.op('Shape', g.GO(0)), g.ints([q]), g.ints([q + r - 1]));
  const u = g.op('Reshape', g.GO(0), g.op('Concat', g.ints([-1]), tail, { axis: 0 }));
  const zeros = zerosOfShape(g, shapeOf(g, x), u);
  if (g.opset >= 16) return g.op('ScatterND', zeros, g.op('Unsqueeze', idx, g.ints([1])), u, { reduction: 'add' });
  // Before opset 16 ScatterND cannot add: sort the rows by index, take the running sum, and at the last row of each
  // index keep the running sum minus the one at the previous index's last row (distinct indices, a plain ScatterND).
  const [sorted, order] = g.opN('TopK', [idx, g.op('Shape', idx)], 2, { axis: 0, largest: 0, sorted: 1 });
  const incl = g.op('CumSum', g.op('Gather', u, order, { axis: 0 }), g.ints([0]));
  const next = g.op('Concat', g.op('Slice', sorted, g.ints([1]), g.ints([Number.MAX_SAFE_INTEGER])), g.ints([-1]), { axis: 0 });
  const last = g.op('Not', g.op('Equal', sorted, next));
  const atLast = g.op('Compress', incl, last, { axis: 0 });
  const firstZero = g.op('Slice', g.op('Sub', atLast, atLast), g.ints([0]), g.ints([1]));
  const before = g.op('Concat', firstZero, g.op('Slice', atLast, g.ints([0]), g.ints([-1])), { axis: 0 });
  const distinct = g.op('Unsqueeze', g.op('Compress', sorted, last, { axis: 0 }), g.ints([1]));
  return g.op('ScatterND', zeros, distinct, g.op('Sub', atLast, before));
}
