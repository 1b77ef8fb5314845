// The per-token cross-entropy a language model's loss is: logits [B, T, V], labels [B, T], -100 ignored.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';
import { withLoss } from '../src/train/losses.js';

const [B, T, V] = [2, 3, 5];

function logitsModel() {
  const b = new GraphBuilder();
  const z = b.input('z', 'float32', ['batch', 'sequence', V]);
  b.output(b.op('Identity', [z], {}, 'logits'), 'float32', ['batch', 'sequence', V]);
  return makeModel(b.graph, 17);
}

/** Σ over kept positions of -log softmax(z)[y], divided by their count; and its gradient in z. */
function reference(z: Float32Array, y: number[]): { loss: number; grad: Float64Array } {
  const kept = y.filter((l) => l !== -100).length;
  let loss = 0;
  const grad = new Float64Array(z.length);
  y.forEach((label, p) => {
    if (label === -100) return;
    const row = Array.from(z.subarray(p * V, (p + 1) * V));
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    loss += Math.log(sum) + max - row[label];
    row.forEach((v, k) => (grad[p * V + k] = (Math.exp(v - max) / sum - (k === label ? 1 : 0)) / kept));
  });
  return { loss: loss / kept, grad };
}

test('cross-entropy over [B, T, V] logits ignores labels of -100 and averages over the others, value and gradient', async () => {
  const rng = createRng(5);
  const z = Float32Array.from({ length: B * T * V }, () => rng.normal());
  const y = [3, -100, 0, 4, 1, -100];
  const { model, loss } = withLoss(logitsModel(), { kind: 'cross-entropy' });
  const { model: grads, gradients } = differentiate(model, { of: loss, wrt: ['z'] });
  const feeds: Record<string, HostTensor> = {
    z: { dtype: 'float32', dims: [B, T, V], data: z },
    y: { dtype: 'int64', dims: [B, T], data: BigInt64Array.from(y.map(BigInt)) },
  };
  const out = await (await compile(grads)).run(feeds);
  const ref = reference(z, y);
  assert.ok(Math.abs(Number(out[loss].data[0]) - ref.loss) < 1e-5, `loss ${out[loss].data[0]} vs ${ref.loss}`);
  const g = out[gradients.get('z')!].data as Float32Array;
  for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - ref.grad[i]) < 1e-6, `dz[${i}] ${g[i]} vs ${ref.grad[i]}`);
});

test('every label ignored: the loss is 0, not NaN', async () => {
  const { model, loss } = withLoss(logitsModel(), { kind: 'cross-entropy' });
  const out = await (
    await compile(model)
  ).run({
    z: { dtype: 'float32', dims: [1, 2, V], data: new Float32Array(2 * V) },
    y: { dtype: 'int64', dims: [1, 2], data: BigInt64Array.of(-100n, -100n) },
  });
  assert.equal(Number(out[loss].data[0]), 0);
});
