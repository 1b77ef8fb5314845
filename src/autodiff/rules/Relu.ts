import { onnxFromDtype } from '../../onnx/tensor-proto.js';
import type { GradRule } from '../grad-context.js';

// Y = max(X, 0).  dX = dY * (Y ≠ 0), Y ≠ 0 ⟺ X > 0
export const Relu: GradRule = (g) => {
  const dt = g.type(g.O(0))?.dtype ?? g.type(g.I(0))?.dtype;
  if (!dt) {
    const zero = g.scalar(0, g.I(0));
    g.setGI(0, g.op('Where', g.op('Greater', g.I(0), zero), g.GO(0), zero));
    return;
  }
  // NOTE: Cast(Cast(Y, bool), float) · dY measured 1.0 ms against 2.9 ms for Where(X > 0, dY, 0) and 2.0 ms for
  // Cast(X > 0) · dY at [128,16,28,28] (onnxruntime 1.30 CPU, one thread): Where and Greater against a broadcast scalar
  // are slow. The bool mask is not differentiable, so second order sees dX = dY · constant, as it should.
  const mask = g.op('Cast', g.op('Cast', g.O(0), { to: onnxFromDtype('bool') }), { to: onnxFromDtype(dt) });
  g.setGI(0, g.op('Mul', g.GO(0), mask));
};
