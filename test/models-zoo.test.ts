// The model zoo: every model builds in both modes and runs in onnxruntime; parameter counts, names, describeParams, gradients.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import { takeRows } from '../src/data/batches.js';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { floatInitializers, type Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { promoteToInputs } from '../src/onnx/params-as-inputs.js';
import { buildModel, MODELS, type ModelOptions, resolveModelOptions } from '../src/models/index.js';
import { countParams, describeParams, type ParamInfo } from '../src/params/describe.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';
import { withLoss } from '../src/train/losses.js';

const NAMES = ['mlp', 'lenet5', 'vgg-small', 'resnet20', 'transformer', 'gru', 'lstm'];
const BN_MODELS = new Set(['vgg-small', 'resnet20']);
const images = loadImageDataset(undefined, 'test');
const x2 = takeRows(images.x, [0, 1]);
const y2 = takeRows(images.y, [0, 1]);
const fixture = (name: string) => readModel(fileURLToPath(new URL(`./fixtures/torch/${name}.onnx`, import.meta.url)));

async function run(model: Model, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  return (await compile(model, { threads: 1 })).run(feeds);
}

function assertFinite(t: HostTensor, what: string): void {
  for (const v of t.data as Float32Array) assert.ok(Number.isFinite(v), `${what} has a non-finite value`);
}

test('the registry lists every model with a spec', () => {
  assert.deepEqual(Object.keys(MODELS).sort(), [...NAMES].sort());
  for (const [name, spec] of Object.entries(MODELS)) {
    assert.equal(spec.name, name);
    assert.deepEqual(spec.inputShape, [1, 28, 28]);
    assert.ok(spec.description.length > 20);
  }
  assert.throws(() => buildModel('alexnet'), /unknown model 'alexnet'.*lenet5/);
  assert.throws(() => buildModel('lenet5', { input: 'sequence' }), /images only/);
  assert.throws(() => buildModel('transformer', { width: 30, heads: 4 }), /not divisible/);
  assert.throws(() => buildModel('mlp', { dropout: 1 }), /dropout/);
});

describe('every model builds in both modes and runs on Fashion-MNIST', () => {
  for (const name of NAMES) {
    for (const mode of ['train', 'eval'] as const) {
      test(`${name} (${mode})`, async () => {
        const model = buildModel(name, { mode, seed: 3 });
        assert.deepEqual(model.opsetImports, [{ domain: '', version: 17 }]);
        assert.equal(model.graph.inputs.length, 1);
        assert.equal(model.graph.inputs[0].name, 'x');
        assert.equal(model.graph.outputs[0].name, 'logits');
        const out = await run(model, { x: x2 });
        assert.deepEqual(out.logits.dims, [2, 10]);
        assertFinite(out.logits, 'logits');
        const stats = model.graph.outputs.slice(1).map((o) => o.name);
        if (mode === 'train' && BN_MODELS.has(name)) {
          const bns = model.graph.nodes.filter((n) => n.opType === 'BatchNormalization');
          assert.equal(stats.length, 2 * bns.length);
          for (const n of bns) {
            const layer = n.inputs[1].replace(/\.weight$/, '');
            assert.deepEqual(n.outputs.slice(1), [`${layer}.running_mean:new`, `${layer}.running_var:new`]);
            const c = model.graph.initializers.get(`${layer}.running_mean`)!.tensor!.dims;
            assert.deepEqual(out[`${layer}.running_mean:new`].dims, c);
            assertFinite(out[`${layer}.running_var:new`], `${layer}.running_var:new`);
          }
        } else {
          assert.deepEqual(stats, []);
        }
        if (mode === 'eval') assert.ok(!model.graph.nodes.some((n) => n.opType === 'Dropout'), 'eval graphs have no Dropout');
      });
    }
  }
});

