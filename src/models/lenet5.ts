// LeNet-5 (LeCun et al. 1998, ReLU and max-pooling variant) for 28×28 inputs.
import type { Model } from '../onnx/ir.js';
import { COMMON_DEFAULTS, type ModelSpec, Net, outSize, type ResolvedOptions } from './layers.js';

export const LENET5_SPEC: ModelSpec = {
  name: 'lenet5',
  description: 'LeNet-5: conv1 (C→6, 5×5, pad 2), ReLU, MaxPool 2, conv2 (6→16, 5×5), ReLU, MaxPool 2, fc1 (400→120), ReLU, fc2 (120→84), ReLU, fc3 (84→classes). 61,706 parameters on 1×28×28.',
  inputShape: [1, 28, 28],
  defaults: { ...COMMON_DEFAULTS },
};

/**
 * Build LeNet-5.
 *
 * @example const model = buildLenet5({ ...LENET5_SPEC.defaults });
 */
export function buildLenet5(opts: ResolvedOptions): Model {
  const net = new Net(opts);
  const [c, h, w] = opts.inputShape;
  let x = net.imageInput();
  x = net.maxPool(net.relu(net.conv('conv1', x, c, 6, 5, { pad: 2 })), 2);
  x = net.maxPool(net.relu(net.conv('conv2', x, 6, 16, 5)), 2);
  const side = (n: number) => outSize(outSize(outSize(n, 2, 2), 5), 2, 2);
  const flat = 16 * side(h) * side(w);
  if (side(h) < 1 || side(w) < 1) throw new Error(`lenet5 needs inputs of at least 12×12, got ${h}×${w}`);
  x = net.flatten(x);
  x = net.dropout(net.relu(net.linear('fc1', x, flat, 120)));
  x = net.dropout(net.relu(net.linear('fc2', x, 120, 84)));
  return net.finish(net.linear('fc3', x, 84, opts.classes, { hint: 'logits' }), 'lenet5');
}
