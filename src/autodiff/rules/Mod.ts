import type { GradRule } from '../grad-context.js';

// Y = fmod(A, B) = A - B·trunc(A/B) (floats need fmod=1).  dA = unbroadcast(dY, A),  dB = unbroadcast(-dY·trunc(A/B), B)
export const Mod: GradRule = (g) => {
  if (g.attrInt('fmod', 0) !== 1) {
    throw new Error(`Mod node '${g.node.name}': no gradient with fmod=0 (integer modulus; floating-point Mod takes fmod=1)`);
  }
  if (g.needs(0)) g.setGI(0, g.unbroadcast(g.GO(0), g.I(0)));
  if (g.needs(1)) {
    const q = g.op('Div', g.I(0), g.I(1));
    const trunc = g.op('Mul', g.op('Sign', q), g.op('Floor', g.op('Abs', q)));
    g.setGI(1, g.unbroadcast(g.op('Neg', g.op('Mul', g.GO(0), trunc)), g.I(1)));
  }
};
