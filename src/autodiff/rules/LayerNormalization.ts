import type { GradRule } from '../grad-context.js';

// Y = X̂·S + B, X̂ = (X-μ)·r over axes [axis, rank), r = (σ²+ε)^-½.  dX = r(dX̂ - mean(dX̂) - X̂·mean(dX̂·X̂)) + dμ/M - dr·r²X̂/M,  dX̂ = dY·S,  dS = Σ dY·X̂,  dB = Σ dY
export const LayerNormalization: GradRule = (g) => {
  const x = g.I(0);
  const dy = g.GO(0);
  const r = g.rank(x);
  if (r === undefined) throw new Error(`LayerNormalization node '${g.node.name}': the gradient needs the rank of '${x}', which is unknown`);
  const a = g.axis(g.attrInt('axis', -1), x);
  const axes = Array.from({ length: r - a }, (_, i) => a + i);
  // Use the node's Mean and InvStdDev when it exposes them in X's own type; otherwise recompute them.
  const exposed = g.O(1) && g.O(2) && g.dtype(g.O(1)) === g.dtype(x) && g.dtype(g.O(2)) === g.dtype(x);
  let xc: string;
  let inv: string;
  if (exposed) {
    xc = g.op('Sub', x, g.O(1));
    inv = g.O(2);
  } else {
    xc = g.op('Sub', x, g.reduceMean(x, axes, true));
    const variance = g.reduceMean(g.op('Mul', xc, xc), axes, true);
    inv = g.op('Div', g.scalar(1, x), g.op('Sqrt', g.op('Add', variance, g.scalar(g.attrFloat('epsilon', 1e-5), x))));
  }
  const xhat = g.op('Mul', xc, inv);
  if (g.needs(0)) {
    const dxhat = g.op('Mul', dy, g.I(1));
    const centred = g.op('Sub', dxhat, g.reduceMean(dxhat, axes, true));
    const proj = g.op('Mul', xhat, g.reduceMean(g.op('Mul', dxhat, xhat), axes, true));
    let dx = g.op('Mul', inv, g.op('Sub', centred, proj));
    // Gradients reaching the Mean and InvStdDev outputs (from downstream uses, or a differentiated backward pass).
    if (g.hasGO(1) || g.hasGO(2)) {
      const sx = g.shape(x)!.slice(a);
      const count = sx.every((d) => typeof d === 'number')
        ? g.scalar(
            (sx as number[]).reduce((p, q) => p * q, 1),
            x,
          )
        : g.reduceSum(g.onesLike(x), axes, true);
      const like = (v: string) => (g.dtype(v) === g.dtype(x) ? v : g.op('CastLike', v, x));
      let stats = g.scalar(0, x);
      if (g.hasGO(1)) stats = g.op('Add', stats, like(g.GO(1)));
      if (g.hasGO(2)) stats = g.op('Sub', stats, g.op('Mul', like(g.GO(2)), g.op('Mul', g.op('Mul', inv, inv), xhat)));
      dx = g.op('Add', dx, g.op('Div', stats, count));
    }
    g.setGI(0, dx);
  }
  if (g.needs(1)) g.setGI(1, g.unbroadcast(g.op('Mul', dy, xhat), g.I(1)));
  if (g.I(2) && g.needs(2)) g.setGI(2, g.unbroadcast(dy, g.I(2)));
};
