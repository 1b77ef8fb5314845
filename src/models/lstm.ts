// A one-layer LSTM classifier: the last hidden state through fc.
import type { Model } from '../onnx/ir.js';
import { COMMON_DEFAULTS, type ModelSpec, Net, type ResolvedOptions } from './layers.js';

export const LSTM_SPEC: ModelSpec = {
  name: 'lstm',
  description:
    'LSTM classifier: one ONNX LSTM layer (hidden 64) over the sequence, last hidden state, fc (64→classes). ' +
    'Reads x float32 [batch, T, F] with input "sequence", or an image x [batch, C, H, W] as H steps of C·W features (28 steps of 28 for Fashion-MNIST). ' +
    'Parameters in ONNX layout and gate order (i, o, f, c): rnn.weight_ih_l0 [1, 4H, F], rnn.weight_hh_l0 [1, 4H, H], rnn.bias_l0 [1, 8H] (input then hidden biases).',
  inputShape: [1, 28, 28],
  sequenceShape: [28, 28],
  defaults: { ...COMMON_DEFAULTS, width: 64, input: 'image' },
};

/**
 * Build the LSTM classifier (`width` is the hidden size). Initialisation as PyTorch: every weight and bias U(±1/√H).
 *
 * @example const model = buildLstm({ ...LSTM_SPEC.defaults });
 */
export function buildLstm(opts: ResolvedOptions): Model {
  const net = new Net(opts);
  const H = opts.width ?? 64;
  const { x, features } = net.timeMajorInput();
  const bound = { uniform: 1 / Math.sqrt(H) };
  const W = net.param('rnn.weight_ih_l0', [1, 4 * H, features], bound);
  const R = net.param('rnn.weight_hh_l0', [1, 4 * H, H], bound);
  const B = net.param('rnn.bias_l0', [1, 8 * H], bound);
  const [, yh] = net.b.opN('LSTM', [x, W, R, B], 3, { hidden_size: H }, 'rnn');
  const last = net.dropout(net.op('Squeeze', [yh, net.ints([0])], undefined, 'last_hidden'));
  return net.finish(net.linear('fc', last, H, opts.classes, { hint: 'logits' }), 'lstm');
}
