import type { GradRule } from '../grad-context.js';
import { OPEN_END, shapeOf, staticShape } from './tensor-helpers.js';

// Y = DepthToSpace(X, b): a fixed rearrangement, so dX is its inverse applied to dY.  DCR: dX = SpaceToDepth(dY, b).
// CRD (channels [C', b, b] rather than [b, b, C']): dX = SpaceToDepth(dY, b) with its channel blocks [b·b, C'] swapped to [C', b·b]
export const DepthToSpace: GradRule = (g) => {
  const b = g.attrInt('blocksize', 1);
  const s2d = g.op('SpaceToDepth', g.GO(0), { blocksize: b });
  if (g.attrString('mode', 'DCR') !== 'CRD') {
    g.setGI(0, s2d);
    return;
  }
  // [N, b·b·C', H, W] -> [N, b·b, C', H, W] -> [N, C', b·b, H, W] -> [N, C, H, W]
  const xs = staticShape(g, g.I(0));
  let split: string;
  if (xs) split = g.ints([xs[0], b * b, xs[1] / (b * b), xs[2], xs[3]]);
  else {
    const s = g.op('Shape', s2d);
    split = g.op('Concat', g.op('Slice', s, g.ints([0]), g.ints([1])), g.ints([b * b, -1]), g.op('Slice', s, g.ints([2]), g.ints([OPEN_END])), { axis: 0 });
  }
  const swapped = g.op('Transpose', g.op('Reshape', s2d, split), { perm: [0, 2, 1, 3, 4] });
  g.setGI(0, g.op('Reshape', swapped, shapeOf(g, g.I(0))));
};
