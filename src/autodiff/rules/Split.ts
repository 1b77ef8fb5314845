import type { GradRule } from '../grad-context.js';

// [Y0, Y1, …] = split(X, axis).  dX = concat(dY0, dY1, …; axis), an absent dYi being zeros
export const Split: GradRule = (g) => {
  const parts = g.node.outputs.map((o, i) => {
    if (!o) throw new Error(`Split node '${g.node.name}': output ${i} is unnamed, so its gradient's shape is unknown`);
    return g.GO(i);
  });
  g.setGI(0, parts.length === 1 ? parts[0] : g.op('Concat', ...parts, { axis: g.attrInt('axis', 0) }));
};
