import type { GradRule } from '../grad-context.js';

// Y = reshape(X, [∏ dims before axis, ∏ dims from axis]).  dX = reshape(dY, shape(X))
export const Flatten: GradRule = (g) => {
  g.setGI(0, g.op('Reshape', g.GO(0), g.op('Shape', g.I(0))));
};
