import type { GradRule } from '../grad-context.js';

// Y = SpaceToDepth(X, b), the inverse of DepthToSpace in DCR mode.  dX = DepthToSpace(dY, b, 'DCR')
export const SpaceToDepth: GradRule = (g) => {
  g.setGI(0, g.op('DepthToSpace', g.GO(0), { blocksize: g.attrInt('blocksize', 1), mode: 'DCR' }));
};
