import type { GradRule } from '../grad-context.js';

// Y = concat(X0, X1, …; axis).  [dX0, dX1, …] = split(dY, [size of each Xi along axis]; axis)
export const Concat: GradRule = (g) => {
  const n = g.node.inputs.length;
  if (!g.node.inputs.some((_, i) => g.needs(i))) return;
  const axis = g.attrInt('axis', 0);
  if (n === 1) {
    g.setGI(0, g.GO(0));
    return;
  }
  const sizes = g.node.inputs.map((x) => {
    const s = g.shape(x);
    const d = s?.[axis < 0 ? axis + s.length : axis];
    return typeof d === 'number' ? d : undefined;
  });
  const split = sizes.every((d) => d !== undefined)
    ? g.ints(sizes as number[])
    : g.op(
        'Concat',
        ...g.node.inputs.map((x, i) => (sizes[i] !== undefined ? g.ints([sizes[i]!]) : g.op('Gather', g.op('Shape', x), g.ints([axis]), { axis: 0 }))),
        { axis: 0 },
      );
  const parts = g.opN('Split', [g.GO(0), split], n, { axis });
  parts.forEach((p, i) => {
    if (g.needs(i)) g.setGI(i, p);
  });
};
