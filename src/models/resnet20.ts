// ResNet-20 (He et al. 2016, the CIFAR variant) for 1×28×28 inputs, option-B projection shortcuts.
import type { Model } from '../onnx/ir.js';
import { COMMON_DEFAULTS, type ModelSpec, Net, type ResolvedOptions } from './layers.js';

export const RESNET20_SPEC: ModelSpec = {
  name: 'resnet20',
  description:
    'ResNet-20: conv1 (3×3, C→16) + bn1 + ReLU, three stages of three basic blocks (16, 32, 64 channels; stride 2 at the start of stages 2 and 3, ' +
    'with 1×1 conv + BN shortcuts there), GlobalAveragePool, fc (64→classes). Names follow torchvision (layer2.0.downsample.0.weight). ' +
    '272,186 trainable parameters on 1 channel.',
  inputShape: [1, 28, 28],
  defaults: { ...COMMON_DEFAULTS, width: 16 },
};

/**
 * Build ResNet-20. Convolutions have no bias (BN follows) and torchvision's initialisation (kaiming-normal, fan-out).
 *
 * @example const model = buildResnet20({ ...RESNET20_SPEC.defaults, mode: 'train' });
 */
export function buildResnet20(opts: ResolvedOptions): Model {
  const net = new Net(opts);
  const base = opts.width ?? 16;
  const conv = (name: string, x: string, cin: number, cout: number, k: number, stride: number) =>
    net.conv(name, x, cin, cout, k, { stride, pad: k === 3 ? 1 : 0, bias: false, init: 'kaiming-fan-out' });
  let x = net.imageInput();
  x = net.relu(net.batchNorm('bn1', conv('conv1', x, opts.inputShape[0], base, 3, 1), base));
  let cin = base;
  for (let stage = 0; stage < 3; stage++) {
    const cout = base << stage;
    for (let block = 0; block < 3; block++) {
      const p = `layer${stage + 1}.${block}`;
      const stride = stage > 0 && block === 0 ? 2 : 1;
      let y = net.relu(net.batchNorm(`${p}.bn1`, conv(`${p}.conv1`, x, cin, cout, 3, stride), cout));
      y = net.batchNorm(`${p}.bn2`, conv(`${p}.conv2`, y, cout, cout, 3, 1), cout);
      const shortcut = stride !== 1 || cin !== cout ? net.batchNorm(`${p}.downsample.1`, conv(`${p}.downsample.0`, x, cin, cout, 1, stride), cout) : x;
      x = net.relu(net.op('Add', [y, shortcut], undefined, `${p}.add`));
      cin = cout;
    }
  }
  x = net.dropout(net.flatten(net.globalAvgPool(x)));
  return net.finish(net.linear('fc', x, cin, opts.classes, { hint: 'logits' }), 'resnet20');
}
