// A small VGG: three blocks of two 3×3 conv + BN + ReLU layers, each closed by a 2×2 max-pool, then two fc layers.
import type { Model } from '../onnx/ir.js';
import { COMMON_DEFAULTS, type ModelSpec, Net, outSize, type ResolvedOptions } from './layers.js';

export const VGG_SMALL_SPEC: ModelSpec = {
  name: 'vgg-small',
  description:
    'VGG-small: block1..block3, each conv1 + bn1 + ReLU, conv2 + bn2 + ReLU, MaxPool 2 (16, 32, 64 channels with width 16); ' +
    'Flatten, fc1 (→128), ReLU, Dropout, fc2 (128→classes).',
  inputShape: [1, 28, 28],
  defaults: { ...COMMON_DEFAULTS, width: 16, dropout: 0.3 },
};

/**
 * Build VGG-small. Convolutions have no bias (BN follows) and torchvision's VGG initialisation (kaiming-normal, fan-out).
 *
 * @example const model = buildVggSmall({ ...VGG_SMALL_SPEC.defaults });
 */
export function buildVggSmall(opts: ResolvedOptions): Model {
  const net = new Net(opts);
  const base = opts.width ?? 16;
  let [cin, h, w] = opts.inputShape;
  let x = net.imageInput();
  for (let blk = 1; blk <= 3; blk++) {
    const cout = base << (blk - 1);
    for (let i = 1; i <= 2; i++) {
      const p = `block${blk}`;
      x = net.conv(`${p}.conv${i}`, x, cin, cout, 3, { pad: 1, bias: false, init: 'kaiming-fan-out' });
      x = net.relu(net.batchNorm(`${p}.bn${i}`, x, cout));
      cin = cout;
    }
    x = net.maxPool(x, 2);
    h = outSize(h, 2, 2);
    w = outSize(w, 2, 2);
    if (h < 1 || w < 1) throw new Error(`vgg-small needs inputs of at least 8×8, got [${opts.inputShape.join(', ')}]`);
  }
  x = net.flatten(x);
  const hidden = base * 8;
  x = net.dropout(net.relu(net.linear('fc1', x, cin * h * w, hidden)));
  return net.finish(net.linear('fc2', x, hidden, opts.classes, { hint: 'logits' }), 'vgg-small');
}
