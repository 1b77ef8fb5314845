import type { GradRule } from '../grad-context.js';
import { invertPerm, reduceAxes, shapeOf, staticShape } from './tensor-helpers.js';

// Y = Π_axes X.  dX_k = dY · Π_{j ≠ k} X_j over k's reduction group, exact where X has zeros (not dY·Y/X): the K reduced
// elements of each group are laid out as a K×K matrix holding X with its diagonal set to 1, and reduced by rows.
// NOTE: that matrix costs K times X's memory (K = the number of elements each output multiplies).
export const ReduceProd: GradRule = (g) => {
  const x = g.I(0);
  const r = reduceAxes(g);
  if (r.kind === 'dynamic') throw new Error(`ReduceProd node '${g.node.name}': gradient needs constant axes, and '${r.input}' is computed at run time`);
  if (r.kind === 'static' && r.axes.length === 0) {
    g.setGI(0, g.GO(0)); // noop_with_empty_axes: the identity
    return;
  }
  const rank = g.rank(x);
  if (rank === undefined) throw new Error(`ReduceProd node '${g.node.name}': gradient needs the rank of '${x}', which is unknown`);
  const red = r.kind === 'all' ? Array.from({ length: rank }, (_, i) => i) : r.axes;
  const kept = Array.from({ length: rank }, (_, i) => i).filter((i) => !red.includes(i));
  const perm = [...kept, ...red];
  const moved = perm.every((p, i) => p === i) ? x : g.op('Transpose', x, { perm });
  const groups = g.ints([...kept.map(() => 0), -1]);
  const xk = g.op('Reshape', moved, groups); // [kept…, K]
  const dy = r.keep
    ? g.op('Reshape', perm.every((p, i) => p === i) ? g.GO(0) : g.op('Transpose', g.GO(0), { perm }), groups)
    : g.unsqueeze(g.GO(0), [kept.length]); // [kept…, 1]

  const xsh = staticShape(g, x);
  let eye: string;
  if (xsh) {
    const k = red.reduce((p, a) => p * xsh[a], 1);
    const data = new Uint8Array(k * k);
    for (let i = 0; i < k; i++) data[i * k + i] = 1;
    eye = g.op('Constant', { value: { dtype: 'bool', dims: [k, k], data } });
  } else {
    const k = g.op('Slice', g.op('Shape', xk), g.ints([-1]), g.ints([kept.length + 1]));
    const square = g.op('ConstantOfShape', g.op('Concat', k, k, { axis: 0 }));
    eye = g.op('Cast', g.op('EyeLike', square), { to: 9 });
  }
  const rows = g.op('Where', eye, g.scalar(1, x), g.unsqueeze(xk, [kept.length])); // [kept…, K, K]
  const others = g.opset >= 18 ? g.op('ReduceProd', rows, g.ints([-1]), { keepdims: 0 }) : g.op('ReduceProd', rows, { axes: [-1], keepdims: 0 });
  const dxk = g.op('Mul', others, dy);
  const back = g.op('Reshape', dxk, shapeOf(g, moved));
  g.setGI(0, moved === x ? back : g.op('Transpose', back, { perm: invertPerm(perm) }));
};