test('every model takes other image shapes and class counts', async () => {
  const x: HostTensor = { dtype: 'float32', dims: [2, 3, 32, 32], data: Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i)) };
  for (const name of NAMES) {
    const out = await run(buildModel(name, { inputShape: [3, 32, 32], classes: 7, mode: 'train', width: 8, heads: 2 }), { x });
    assert.deepEqual(out.logits.dims, [2, 7], name);
  }
});

test('train and eval graphs share parameter names and values; the seed decides the values', () => {
  for (const name of NAMES) {
    const train = buildModel(name, { mode: 'train', seed: 5 });
    const evalModel = buildModel(name, { mode: 'eval', seed: 5 });
    const other = buildModel(name, { mode: 'eval', seed: 6 });
    const names = (m: Model) => floatInitializers(m.graph).map((i) => i.name);
    assert.deepEqual(names(train), names(evalModel), name);
    for (const init of floatInitializers(train.graph)) {
      assert.deepEqual(evalModel.graph.initializers.get(init.name)!.tensor!.data, init.tensor!.data, `${name}: ${init.name}`);
    }
    const first = floatInitializers(train.graph)[0].name;
    assert.notDeepEqual(other.graph.initializers.get(first)!.tensor!.data, train.graph.initializers.get(first)!.tensor!.data);
  }
});

test('parameter counts', () => {
  // LeNet-5: conv1 6·1·25+6 = 156, conv2 16·6·25+16 = 2416, fc1 400·120+120 = 48120, fc2 120·84+84 = 10164, fc3 84·10+10 = 850.
  assert.equal(countParams(buildModel('lenet5')), 61_706);
  // ResNet-20 on 1 channel: conv1 144 + bn1 32; stage 1: 3 × (2·2304 + 2·32) = 14016;
  // stage 2: 4608 + 9216 + 512 (1×1 shortcut) + 3·64 (BN) + 2 × (2·9216 + 2·64) = 51648;
  // stage 3: 18432 + 36864 + 2048 + 3·128 + 2 × (2·36864 + 2·128) = 205696; fc 64·10+10 = 650.
  const resnet = buildModel('resnet20');
  assert.equal(countParams(resnet, { trainable: true }), 272_186);
  // plus running mean and variance of 21 BN layers over 16 + 6·16 + 7·32 + 7·64 = 784 channels
  assert.equal(countParams(resnet), 272_186 + 2 * 784);
  // MLP: 784·256+256 + 256·128+128 + 128·10+10
  assert.equal(countParams(buildModel('mlp')), 235_146);
  // VGG-small (width 16): convs 144+2304+4608+9216+18432+36864, BN 2·(16+16+32+32+64+64), fc1 576·128+128, fc2 128·10+10
  assert.equal(countParams(buildModel('vgg-small'), { trainable: true }), 147_162);
  // Transformer (d 32, 2 layers, 28 row tokens of 28): embed 28·32+32, pos 28·32, 2 × (4·(32·32+32) + 2·64 + 32·64+64 + 64·32+32), norm 64, fc 330
  assert.equal(countParams(buildModel('transformer')), 19_306);
  // GRU (H 64, 28 features): W 3·64·28, R 3·64·64, B 6·64, fc 650; LSTM: 4 gates and 8·64 biases
  assert.equal(countParams(buildModel('gru')), 18_698);
  assert.equal(countParams(buildModel('lstm')), 24_714);
});

