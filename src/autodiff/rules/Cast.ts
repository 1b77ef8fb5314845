import type { GradRule } from '../grad-context.js';
import { dtypeFromOnnx, onnxFromDtype } from '../../onnx/tensor-proto.js';

const FLOATS = new Set(['float32', 'float64', 'float16']);

// Y = cast(X, to).  dX = cast(dY, type of X); none unless both X and Y are floating
export const Cast: GradRule = (g) => {
  const to = dtypeFromOnnx(g.attrInt('to', 0));
  if (!to || !FLOATS.has(to)) return;
  const from = g.type(g.I(0))?.dtype;
  if (from && !FLOATS.has(from)) return;
  if (from === to) g.setGI(0, g.GO(0));
  else if (from) g.setGI(0, g.op('Cast', g.GO(0), { to: onnxFromDtype(from) }));
  else if (g.opset >= 15) g.setGI(0, g.op('CastLike', g.GO(0), g.I(0)));
  else throw new Error(`Cast node '${g.node.name}': gradient needs the element type of '${g.I(0)}', which is unknown`);
};
