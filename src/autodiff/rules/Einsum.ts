import type { GradContext, GradRule } from '../grad-context.js';
import { shapeOf } from './tensor-helpers.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * The terms of an einsum equation with the output made explicit (implicit: the ellipsis, then the letters used
 * once, in order) and every ellipsis replaced by unused letters, right-aligned as numpy broadcasts them.
 */
function parse(g: GradContext): { ins: string[]; out: string } {
  const equation = g.attrString('equation', '');
  const fail = (why: string): never => {
    throw new Error(`Einsum node '${g.node.name}': no gradient for equation '${equation}': ${why}`);
  };
  const eq = equation.replace(/\s/g, '');
  const [lhs, rhs] = eq.split('->');
  const ins = lhs.split(',');
  if (ins.length !== g.node.inputs.length) fail(`${ins.length} terms for ${g.node.inputs.length} inputs`);
  for (const t of [...ins, rhs ?? '']) {
    if (!/^[a-zA-Z]*(\.\.\.)?[a-zA-Z]*$/.test(t)) fail(`unexpected characters in '${t}'`);
    const letters = t.replace('...', '');
    if (new Set(letters).size !== letters.length) fail(`the term '${t}' repeats an index (diagonals are not supported yet)`);
  }
  let out = rhs;
  if (out === undefined) {
    const count = new Map<string, number>();
    for (const c of ins.join('').replace(/\./g, '')) count.set(c, (count.get(c) ?? 0) + 1);
    const once = [...count].filter(([, n]) => n === 1).map(([c]) => c);
    if (once.some((c) => c >= 'a') && once.some((c) => c < 'a')) fail('an implicit output mixing upper- and lower-case indices (write the output explicitly)');
    out = (lhs.includes('...') ? '...' : '') + once.sort().join('');
  }
  if (!eq.includes('...')) return { ins, out };

  const ellRank = ins.map((t, i) => {
    if (!t.includes('...')) return 0;
    const r = g.rank(g.I(i));
    if (r === undefined) fail(`an ellipsis needs the rank of '${g.I(i)}', which is unknown`);
    const n = r! - (t.length - 3);
    if (n < 0) fail(`the term '${t}' has more indices than '${g.I(i)}' has dims`);
    return n;
  });
  const L = Math.max(...ellRank);
  const fresh = [...LETTERS].filter((c) => !eq.includes(c)).slice(0, L);
  if (fresh.length < L) fail('no letters left for the ellipsis');
  return {
    ins: ins.map((t, i) => t.replace('...', fresh.slice(L - ellRank[i]).join(''))),
    out: out.replace('...', fresh.join('')),
  };
}

// Y = einsum(eq, A_1…A_n).  dA_i = einsum(dY, A_j (j ≠ i) -> term_i), where the indices of A_i that appear nowhere
// else (summed out in the forward pass) are left out of that einsum and restored by Unsqueeze and Expand; dims that
// A_i broadcast (size 1 against n) are summed back to 1. An ellipsis becomes unused letters.
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
    g.setGI(i, g.unbroadcast(da, g.I(i)));
  });
};
