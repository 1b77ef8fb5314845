import { float } from '../../onnx/attributes.js';
import type { GradRule } from '../grad-context.js';

// Y = α·A'B' + β·C, A' = transA ? Aᵀ : A, B' likewise.  dA' = α·dY B'ᵀ,  dB' = α·A'ᵀ dY,  dC = unbroadcast(β·dY, C)
export const Gemm: GradRule = (g) => {
  const a = g.I(0);
  const b = g.I(1);
  const dy = g.GO(0);
  const alpha = g.attrFloat('alpha', 1);
  const beta = g.attrFloat('beta', 1);
  const ta = g.attrInt('transA', 0) !== 0;
  const tb = g.attrInt('transB', 0) !== 0;
  const gemm = (p: string, q: string, transA: boolean, transB: boolean) =>
    g.op('Gemm', p, q, { alpha: alpha === 1 ? undefined : float(alpha), transA: transA ? 1 : 0, transB: transB ? 1 : 0 });
  // dA = α·dY B'ᵀ, or its transpose α·B' dYᵀ when A enters transposed.
  if (g.needs(0)) g.setGI(0, ta ? gemm(b, dy, tb, true) : gemm(dy, b, false, !tb));
  // dB = α·A'ᵀ dY, or its transpose α·dYᵀ A' when B enters transposed.
  if (g.needs(1)) g.setGI(1, tb ? gemm(dy, a, true, ta) : gemm(a, dy, !ta, false));
  if (g.I(2) && g.needs(2)) {
    const scaled = beta === 1 ? dy : g.op('Mul', dy, g.scalar(beta, dy));
    g.setGI(2, g.unbroadcast(scaled, g.I(2)));
  }
};
