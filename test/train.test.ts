import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { takeRows, type Dataset } from '../src/data/batches.js';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { readModel } from '../src/onnx/model-io.js';
import { evaluate } from '../src/tasks/run.js';
import { train } from '../src/train/trainer.js';
import { trainingGraph } from '../src/train/training-graph.js';

const FIX = new URL('./fixtures/torch/', import.meta.url).pathname;

function subset(ds: Dataset, n: number, offset = 0): Dataset {
  const rows = Array.from({ length: n }, (_, i) => i + offset);
  return { x: takeRows(ds.x, rows), y: takeRows(ds.y, rows) };
}

const data = loadImageDataset(undefined, 'train');

test('fine-tuning an ONNX model exported from PyTorch lowers its training loss', async () => {
  const model = readModel(join(FIX, 'lenet.onnx'));
  const trainSet = subset(data, 1024);
  const before = await evaluate(model, trainSet);
  const res = await train(model, trainSet, { epochs: 2, batchSize: 32, lr: 0.05, optimizer: { name: 'sgd', momentum: 0.9 }, seed: 1 });
  const after = await evaluate(res.model, trainSet);
  assert.ok(res.history[1].trainLoss < res.history[0].trainLoss, `epoch losses ${res.history.map((h) => h.trainLoss)}`);
  assert.ok(after.loss < before.loss * 0.6, `loss ${before.loss} -> ${after.loss}`);
  assert.ok(after.accuracy > before.accuracy + 0.3, `accuracy ${before.accuracy} -> ${after.accuracy}`);
});

/** The centre 16×16 of each 28×28 image (the ResNet fixture takes 16×16 inputs). */
function centreCrop16(ds: Dataset): Dataset {
  const n = ds.x.dims[0];
  const src = ds.x.data as Float32Array;
  const out = new Float32Array(n * 256);
  for (let i = 0; i < n; i++) for (let r = 0; r < 16; r++) out.set(src.subarray(i * 784 + (r + 6) * 28 + 6, i * 784 + (r + 6) * 28 + 22), i * 256 + r * 16);
  return { x: { dtype: 'float32', dims: [n, 1, 16, 16], data: out }, y: ds.y };
}

test('fine-tuning a PyTorch export with BatchNorm trains on batch statistics and updates the running ones (frozen on request)', async () => {
  const model = readModel(join(FIX, 'resnet.onnx'));
  const trainSet = centreCrop16(subset(data, 512));
  const before = await evaluate(model, trainSet);
  const opts = { epochs: 2, batchSize: 32, lr: 0.05, optimizer: { name: 'sgd' as const, momentum: 0.9, weightDecay: 5e-4 }, seed: 1 };
  const res = await train(model, trainSet, opts);
  const after = await evaluate(res.model, trainSet);
  assert.ok(after.loss < before.loss * 0.85, `loss ${before.loss} -> ${after.loss}`);
  assert.equal(res.model.opsetImports.find((o) => !o.domain)?.version, 13, 'the written model keeps its opset');
  assert.ok(
    res.model.graph.nodes.filter((n) => n.opType === 'BatchNormalization').every((n) => n.outputs.length === 1),
    'the written model is in inference mode',
  );
  const stats = [...model.graph.initializers.keys()].filter((k) => /running_(mean|var)$/.test(k));
  assert.equal(stats.length, 12);
  const value = (m: typeof model, k: string) => Array.from(m.graph.initializers.get(k)!.tensor!.data as Float32Array);
  for (const k of stats) assert.notDeepStrictEqual(value(res.model, k), value(model, k), `${k} should follow the batch statistics`);

  const frozen = await train(model, trainSet, { ...opts, frozenBatchNorm: true });
  for (const k of stats) assert.deepStrictEqual(value(frozen.model, k), value(model, k), `${k} moved with frozenBatchNorm`);
  assert.notDeepStrictEqual(value(frozen.model, 'conv1.weight'), value(model, 'conv1.weight'));
});

test('trainingGraph: BatchNorms on batch statistics with updated running statistics as outputs; opset 13 lifted to 15', () => {
  const model = readModel(join(FIX, 'resnet.onnx'));
  const t = trainingGraph(model);
  assert.equal(t.opsetImports.find((o) => !o.domain)?.version, 15);
  const bns = t.graph.nodes.filter((n) => n.opType === 'BatchNormalization');
  assert.equal(bns.length, 6);
  for (const n of bns) assert.deepEqual(n.outputs.slice(1), [`${n.inputs[3]}:new`, `${n.inputs[4]}:new`]);
  assert.equal(t.graph.outputs.length, 13);
  assert.equal(model.graph.outputs.length, 1, 'the input model is untouched');
  const mlp = readModel(join(FIX, 'mlp.onnx'));
  assert.equal(trainingGraph(mlp), mlp, 'a model without BatchNorm comes back as it is');
});

test('a resumed run ends with the same parameters as an uninterrupted one', async () => {
  const model = readModel(join(FIX, 'mlp.onnx'));
  const trainSet = subset(data, 256);
  const opts = { epochs: 2, batchSize: 32, lr: 1e-3, optimizer: { name: 'adam' as const }, seed: 3 };
  const full = await train(model, trainSet, opts);
  const dir = mkdtempSync(join(tmpdir(), 'scalpel-ckpt-'));
  const ckpt = join(dir, 'run.ckpt');
  const part = await train(model, trainSet, { ...opts, checkpoint: ckpt, maxSteps: 11 });
  assert.equal(part.completed, false);
  assert.equal(part.steps, 11);
  assert.ok(existsSync(ckpt));
  const resumed = await train(model, trainSet, { ...opts, checkpoint: ckpt, resume: ckpt });
  assert.equal(resumed.completed, true);
  assert.equal(resumed.steps, full.steps);
  for (const [k, v] of full.params) {
    assert.deepStrictEqual(Array.from(resumed.params.get(k)!.data as Float32Array), Array.from(v.data as Float32Array), `parameter ${k} differs`);
  }
  await assert.rejects(train(model, trainSet, { ...opts, lr: 0.5, resume: ckpt }), /other settings/);
});

test('gradient masks: only the chosen entries move', async () => {
  const model = readModel(join(FIX, 'mlp.onnx'));
  const w0 = model.graph.initializers.get('fc1.weight')!.tensor!.data as Float32Array;
  const mask = new Uint8Array(w0.length);
  for (let i = 0; i < mask.length; i += 97) mask[i] = 1;
  const res = await train(model, subset(data, 128), {
    epochs: 1,
    batchSize: 32,
    lr: 0.1,
    trainable: ['fc1.weight'],
    masks: new Map([['fc1.weight', mask]]),
    seed: 0,
  });
  const w1 = res.params.get('fc1.weight')!.data as Float32Array;
  let moved = 0;
  for (let i = 0; i < w0.length; i++) {
    if (w1[i] !== w0[i]) {
      assert.equal(mask[i], 1, `entry ${i} moved without being in the mask`);
      moved++;
    }
  }
  assert.ok(moved > mask.reduce((a, b) => a + b, 0) / 2, `only ${moved} masked entries moved`);
  assert.deepStrictEqual(
    Array.from(res.params.get('fc2.weight')!.data as Float32Array),
    Array.from(model.graph.initializers.get('fc2.weight')!.tensor!.data as Float32Array),
  );
});
