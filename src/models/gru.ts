// A one-layer GRU classifier: the last hidden state through fc.
import type { Model } from '../onnx/ir.js';
import { COMMON_DEFAULTS, type ModelSpec, Net, type ResolvedOptions } from './layers.js';

export const GRU_SPEC: ModelSpec = {
  name: 'gru',
  description:
    'GRU classifier: one ONNX GRU layer (hidden 64, linear_before_reset=1 as in PyTorch) over the sequence, last hidden state, fc (64→classes). ' +
    'Reads x float32 [batch, T, F] with input "sequence", or an image x [batch, C, H, W] as H steps of C·W features (28 steps of 28 for Fashion-MNIST). ' +
    'Parameters in ONNX layout and gate order (z, r, h): rnn.weight_ih_l0 [1, 3H, F], rnn.weight_hh_l0 [1, 3H, H], rnn.bias_l0 [1, 6H] (input then hidden biases).',
  inputShape: [1, 28, 28],
  sequenceShape: [28, 28],
  defaults: { ...COMMON_DEFAULTS, width: 64, input: 'image' },
};

/**
 * Build the GRU classifier (`width` is the hidden size). Initialisation as PyTorch: every weight and bias U(±1/√H).
 *
 * @example const model = buildGru({ ...GRU_SPEC.defaults, input: 'sequence', inputShape: [8, 6] });
 */
export function buildGru(opts: ResolvedOptions): Model {
  const net = new Net(opts);
  const H = opts.width ?? 64;
  const { x, features } = net.timeMajorInput();
  const bound = { uniform: 1 / Math.sqrt(H) };
  const W = net.param('rnn.weight_ih_l0', [1, 3 * H, features], bound);
  const R = net.param('rnn.weight_hh_l0', [1, 3 * H, H], bound);
  const B = net.param('rnn.bias_l0', [1, 6 * H], bound);
  const [, yh] = net.b.opN('GRU', [x, W, R, B], 2, { hidden_size: H, linear_before_reset: 1 }, 'rnn');
  const last = net.dropout(net.op('Squeeze', [yh, net.ints([0])], undefined, 'last_hidden'));
  return net.finish(net.linear('fc', last, H, opts.classes, { hint: 'logits' }), 'gru');
}
