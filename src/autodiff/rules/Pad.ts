import type { GradRule } from '../grad-context.js';
import { constInts } from './tensor-helpers.js';

// Y = pad(X, pads, c) (constant mode).  dX = pad(dY, -pads) (negative pads crop),  dc = sum(dY) - sum(dX)
export const Pad: GradRule = (g) => {
  const mode = g.attrString('mode', 'constant');
  if (mode !== 'constant') {
    throw new Error(`Pad node '${g.node.name}': no gradient for mode '${mode}' (only 'constant' is supported)`);
  }
  const pads = constInts(g, g.I(1));
  const neg = pads ? g.ints(pads.map((p) => -p)) : g.op('Neg', g.I(1));
  const axes = g.opset >= 18 ? g.I(3) : '';
  const dx = axes ? g.op('Pad', g.GO(0), neg, '', axes) : g.op('Pad', g.GO(0), neg);
  if (g.needs(0)) g.setGI(0, dx);
  if (g.needs(2)) {
    const all = (t: string) => g.op('ReduceSum', t, { keepdims: 0 });
    const dc = g.op('Sub', all(g.GO(0)), all(dx));
    g.setGI(2, g.rank(g.I(2)) === 1 ? g.op('Reshape', dc, g.ints([1])) : dc);
  }
};