test('initialisation follows PyTorch defaults', () => {
  const m = buildModel('lenet5', { seed: 1 });
  const get = (n: string) => m.graph.initializers.get(n)!.tensor!.data as Float32Array;
  const maxAbs = (a: Float32Array) => a.reduce((s, v) => Math.max(s, Math.abs(v)), 0);
  // kaiming-uniform with a = √5: U(±1/√fan_in)
  assert.ok(maxAbs(get('conv1.weight')) <= 1 / 5 && maxAbs(get('conv1.weight')) > 0.15);
  assert.ok(maxAbs(get('fc1.weight')) <= 1 / Math.sqrt(400));
  assert.ok(maxAbs(get('fc1.bias')) <= 1 / Math.sqrt(400));
  const r = buildModel('resnet20', { seed: 1 });
  const bn = (s: string) => Array.from(r.graph.initializers.get(`layer1.0.bn1.${s}`)!.tensor!.data as Float32Array);
  assert.deepEqual([bn('weight')[0], bn('bias')[0], bn('running_mean')[0], bn('running_var')[0]], [1, 0, 0, 1]);
  // torchvision's kaiming-normal (fan-out): std √(2 / (64·9)) for the last stage
  const w = r.graph.initializers.get('layer3.1.conv1.weight')!.tensor!.data as Float32Array;
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(Math.abs(std / Math.sqrt(2 / 576) - 1) < 0.05, `std ${std}`);
});

test('train graphs drop out, eval graphs do not', async () => {
  const train = buildModel('mlp', { mode: 'train', dropout: 0.5 });
  const a = await run(train, { x: x2 });
  const b = await run(train, { x: x2 });
  assert.notDeepEqual(a.logits.data, b.logits.data);
  const evalModel = buildModel('mlp', { mode: 'eval', dropout: 0.5 });
  assert.deepEqual((await run(evalModel, { x: x2 })).logits.data, (await run(evalModel, { x: x2 })).logits.data);
});

test('BatchNormalization in train graphs uses batch statistics and updates running ones with momentum 0.1', async () => {
  const model = buildModel('resnet20', { mode: 'train' });
  const out = await run(model, { x: x2 });
  // bn1 sees conv1's output; its running mean becomes 0.9 · 0 + 0.1 · batch mean
  const conv = model.graph.nodes.find((n) => n.opType === 'Conv')!.outputs[0];
  const probe = { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, { name: conv }] } };
  const features = (await run(probe, { x: x2 }))[conv];
  const [n, c, h, w] = features.dims;
  const data = features.data as Float32Array;
  const mean = (k: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < h * w; j++) s += data[(i * c + k) * h * w + j];
    return s / (n * h * w);
  };
  const running = out['bn1.running_mean:new'].data as Float32Array;
  for (let k = 0; k < c; k++) assert.ok(Math.abs(running[k] - 0.1 * mean(k)) < 1e-5, `channel ${k}`);
});

describe('sequence inputs', () => {
  test('transformer on int64 tokens [batch, T]', async () => {
    const model = buildModel('transformer', { input: 'sequence', inputShape: [12], vocab: 50, mode: 'train' });
    assert.equal(model.graph.inputs[0].type?.tensorType?.elemType, 7);
    const tokens: HostTensor = { dtype: 'int64', dims: [3, 12], data: BigInt64Array.from({ length: 36 }, (_, i) => BigInt((i * 7) % 50)) };
    const out = await run(model, { x: tokens });
    assert.deepEqual(out.logits.dims, [3, 10]);
    assert.deepEqual(resolveModelOptions('transformer', { input: 'sequence' }).inputShape, [28]);
  });
  for (const name of ['gru', 'lstm']) {
    test(`${name} on float [batch, T, F]`, async () => {
      const model = buildModel(name, { input: 'sequence', inputShape: [8, 6], width: 5, classes: 3 });
      const x: HostTensor = { dtype: 'float32', dims: [2, 8, 6], data: Float32Array.from({ length: 96 }, (_, i) => Math.sin(i)) };
      assert.deepEqual((await run(model, { x })).logits.dims, [2, 3]);
      assert.deepEqual(resolveModelOptions(name, { input: 'sequence' }).inputShape, [28, 28]);
    });
  }
  test('gru reads an image row by row: 28 steps of 28 features', async () => {
    const img = buildModel('gru', { seed: 2 });
    const seq = buildModel('gru', { seed: 2, input: 'sequence', inputShape: [28, 28] });
    const rows: HostTensor = { dtype: 'float32', dims: [2, 28, 28], data: x2.data };
    assert.deepEqual((await run(img, { x: x2 })).logits.data, (await run(seq, { x: rows })).logits.data);
  });
});

