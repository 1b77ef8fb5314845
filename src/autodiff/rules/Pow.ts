import type { GradRule } from '../grad-context.js';
import { onnxFromDtype } from '../../onnx/tensor-proto.js';

// Y = A ^ B (broadcast).  dA = unbroadcast(dY B A^(B-1), A),  dB = unbroadcast(dY Y ln A, B), taken as 0 where A <= 0
export const Pow: GradRule = (g) => {
  const a = g.I(0);
  const b = g.I(1);
  const dy = g.GO(0);
  const ta = g.type(a)?.dtype;
  const tb = g.type(b)?.dtype;
  if (g.needs(0)) {
    // Only Constant-node exponents are folded: an initializer's value may change after differentiation.
    const fromConstant = g.b.graph.nodes.some((n) => n.opType === 'Constant' && n.outputs[0] === b);
    const k = fromConstant ? g.env.constants.get(b) : undefined;
    let da: string;
    if (k && k.data.length === 1) {
      // A constant scalar exponent (x², √x written as Pow): no Pow(A, B-1) tensor arithmetic.
      const e = Number(k.data[0]);
      if (e === 1) da = dy;
      else if (e === 0) da = g.op('Mul', dy, g.scalar(0, a));
      else da = g.op('Mul', dy, g.op('Mul', g.scalar(e, a), e === 2 ? a : g.op('Pow', a, g.scalar(e - 1, a))));
    } else {
      const bf = ta && tb && ta !== tb ? g.op('Cast', b, { to: onnxFromDtype(ta) }) : b;
      da = g.op('Mul', dy, g.op('Mul', bf, g.op('Pow', a, g.op('Sub', bf, g.scalar(1, a)))));
    }
    g.setGI(0, g.unbroadcast(da, a));
  }
  if (g.needs(1)) {
    const positive = g.op('Greater', a, g.scalar(0, a));
    const logA = g.op('Log', g.op('Where', positive, a, g.scalar(1, a)));
    let db = g.unbroadcast(g.op('Mul', g.op('Mul', dy, g.O(0)), logA), b);
    if (ta && tb && ta !== tb) db = g.op('Cast', db, { to: onnxFromDtype(tb) });
    g.setGI(1, db);
  }
};
