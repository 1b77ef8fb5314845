import type { GradRule } from '../grad-context.js';

// Y = X Φ(X).  dX = dY (Φ(X) + X φ(X));  approximate='tanh': Y = X/2 (1 + tanh u), u = √(2/π)(X + 0.044715 X³),
// dX = dY (½(1 + tanh u) + ½ X (1 - tanh² u) √(2/π)(1 + 3·0.044715 X²))
export const Gelu: GradRule = (g) => {
  const x = g.I(0);
  const c = (v: number) => g.scalar(v, x);
  const mul = (a: string, b: string) => g.op('Mul', a, b);
  const x2 = mul(x, x);
  let slope: string;
  const approximate = g.attrString('approximate', 'none');
  if (approximate === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const t = g.op('Tanh', mul(c(k), g.op('Add', x, mul(c(0.044715), mul(x2, x)))));
    const half = mul(c(0.5), g.op('Add', c(1), t));
    const du = mul(c(k), g.op('Add', c(1), mul(c(3 * 0.044715), x2)));
    slope = g.op('Add', half, mul(mul(c(0.5), x), mul(g.op('Sub', c(1), mul(t, t)), du)));
  } else if (approximate === 'none') {
    const cdf = mul(c(0.5), g.op('Add', c(1), g.op('Erf', mul(x, c(Math.SQRT1_2)))));
    const pdf = mul(c(1 / Math.sqrt(2 * Math.PI)), g.op('Exp', mul(x2, c(-0.5))));
    slope = g.op('Add', cdf, mul(x, pdf));
  } else {
    throw new Error(`Gelu node '${g.node.name}': unknown approximate='${approximate}'`);
  }
  g.setGI(0, mul(g.GO(0), slope));
};