describe('describeParams', () => {
  const kinds = (ps: ParamInfo[]) => Object.fromEntries(ps.map((p) => [p.name, p.kind]));
  const byKind = (ps: ParamInfo[], kind: string) => ps.filter((p) => p.kind === kind).map((p) => p.name);

  test('lenet5', () => {
    const ps = describeParams(buildModel('lenet5'));
    assert.deepEqual(kinds(ps), {
      'conv1.weight': 'conv',
      'conv1.bias': 'bias',
      'conv2.weight': 'conv',
      'conv2.bias': 'bias',
      'fc1.weight': 'fc',
      'fc1.bias': 'bias',
      'fc2.weight': 'fc',
      'fc2.bias': 'bias',
      'fc3.weight': 'fc',
      'fc3.bias': 'bias',
    });
    const conv1 = ps.find((p) => p.name === 'conv1.weight')!;
    assert.deepEqual(
      { layer: conv1.layer, shape: conv1.shape, size: conv1.size, order: conv1.order },
      { layer: 'conv1', shape: [6, 1, 5, 5], size: 150, order: 0 },
    );
    const orders = ps.map((p) => p.order);
    assert.deepEqual(
      orders,
      [...orders].sort((a, b) => a - b),
      'parameters come in graph order',
    );
    assert.ok(ps.every((p) => p.trainable));
  });

  test('resnet20', () => {
    const ps = describeParams(buildModel('resnet20', { mode: 'train' }));
    assert.equal(byKind(ps, 'conv').length, 21);
    assert.equal(byKind(ps, 'batch-norm').length, 4 * 21);
    assert.deepEqual(byKind(ps, 'fc'), ['fc.weight']);
    assert.deepEqual(byKind(ps, 'bias'), ['fc.bias']);
    const ds = ps.find((p) => p.name === 'layer2.0.downsample.0.weight')!;
    assert.deepEqual([ds.kind, ds.layer, ds.shape], ['conv', 'layer2.0.downsample.0', [32, 16, 1, 1]]);
    assert.deepEqual(
      ps
        .filter((p) => !p.trainable)
        .map((p) => p.name.split('.').pop())
        .sort(),
      [...Array(21).fill('running_mean'), ...Array(21).fill('running_var')],
    );
  });

  test('transformer (zoo, both input kinds)', () => {
    const img = kinds(describeParams(buildModel('transformer', { depth: 1 })));
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      assert.equal(img[`layers.0.self_attn.${p}.weight`], 'attention', p);
      assert.equal(img[`layers.0.self_attn.${p}.bias`], 'bias', p);
    }
    assert.equal(img['layers.0.linear1.weight'], 'fc');
    assert.equal(img['layers.0.norm1.weight'], 'layer-norm');
    assert.equal(img['pos_embed.weight'], 'embedding');
    assert.equal(img['embed.weight'], 'fc'); // a linear embedding of image rows
    const seq = kinds(describeParams(buildModel('transformer', { depth: 1, input: 'sequence' })));
    assert.equal(seq['embed.weight'], 'embedding');
  });

  test('PyTorch-exported transformer fixture', () => {
    const ps = describeParams(fixture('transformer'));
    const k = kinds(ps);
    assert.equal(k['emb.weight'], 'embedding');
    assert.equal(k.pos, 'embedding');
    assert.equal(k['encoder.self_attn.in_proj_weight'], 'attention');
    assert.equal(k['encoder.self_attn.out_proj.weight'], 'attention');
    assert.equal(k['encoder.self_attn.in_proj_bias'], 'bias');
    assert.equal(k['encoder.norm1.weight'], 'layer-norm');
    assert.equal(k['encoder.norm2.bias'], 'layer-norm');
    assert.equal(k['encoder.linear1.weight'], 'fc');
    assert.equal(k['fc.weight'], 'fc');
    assert.equal(ps.find((p) => p.name === 'encoder.self_attn.in_proj_weight')!.layer, 'encoder.self_attn');
    assert.equal(
      ps.reduce((s, p) => s + p.size, 0),
      3386,
    );
  });

  test('PyTorch-exported resnet, lenet and gru fixtures', () => {
    const r = describeParams(fixture('resnet'));
    assert.equal(byKind(r, 'batch-norm').length, 6 * 4);
    assert.deepEqual(r.filter((p) => p.kind === 'batch-norm' && !p.trainable).length, 12);
    assert.equal(byKind(r, 'conv').length, 6);
    assert.equal(
      r.filter((p) => p.trainable).reduce((s, p) => s + p.size, 0),
      5122,
    );
    assert.deepEqual(byKind(describeParams(fixture('lenet')), 'conv'), ['conv1.weight', 'conv2.weight']);
    assert.deepEqual(byKind(describeParams(fixture('gru')), 'recurrent').length, 4);
  });
});

