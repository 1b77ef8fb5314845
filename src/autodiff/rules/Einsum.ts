import type { GradContext, GradRule } from '../grad-context.js';
import { shapeOf } from './tensor-helpers.js';

/** The terms of an einsum equation, with an implicit output made explicit (letters used once, in order). */
function parse(g: GradContext): { ins: string[]; out: string } {
  const fail = (why: string): never => {
    throw new Error(`Einsum node '${g.node.name}': no gradient for equation '${g.attrString('equation', '')}': ${why}`);
  };
  const eq = g.attrString('equation', '').replace(/\s/g, '');
  if (eq.includes('.')) fail('ellipsis (...) is not supported yet');
  const [lhs, rhs] = eq.split('->');
  const ins = lhs.split(',');
  if (ins.length !== g.node.inputs.length) fail(`${ins.length} terms for ${g.node.inputs.length} inputs`);
  for (const t of ins) {
    if (!/^[a-zA-Z]*$/.test(t)) fail(`unexpected characters in '${t}'`);
    if (new Set(t).size !== t.length) fail(`the term '${t}' repeats an index (diagonals are not supported yet)`);
  }
  if (rhs !== undefined) return { ins, out: rhs };
  const count = new Map<string, number>();
  for (const c of ins.join('')) count.set(c, (count.get(c) ?? 0) + 1);
  const once = [...count].filter(([, n]) => n === 1).map(([c]) => c);
  if (once.some((c) => c >= 'a') && once.some((c) => c < 'a')) fail('an implicit output mixing upper- and lower-case indices (write the output explicitly)');
  return { ins, out: once.sort().join('') };
}

// Y = einsum(eq, A_1…A_n).  dA_i = einsum(dY, A_j (j ≠ i) -> term_i), where the indices of A_i that appear nowhere
// else (summed out in the forward pass) are left out of that einsum and restored by Unsqueeze and Expand
export const Einsum: GradRule = (g) => {
  const { ins, out } = parse(g);
  ins.forEach((term, i) => {
    if (!g.needs(i)) return;
    const others = ins.filter((_, j) => j !== i);
    const seen = new Set(out + others.join(''));
    const kept = [...term].filter((c) => seen.has(c)).join('');
    const operands = [g.GO(0), ...g.node.inputs.filter((_, j) => j !== i)];
    const eq = `${[out, ...others].join(',')}->${kept}`;
    let da = others.length === 0 && kept === out ? g.GO(0) : g.op('Einsum', ...operands, { equation: eq });
    if (kept.length < term.length) {
      const dropped = [...term].map((c, k) => (seen.has(c) ? -1 : k)).filter((k) => k >= 0);
      da = g.op('Expand', g.unsqueeze(da, dropped), shapeOf(g, g.I(i)));
    }
    g.setGI(i, da);
  });
};
