import type { GradContext, GradRule } from '../grad-context.js';
import { convWeightGrad } from './Conv.js';
import { type ConvGeometry, effective, kernelSize, spatialAxes, spatialSize } from './window.js';

// Y = convTranspose(X, W) + B, the adjoint of conv(·, W).  dX = conv(dY, W),  dW[ci,co,k] = Σ_{n,i} X[n,ci,i] dYpad[n,co,i·s+k·d],  dB = Σ_{n,o} dY
export const ConvTranspose: GradRule = (g) => {
  const x = g.I(0);
  const w = g.I(1);
  const dy = g.GO(0);
  const inSize = spatialSize(g, x, 'input');
  const kernel = kernelSize(g, w);
  const p = transposeGeometry(g, inSize, kernel);
  const sp = spatialAxes(inSize.length);
  // Seen from the convolution it is the adjoint of, the output is the input and vice versa.
  const conv: ConvGeometry = { ...p, inSize: p.outSize, outSize: inSize };
  if (g.needs(0)) g.setGI(0, g.op('Conv', dy, w, { strides: p.strides, dilations: p.dilations, pads: [...p.padsBegin, ...p.padsEnd], group: p.group }));
  if (g.needs(1)) g.setGI(1, convWeightGrad(g, dy, x, conv));
  if (g.I(2) && g.needs(2)) g.setGI(2, g.reduceSum(dy, [0, ...sp], false));
};

/** Strides, dilations, pads (resolved from auto_pad or output_shape as onnxruntime does) and sizes of a ConvTranspose. */
function transposeGeometry(g: GradContext, inSize: number[], kernel: number[]): ConvGeometry {
  const n = inSize.length;
  const strides = g.attrInts('strides', new Array(n).fill(1));
  const dilations = g.attrInts('dilations', new Array(n).fill(1));
  const outputPadding = g.attrInts('output_padding', new Array(n).fill(0));
  const autoPad = g.attrString('auto_pad', 'NOTSET');
  const pads = g.attrInts('pads', new Array(2 * n).fill(0));
  let padsBegin = pads.slice(0, n);
  let padsEnd = pads.slice(n, 2 * n);
  const full = inSize.map((v, i) => strides[i] * (v - 1) + outputPadding[i] + effective(kernel[i], dilations[i]));
  let target: number[] | undefined;
  if (g.hasAttr('output_shape')) {
    const os = g.attrInts('output_shape', []);
    target = os.length === n + 2 ? os.slice(2) : os;
  } else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    target = inSize.map((v, i) => v * strides[i]);
  } else if (autoPad === 'VALID') {
    padsBegin = new Array(n).fill(0);
    padsEnd = new Array(n).fill(0);
  }
  if (target) {
    // Total padding is split as the spec says: SAME_UPPER puts the odd one at the end, anything else at the start.
    for (let i = 0; i < n; i++) {
      const total = full[i] - target[i];
      if (total < 0) {
        throw new Error(`ConvTranspose node '${g.node.name}': output_shape ${target[i]} exceeds the full transposed size ${full[i]}; not supported`);
      }
      const small = Math.floor(total / 2);
      padsBegin[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      padsEnd[i] = total - padsBegin[i];
    }
  }
  const outSize = full.map((f, i) => f - padsBegin[i] - padsEnd[i]);
  return { kernel, strides, dilations, padsBegin, padsEnd, inSize, outSize, group: g.attrInt('group', 1) };
}
