import type { GradRule } from '../grad-context.js';

// Y = ReverseSequence(X, lens): each batch entry's first lens[b] steps reversed, a permutation that is its own inverse.  dX = ReverseSequence(dY, lens)
export const ReverseSequence: GradRule = (g) => {
  const attrs = { batch_axis: g.attrInt('batch_axis', 1), time_axis: g.attrInt('time_axis', 0) };
  g.setGI(0, g.op('ReverseSequence', g.GO(0), g.I(1), attrs));
};
