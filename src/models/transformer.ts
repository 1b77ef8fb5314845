// A small pre-LN Transformer encoder classifier: embedding + learned positions, L blocks of multi-head
// self-attention and a GELU MLP, final LayerNorm, mean-pool over positions, fc.
import type { Model } from '../onnx/ir.js';
import { COMMON_DEFAULTS, type ModelSpec, Net, type ResolvedOptions } from './layers.js';

export const TRANSFORMER_SPEC: ModelSpec = {
  name: 'transformer',
  description:
    'Transformer encoder classifier (pre-LN): tokens through embed (Gather of embed.weight [vocab, d]) with input "sequence" ' +
    '(x int64 [batch, T]), or image rows as tokens through a linear embed (x float32 [batch, C, H, W], H tokens of C·W features); ' +
    'plus learned positions pos_embed.weight [T, d]; depth × (norm1, self_attn q/k/v/out_proj with softmax(QKᵀ/√dₕ)V, residual, ' +
    'norm2, linear1 (d→2d), GELU, linear2 (2d→d), residual); norm; mean over positions; fc (d→classes).',
  inputShape: [1, 28, 28],
  sequenceShape: [28],
  defaults: { ...COMMON_DEFAULTS, width: 32, depth: 2, heads: 4, dropout: 0.1, vocab: 256, input: 'image' },
};

/**
 * Build the Transformer classifier. `width` is the model dimension d, `depth` the number of blocks,
 * `heads` the attention heads, `vocab` the token count for `input: 'sequence'`.
 *
 * @example const model = buildTransformer({ ...TRANSFORMER_SPEC.defaults, input: 'sequence', inputShape: [16] });
 */
export function buildTransformer(opts: ResolvedOptions): Model {
  const net = new Net(opts);
  const d = opts.width ?? 32;
  const heads = opts.heads ?? 4;
  const depth = opts.depth ?? 2;
  if (d % heads !== 0) throw new Error(`transformer width ${d} is not divisible by ${heads} heads`);
  const dh = d / heads;
  let x: string;
  let T: number;
  if ((opts.input ?? 'image') === 'sequence') {
    if (opts.inputShape.length !== 1) throw new Error(`transformer with input 'sequence' takes inputShape [T], got [${opts.inputShape.join(', ')}]`);
    T = opts.inputShape[0];
    const vocab = opts.vocab ?? 256;
    const tokens = net.b.input('x', 'int64', ['batch', T]);
    const table = net.param('embed.weight', [vocab, d], { normal: 1 });
    x = net.op('Gather', [table, tokens], { axis: 0 }, 'embed');
  } else {
    const [c, h, w] = opts.inputShape;
    const img = net.imageInput();
    T = h;
    const rows = c === 1 ? img : net.op('Transpose', [img], { perm: [0, 2, 1, 3] });
    x = net.linear('embed', net.op('Reshape', [rows, net.ints([0, h, c * w])], undefined, 'rows'), c * w, d, { rank: 3 });
  }
  x = net.dropout(net.op('Add', [x, net.param('pos_embed.weight', [T, d], { normal: 0.02 })], undefined, 'pos_embed'));

  const split = (v: string, perm: number[]) => net.op('Transpose', [net.op('Reshape', [v, net.ints([0, T, heads, dh])])], { perm });
  for (let l = 0; l < depth; l++) {
    const p = `layers.${l}`;
    const h1 = net.layerNorm(`${p}.norm1`, x, d);
    const proj = (n: string) => net.linear(`${p}.self_attn.${n}`, h1, d, d, { rank: 3 });
    const q = split(proj('q_proj'), [0, 2, 1, 3]); // [B, heads, T, dh]
    const kT = split(proj('k_proj'), [0, 2, 3, 1]); // [B, heads, dh, T]
    const v = split(proj('v_proj'), [0, 2, 1, 3]);
    const scores = net.op('Mul', [net.op('MatMul', [q, kT]), net.scalar(1 / Math.sqrt(dh))], undefined, `${p}.self_attn.scores`);
    const attn = net.op('Softmax', [scores], { axis: -1 }, `${p}.self_attn.softmax`);
    const ctx = net.op('Transpose', [net.op('MatMul', [attn, v], undefined, `${p}.self_attn.context`)], { perm: [0, 2, 1, 3] });
    const merged = net.op('Reshape', [ctx, net.ints([0, T, d])]);
    x = net.op('Add', [x, net.dropout(net.linear(`${p}.self_attn.out_proj`, merged, d, d, { rank: 3 }))], undefined, `${p}.residual1`);
    const h2 = net.layerNorm(`${p}.norm2`, x, d);
    const f = net.linear(`${p}.linear2`, net.dropout(net.gelu(net.linear(`${p}.linear1`, h2, d, 2 * d, { rank: 3 }))), 2 * d, d, { rank: 3 });
    x = net.op('Add', [x, net.dropout(f)], undefined, `${p}.residual2`);
  }
  x = net.layerNorm('norm', x, d);
  const pooled = net.op('ReduceMean', [x], { axes: [1], keepdims: 0 }, 'pool');
  return net.finish(net.linear('fc', pooled, d, opts.classes, { hint: 'logits' }), 'transformer');
}
