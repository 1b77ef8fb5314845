import type { GradRule } from '../grad-context.js';
import { invertPerm } from './tensor-helpers.js';

// Y = transpose(X, perm).  dX = transpose(dY, perm⁻¹); the default perm (reversal) is its own inverse
export const Transpose: GradRule = (g) => {
  const perm = g.hasAttr('perm') ? g.attrInts('perm', []) : undefined;
  g.setGI(0, perm ? g.op('Transpose', g.GO(0), { perm: invertPerm(perm) }) : g.op('Transpose', g.GO(0)));
};
