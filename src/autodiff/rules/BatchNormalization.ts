import type { GradRule } from '../grad-context.js';

// Inference: Y = s·(X-μ)·r + B, r = (σ²+ε)^-½ (per channel, axis 1).  dX = dY·s·r,  ds = Σ dY(X-μ)r,  dB = Σ dY,  dμ = -Σ dY·s·r,  dσ² = -½ Σ dY·s(X-μ)r³
// Training (opset ≥ 14, training_mode=1): μ, σ² are the batch statistics.  dX = r(dX̂ - mean(dX̂) - X̂·mean(dX̂·X̂)), dX̂ = dY·s;  the running statistics carry no gradient
export const BatchNormalization: GradRule = (g) => {
  const x = g.I(0);
  const scale = g.I(1);
  const dy = g.GO(0);
  const r = g.rank(x);
  if (r === undefined) throw new Error(`BatchNormalization node '${g.node.name}': the gradient needs the rank of '${x}', which is unknown`);
  const eps = g.scalar(g.attrFloat('epsilon', 1e-5), x);
  const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
  const perChannel = (v: string) => g.unsqueeze(v, axes);
  const training = g.opset >= 14 && g.attrInt('training_mode', 0) !== 0;
  const one = g.scalar(1, x);

  if (training) {
    const mean = g.reduceMean(x, axes, true);
    const xc = g.op('Sub', x, mean);
    const inv = g.op('Div', one, g.op('Sqrt', g.op('Add', g.reduceMean(g.op('Mul', xc, xc), axes, true), eps)));
    const xhat = g.op('Mul', xc, inv);
    if (g.needs(0)) {
      const dxhat = g.op('Mul', dy, perChannel(scale));
      const centred = g.op('Sub', dxhat, g.reduceMean(dxhat, axes, true));
      const proj = g.op('Mul', xhat, g.reduceMean(g.op('Mul', dxhat, xhat), axes, true));
      g.setGI(0, g.op('Mul', inv, g.op('Sub', centred, proj)));
    }
    if (g.needs(1)) g.setGI(1, g.reduceSum(g.op('Mul', dy, xhat), axes, false));
    if (g.needs(2)) g.setGI(2, g.reduceSum(dy, axes, false));
    return;
  }

  const mean = g.I(3);
  const inv = g.op('Div', one, g.op('Sqrt', g.op('Add', g.I(4), eps))); // [C]
  const gain = g.op('Mul', scale, inv); // s·r
  const xc = g.op('Sub', x, perChannel(mean));
  const sumDy = g.needs(2) || g.needs(3) ? g.reduceSum(dy, axes, false) : '';
  const sumDyXc = g.needs(1) || g.needs(4) ? g.reduceSum(g.op('Mul', dy, xc), axes, false) : '';
  if (g.needs(0)) g.setGI(0, g.op('Mul', dy, perChannel(gain)));
  if (g.needs(1)) g.setGI(1, g.op('Mul', sumDyXc, inv));
  if (g.needs(2)) g.setGI(2, sumDy);
  if (g.needs(3)) g.setGI(3, g.op('Neg', g.op('Mul', sumDy, gain)));
  if (g.needs(4)) {
    const inv3 = g.op('Mul', g.op('Mul', inv, inv), inv);
    g.setGI(4, g.op('Mul', sumDyXc, g.op('Mul', g.op('Mul', scale, inv3), g.scalar(-0.5, x))));
  }
};