describe('gradients of zoo models match finite differences', () => {
  // float32 models with ReLU and max-pool kinks: a large step crosses kinks, a small one drowns in float32 rounding,
  // so each gradient is compared with central differences at several steps and must match one of them within 2e-2.
  const STEPS = [1e-2, 1e-3, 3e-4, 1e-4];
  // `wrt`: checked along a random direction (gradcheck); `coords`: checked entry by entry (checkCoordinates).
  const CASES: { name: string; opts: ModelOptions; wrt: string[]; coords?: string[] }[] = [
    { name: 'mlp', opts: { width: 16 }, wrt: ['fc1.weight', 'fc2.bias', 'fc3.weight'] },
    { name: 'lenet5', opts: {}, wrt: ['conv2.bias', 'fc1.weight', 'fc3.weight'], coords: ['conv1.weight', 'conv2.weight'] },
    {
      name: 'vgg-small',
      opts: { width: 4, inputShape: [1, 12, 12], mode: 'train', dropout: 0 },
      wrt: ['block3.conv2.weight', 'fc1.weight'],
      coords: ['block1.conv1.weight', 'block2.bn2.weight', 'block3.bn1.bias'],
    },
    {
      name: 'resnet20',
      opts: { width: 4, inputShape: [1, 12, 12], mode: 'train' },
      wrt: ['layer2.0.downsample.0.weight', 'layer3.0.conv1.weight', 'fc.weight'],
      coords: ['conv1.weight', 'layer1.1.bn1.weight', 'layer3.2.bn2.bias'],
    },
    {
      name: 'resnet20',
      opts: { width: 4, inputShape: [1, 12, 12], mode: 'eval' },
      wrt: ['layer3.2.conv2.weight'],
      coords: ['layer1.0.conv2.weight', 'layer2.0.bn1.bias', 'layer2.0.downsample.1.weight'],
    },
    {
      name: 'transformer',
      opts: { width: 8, heads: 2, depth: 1, mode: 'train', dropout: 0 },
      wrt: [
        'embed.weight',
        'pos_embed.weight',
        'layers.0.self_attn.q_proj.weight',
        'layers.0.self_attn.v_proj.bias',
        'layers.0.norm1.weight',
        'layers.0.linear1.weight',
        'norm.bias',
      ],
    },
    {
      name: 'transformer',
      opts: { width: 8, heads: 2, depth: 1, input: 'sequence', inputShape: [6], vocab: 11 },
      wrt: ['embed.weight', 'layers.0.self_attn.k_proj.weight'],
    },
    { name: 'gru', opts: { width: 6, input: 'sequence', inputShape: [5, 4] }, wrt: ['rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_l0', 'fc.weight'] },
    { name: 'lstm', opts: { width: 6, input: 'sequence', inputShape: [5, 4] }, wrt: ['rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_l0', 'fc.weight'] },
  ];
  /** Central differences of single entries (the `k` with the largest gradient) of a parameter: few kinks in the way. */
  async function checkCoordinates(lossModel: Model, loss: string, w: string, feeds: Record<string, HostTensor>, k = 3): Promise<void> {
    const { model: promoted, values } = promoteToInputs(lossModel, [w]);
    const { model: withGrad, gradients } = differentiate(promoted, { of: loss, wrt: [w], keepOutputs: false });
    const exe = await compile(withGrad, { threads: 1 });
    const w0 = values.get(w)!;
    const g = (await exe.run({ ...feeds, [w]: w0 }))[gradients.get(w)!].data as Float32Array;
    const top = Array.from(g.keys())
      .sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]))
      .slice(0, k);
    const lossAt = async (i: number, h: number) => {
      const data = Float32Array.from(w0.data as Float32Array);
      data[i] += h;
      return Number((await exe.run({ ...feeds, [w]: { ...w0, data } }, [loss]))[loss].data[0]);
    };
    for (const i of top) {
      const numeric: number[] = [];
      for (const h of [1e-3, 3e-4, 1e-4, 3e-5]) numeric.push(((await lossAt(i, h)) - (await lossAt(i, -h))) / (2 * h));
      const best = Math.min(...numeric.map((n) => Math.abs(n - g[i]) / Math.max(Math.abs(n), Math.abs(g[i]))));
      assert.ok(best < 2e-2, `d loss/d ${w}[${i}]: analytic ${g[i]} vs numeric ${numeric.map((n) => n.toPrecision(5)).join(', ')}`);
    }
  }

  for (const c of CASES) {
    test(`${c.name} ${JSON.stringify(c.opts)}`, async () => {
      const model = buildModel(c.name, { seed: 11, ...c.opts });
      const spec = resolveModelOptions(c.name, c.opts);
      const rng = createRng(4);
      // Small random images rather than Fashion-MNIST: its flat background gives many equal activations, whose ReLU
      // and max-pool kinks all sit at the same point and break finite differences.
      const pixels = spec.inputShape.reduce((a, b) => a * b, 1);
      let x: HostTensor = { dtype: 'float32', dims: [2, ...spec.inputShape], data: Float32Array.from({ length: 2 * pixels }, () => rng.normal()) };
      if (spec.input === 'sequence' && c.name === 'transformer') {
        x = { dtype: 'int64', dims: [2, spec.inputShape[0]], data: BigInt64Array.from({ length: 2 * spec.inputShape[0] }, () => BigInt(rng.int(spec.vocab!))) };
      } else if (spec.input === 'sequence') {
        const n = 2 * spec.inputShape[0] * spec.inputShape[1];
        x = { dtype: 'float32', dims: [2, ...spec.inputShape], data: Float32Array.from({ length: n }, () => rng.normal()) };
      }
      const { model: lossModel, loss } = withLoss(model, { kind: 'cross-entropy' });
      for (const w of c.wrt) {
        const tries = [];
        for (const step of STEPS) {
          const [r] = await gradcheck(lossModel, { of: loss, wrt: [w], feeds: { x, y: y2 }, seed: 1, step });
          tries.push(r);
          if (r.relError < 2e-2) break;
        }
        const best = tries.reduce((p, q) => (q.relError < p.relError ? q : p));
        assert.ok(
          best.relError < 2e-2,
          `${c.name}: d loss/d ${w}: analytic ${best.analytic} vs numeric ${tries.map((r) => r.numeric.toPrecision(5)).join(', ')} at steps ${STEPS.join(', ')}`,
        );
      }
      for (const w of c.coords ?? []) await checkCoordinates(lossModel, loss, w, { x, y: y2 });
    });
  }
});
