import type { GradRule } from '../grad-context.js';
import { onnxFromDtype } from '../../onnx/tensor-proto.js';

// Y = X M / (1 - ratio) when training_mode, else X.  dX = dY M / (1 - ratio) when training_mode, else dY
export const Dropout: GradRule = (g) => {
  const x = g.I(0);
  const ratio = g.I(1);
  const training = g.I(2);
  const dy = g.GO(0);
  const trainingValue = training ? g.env.constants.get(training) : undefined;
  if (!training || (trainingValue && !Number(trainingValue.data[0]))) {
    g.setGI(0, dy);
    return;
  }
  // NOTE: the mask output is needed even when the model leaves it out; add it to the forward node.
  let mask = g.O(1);
  if (!mask) {
    mask = g.b.fresh(`${g.O(0)}_mask`);
    g.node.outputs[1] = mask;
    g.env.set(mask, { dtype: 'bool', shape: g.shape(x) });
  }
  // A float initializer is a parameter that may be edited later: fold the ratio only from a Constant node.
  const fromConstant = g.b.graph.nodes.some((n) => n.opType === 'Constant' && n.outputs[0] === ratio);
  const ratioValue = ratio && fromConstant ? g.env.constants.get(ratio) : undefined;
  let scale: string;
  if (!ratio || ratioValue) {
    scale = g.scalar(1 / (1 - (ratioValue ? Number(ratioValue.data[0]) : 0.5)), x);
  } else {
    const r = g.type(ratio)?.dtype === g.type(x)?.dtype ? ratio : g.op('Cast', ratio, { to: onnxFromDtype(g.dtype(x)) });
    scale = g.op('Reciprocal', g.op('Sub', g.scalar(1, x), r));
  }
  // In inference mode onnxruntime's mask is all true, so only the scale depends on training_mode.
  if (!trainingValue) scale = g.op('Where', training, scale, g.scalar(1, x));
  g.setGI(0, g.op('Mul', dy, g.op('Mul', g.op('Cast', mask, { to: onnxFromDtype(g.dtype(x)) }), scale)));
};
