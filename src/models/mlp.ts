// MLP: Flatten → 784→256 → ReLU → 256→128 → ReLU → 128→classes (widths scale with `width`, default 256).
import type { Model } from '../onnx/ir.js';
import { COMMON_DEFAULTS, type ModelSpec, Net, type ResolvedOptions } from './layers.js';

export const MLP_SPEC: ModelSpec = {
  name: 'mlp',
  description: 'Multi-layer perceptron: Flatten, fc1 (in→256), ReLU, fc2 (256→128), ReLU, fc3 (128→classes); Dropout after each ReLU when training with dropout > 0.',
  inputShape: [1, 28, 28],
  defaults: { ...COMMON_DEFAULTS, width: 256 },
};

/**
 * Build the MLP.
 *
 * @example const model = buildMlp({ ...MLP_SPEC.defaults, mode: 'train' });
 */
export function buildMlp(opts: ResolvedOptions): Model {
  const net = new Net(opts);
  const w = opts.width ?? 256;
  const fin = opts.inputShape.reduce((a, b) => a * b, 1);
  let x = net.flatten(net.imageInput());
  x = net.dropout(net.relu(net.linear('fc1', x, fin, w)));
  x = net.dropout(net.relu(net.linear('fc2', x, w, Math.max(1, w >> 1))));
  return net.finish(net.linear('fc3', x, Math.max(1, w >> 1), opts.classes, { hint: 'logits' }), 'mlp');
}
