import type { GradRule } from '../grad-context.js';

// Y = A @ B (numpy matmul).  dA = unbroadcast(dY @ Bᵀ, A),  dB = unbroadcast(Aᵀ @ dY, B); 1-D operands are lifted to 2-D first.
export const MatMul: GradRule = (g) => {
  const ra = g.rank(g.I(0));
  const rb = g.rank(g.I(1));
  if (ra === undefined || rb === undefined) {
    throw new Error(`MatMul node '${g.node.name}': gradient needs the ranks of its inputs, which are unknown`);
  }
  // Lift 1-D operands so that both are at least 2-D; dY gets the matching unit axes.
  let a = g.I(0);
  let bb = g.I(1);
  let dy = g.GO(0);
  if (ra === 1) {
    a = g.unsqueeze(a, [0]);
    dy = g.unsqueeze(dy, [-2]);
  }
  if (rb === 1) {
    bb = g.unsqueeze(bb, [1]);
    dy = g.unsqueeze(dy, [-1]);
  }
  const rA = Math.max(ra, 2);
  const rB = Math.max(rb, 2);
  const swap = (r: number) => ({ perm: [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2] });
  if (g.needs(0)) {
    let da = g.op('MatMul', dy, g.op('Transpose', bb, swap(rB)));
    da = g.unbroadcast(da, a);
    if (ra === 1) da = g.squeeze(da, [0]);
    g.setGI(0, da);
  }
  if (g.needs(1)) {
    let db = g.op('MatMul', g.op('Transpose', a, swap(rA)), dy);
    db = g.unbroadcast(db, bb);
    if (rb === 1) db = g.squeeze(db, [1]);
    g.setGI(1, db);
  }
};
