import type { GradRule } from '../grad-context.js';
import { type ConvGeometry, copyAttrs, offsets, resolveWindow, spatialSize, tapPosition, transposeBack } from './window.js';

// Y[o] = Σ_{i ∈ window o} X[i] / D[o].  dX = convTranspose(dY / D, ones kernel): each input gets Σ of dY/D over the windows covering it
export const AveragePool: GradRule = (g) => {
  const x = g.I(0);
  const dt = g.dtype(x) === 'float64' ? 'float64' : 'float32';
  const inSize = spatialSize(g, x, 'input');
  const outSize = spatialSize(g, g.O(0), 'output');
  const kernel = g.attrInts('kernel_shape', []);
  const win = resolveWindow(g, inSize, kernel);
  const p: ConvGeometry = { ...win, inSize, outSize, group: 1 };
  // 1/D as onnxruntime divides (count_include_pad, ceil_mode): AveragePool(ones) = valid/D, with the valid
  // element count of each window known statically. Constant-folded by the runtime.
  const valid = offsets(outSize).map((o) =>
    o.reduce((acc, oi, i) => {
      let c = 0;
      for (let k = 0; k < kernel[i]; k++) {
        const at = tapPosition(win, i, oi, k);
        if (at >= 0 && at < inSize[i]) c++;
      }
      return acc * c;
    }, 1),
  );
  const Float = dt === 'float64' ? Float64Array : Float32Array;
  const ones = (dims: number[]) => g.op('ConstantOfShape', g.ints(dims), { value: { dtype: dt, dims: [1], data: Float.of(1) } });
  const pooledOnes = g.opN(
    'AveragePool',
    [ones([1, 1, ...inSize])],
    1,
    copyAttrs(g, ['auto_pad', 'ceil_mode', 'count_include_pad', 'dilations', 'kernel_shape', 'pads', 'strides']),
  )[0];
  const counts = g.op('Constant', { value: { dtype: dt, dims: [1, 1, ...outSize], data: Float.from(valid.map((v) => Math.max(v, 1))) } });
  const invD = g.op('Div', pooledOnes, counts);
  // Channels folded into the batch so that one single-channel ConvTranspose serves every channel.
  const scaled = g.op('Reshape', g.op('Mul', g.GO(0), invD), g.ints([-1, 1, ...outSize]));
  const dx = transposeBack(g, scaled, ones([1, 1, ...kernel]), p);
  g.setGI(0, g.op('Reshape', dx, g.op('Shape', x)));
};
