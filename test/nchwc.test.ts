// The runtime's NCHWc lowering (src/runtime/nchwc.ts): same numbers as the standard-op graph, the fusions it
// promises, gradients of the PyTorch fixtures with the pass on and off, and no contrib op outside a session.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { readSafetensors } from '../src/data/safetensors.js';
import { buildModel } from '../src/models/index.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { floatInitializers, type Model } from '../src/onnx/ir.js';
import { encodeModel, readModel } from '../src/onnx/model-io.js';
import { promoteToInputs } from '../src/onnx/params-as-inputs.js';
import { lowerToNchwc, NCHWC_DOMAIN, usesNchwcOps } from '../src/runtime/nchwc.js';
import { compile, configureRuntime, nchwcBlockSize } from '../src/runtime/session.js';
import { type HostTensor, tensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';
import { withLoss } from '../src/train/losses.js';
import { cli } from './helpers/cli.js';

const rng = new Rng(13);
const randn = (dims: number[], scale = 1) =>
  tensor(
    'float32',
    dims,
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
  );
const dir = mkdtempSync(join(tmpdir(), 'scalpel-nchwc-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function maxRelDiff(a: HostTensor, b: HostTensor): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = (a.data[i] as number) - (b.data[i] as number);
    num += d * d;
    den += (b.data[i] as number) ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

const count = (m: Model, op: string, domain = '') => m.graph.nodes.filter((n) => n.opType === op && n.domain === domain).length;

/** x → Conv(3→C1)+Relu → Conv(C1→C1) + skip → Relu → MaxPool → Conv(C1→C2, stride 2) → GlobalAveragePool. */
function blockNet(C1: number, C2: number) {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 3, 10, 10]);
  const w1 = b.input('w1', 'float32', [C1, 3, 3, 3]);
  const b1 = b.input('b1', 'float32', [C1]);
  const w2 = b.input('w2', 'float32', [C1, C1, 3, 3]);
  const w3 = b.input('w3', 'float32', [C2, C1, 3, 3]);
  const h1 = b.op('Relu', [b.op('Conv', [x, w1, b1], { pads: [1, 1, 1, 1] })]);
  const h2 = b.op('Relu', [b.op('Add', [b.op('Conv', [h1, w2], { pads: [1, 1, 1, 1] }), h1])]);
  const p = b.op('MaxPool', [h2], { kernel_shape: [2, 2], strides: [2, 2] });
  const h3 = b.op('Conv', [p, w3], { pads: [1, 1, 1, 1], strides: [2, 2] });
  b.output(b.op('GlobalAveragePool', [h3], {}, 'pooled'));
  const feeds = {
    x: randn([2, 3, 10, 10]),
    w1: randn([C1, 3, 3, 3], 0.3),
    b1: randn([C1], 0.1),
    w2: randn([C1, C1, 3, 3], 0.1),
    w3: randn([C2, C1, 3, 3], 0.1),
  };
  return { model: makeModel(b.graph, 17), feeds };
}

test('the block size is measured once: a power of two the NCHWc kernels use', async () => {
  const B = await nchwcBlockSize();
  assert.ok([4, 8, 16, 32].includes(B), `block size ${B} (0: this onnxruntime has no NCHWc kernels)`);
  assert.equal(await nchwcBlockSize(), B);
});

test('a Conv chain with a residual add runs blocked from end to end, fused, with the standard graph’s outputs', async () => {
  const B = await nchwcBlockSize();
  // Channel counts that need padding to the block and ones that do not.
  for (const [C1, C2] of [
    [2 * B - 4, 12],
    [B, 2 * B],
  ]) {
    const { model, feeds } = blockNet(C1, C2);
    const before = encodeModel(model);
    const low = lowerToNchwc(model, B);
    assert.deepEqual(encodeModel(model), before, 'the input model is not changed');
    const m = low.model;
    assert.equal(low.convs, 3);
    assert.equal(count(m, 'Conv'), 0, 'no standard Conv left');
    assert.equal(count(m, 'Conv', NCHWC_DOMAIN), 3);
    assert.equal(count(m, 'Relu'), 0, 'both Relus fused into the Convs');
    assert.equal(count(m, 'Add'), 0, 'the residual add is the second Conv’s Sum input');
    const convs = m.graph.nodes.filter((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv');
    assert.equal(convs[1].inputs.length, 4, 'Sum input');
    assert.equal(count(m, 'MaxPool', NCHWC_DOMAIN), 1);
    assert.equal(count(m, 'GlobalAveragePool', NCHWC_DOMAIN), 1);
    // The first Conv reads the 3-channel NCHW input as it is; only the graph output is reordered back.
    assert.equal(count(m, 'ReorderInput', NCHWC_DOMAIN), 0);
    assert.equal(count(m, 'ReorderOutput', NCHWC_DOMAIN), 1);
    const want = (await (await compile(model, { portable: true })).run(feeds)).pooled;
    const got = (await (await compile(model, { portable: false })).run(feeds)).pooled;
    assert.deepEqual(got.dims, [2, C2, 1, 1]);
    assert.ok(maxRelDiff(got, want) < 1e-5, `relative difference ${maxRelDiff(got, want)}`);
  }
});

test('Conv geometries: strides, dilations, pads, auto_pad, with and without bias, either input path', async () => {
  const B = await nchwcBlockSize();
  const cases = [
    { C: 3, M: 5, k: 3, attrs: { pads: [1, 0, 2, 1], strides: [2, 1] } },
    { C: 3, M: B + 2, k: 5, attrs: { dilations: [2, 2], pads: [4, 3, 4, 3] }, bias: true },
    { C: B + 4, M: 7, k: 3, attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
    { C: B + 4, M: 2 * B, k: 3, attrs: { strides: [2, 2], pads: [1, 1, 1, 1] }, bias: true },
    { C: B, M: 6, k: 3, attrs: { dilations: [1, 2], pads: [0, 2, 0, 2] } },
    { C: 2 * B, M: B, k: 2, attrs: { auto_pad: 'VALID', strides: [1, 2] } },
  ];
  for (const c of cases) {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [3, c.C, 9, 11]);
    const w = b.input('w', 'float32', [c.M, c.C, c.k, c.k]);
    const ins = c.bias ? [x, w, b.input('b', 'float32', [c.M])] : [x, w];
    b.output(b.op('Conv', ins, c.attrs, 'y'));
    const model = makeModel(b.graph, 17);
    assert.equal(lowerToNchwc(model, B).convs, 1, JSON.stringify(c));
    const feeds: Record<string, HostTensor> = { x: randn([3, c.C, 9, 11]), w: randn([c.M, c.C, c.k, c.k], 0.3) };
    if (c.bias) feeds.b = randn([c.M]);
    const want = (await (await compile(model, { portable: true })).run(feeds)).y;
    const got = (await (await compile(model, { portable: false })).run(feeds)).y;
    assert.deepEqual(got.dims, want.dims);
    assert.ok(maxRelDiff(got, want) < 1e-5, `${JSON.stringify(c)}: relative difference ${maxRelDiff(got, want)}`);
  }
});

test('values with mostly padding channels go back to NCHW unless told otherwise (minFill)', async () => {
  const B = await nchwcBlockSize();
  const { model, feeds } = blockNet(B / 2 - 2, 4);
  const want = (await (await compile(model, { portable: true })).run(feeds)).pooled;
  for (const [minFill, pools] of [
    [0, 2],
    [1, 0],
  ]) {
    const low = lowerToNchwc(model, B, { minFill });
    assert.equal(low.convs, 3);
    assert.equal(count(low.model, 'MaxPool', NCHWC_DOMAIN) + count(low.model, 'GlobalAveragePool', NCHWC_DOMAIN), pools, `minFill ${minFill}`);
    const got = (await (await compile(low.model)).run(feeds)).pooled;
    assert.ok(maxRelDiff(got, want) < 1e-5, `minFill ${minFill}: relative difference ${maxRelDiff(got, want)}`);
  }
});

test('values read in the standard layout get one ReorderOutput; a Relu with other readers is neither fused nor moved', async () => {
  const B = await nchwcBlockSize();
  const b = new GraphBuilder();
  const C = B + 4; // at least the block: the input is reordered (the kernel reads fewer channels as they are)
  const x = b.input('x', 'float32', [2, C, 6, 6]);
  const w = b.input('w', 'float32', [B, C, 3, 3]);
  const y = b.op('Conv', [x, w], { pads: [1, 1, 1, 1] }, 'y');
  const r = b.op('Relu', [y], {}, 'r');
  b.output(b.op('Mul', [y, r], {}, 'yr'));
  b.output(r);
  const model = makeModel(b.graph, 17);
  const low = lowerToNchwc(model, B);
  assert.equal(low.convs, 1);
  assert.equal(count(low.model, 'ReorderInput', NCHWC_DOMAIN), 1, 'the input is reordered in');
  assert.equal(count(low.model, 'Relu'), 1, 'the Relu is not fused');
  // y is reordered back for the Mul anyway, so the Relu runs on that rather than blocked plus a second reorder.
  assert.equal(count(low.model, 'ReorderOutput', NCHWC_DOMAIN), 1, 'y for the Mul and the Relu');
  const feeds = { x: randn([2, C, 6, 6]), w: randn([B, C, 3, 3], 0.2) };
  const want = await (await compile(model, { portable: true })).run(feeds);
  const got = await (await compile(model, { portable: false })).run(feeds);
  for (const k of ['yr', 'r']) assert.ok(maxRelDiff(got[k], want[k]) < 1e-5, k);
});

test('an inference-mode BatchNormalization after a fed Conv folds into its filter and bias (ResNet fixture forward)', async () => {
  const B = await nchwcBlockSize();
  const model = readModel(new URL('./fixtures/torch/resnet.onnx', import.meta.url).pathname);
  const ref = await readSafetensors(new URL('./fixtures/torch/resnet.safetensors', import.meta.url).pathname);
  const promoted = promoteToInputs(
    model,
    floatInitializers(model.graph).map((i) => i.name),
  );
  const low = lowerToNchwc(promoted.model, B);
  const bns = count(promoted.model, 'BatchNormalization');
  assert.ok(bns >= 6);
  assert.ok(low.convs >= bns - 1, `Convs lowered: ${low.convs}`);
  // Each lowered Conv took its BatchNormalization along; a Conv left standard (a 1×1 on an NCHW input) keeps its own.
  assert.equal(count(low.model, 'BatchNormalization'), count(low.model, 'Conv'), 'BatchNormalizations folded');
  const feeds = { ...Object.fromEntries(promoted.values), x: ref.get('x')! };
  const want = (await (await compile(model, { portable: true })).run({ x: ref.get('x')! })).logits;
  const got = (await (await compile(promoted.model, { portable: false })).run(feeds)).logits;
  assert.ok(maxRelDiff(got, want) < 1e-5, `relative difference ${maxRelDiff(got, want)}`);
});

test('Convs with baked filters, grouped Convs and graphs without Convs are left to onnxruntime', async () => {
  const B = await nchwcBlockSize();
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1, 16, 5, 5]);
  const baked = b.param('w', randn([16, 16, 3, 3]));
  const grouped = b.input('wg', 'float32', [16, 4, 3, 3]);
  b.output(b.op('Conv', [b.op('Conv', [x, baked]), grouped], { group: 4 }));
  const low = lowerToNchwc(makeModel(b.graph, 17), B);
  assert.equal(low.convs, 0);
  assert.ok(!usesNchwcOps(low.model));
  const mlp = buildModel('mlp', { seed: 0 });
  assert.equal(lowerToNchwc(mlp, B).model, mlp);
});

/** The engine's fwd+bwd graph of a PyTorch fixture: loss, parameters fed, gradients w.r.t. torch's parameters. */
async function fixtureGradients(name: string, portable: boolean) {
  const file = (ext: string) => new URL(`./fixtures/torch/${name}.${ext}`, import.meta.url).pathname;
  const model = readModel(file('onnx'));
  const ref = await readSafetensors(file('safetensors'));
  const params = [...ref.keys()].filter((k) => k.startsWith('grad:')).map((k) => k.slice(5));
  const lossed = withLoss(model, { kind: 'cross-entropy' });
  const promoted = promoteToInputs(
    lossed.model,
    floatInitializers(lossed.model.graph).map((i) => i.name),
  );
  const diff = differentiate(promoted.model, { of: lossed.loss, wrt: params });
  const exe = await compile(diff.model, { portable, threads: 1 });
  const out = await exe.run({ ...Object.fromEntries(promoted.values), x: ref.get('x')!, y: ref.get('y')! }, [...diff.gradients.values()]);
  let worst = 0;
  for (const [p, o] of diff.gradients) worst = Math.max(worst, maxRelDiff(out[o], ref.get(`grad:${p}`)!));
  return { worst, lowered: lowerToNchwc(diff.model, await nchwcBlockSize()), out, gradients: diff.gradients };
}

for (const name of ['lenet', 'resnet']) {
  test(`${name} fixture: forward+backward on NCHWc matches PyTorch's gradients as the standard graph does`, async () => {
    const fast = await fixtureGradients(name, false);
    const std = await fixtureGradients(name, true);
    assert.ok(fast.lowered.convs >= 2, `Convs lowered: ${fast.lowered.convs}`);
    assert.ok(fast.worst < 1e-6, `NCHWc: worst relative error ${fast.worst}`);
    assert.ok(std.worst < 1e-6, `standard: worst relative error ${std.worst}`);
    for (const o of fast.gradients.values()) assert.ok(maxRelDiff(fast.out[o], std.out[o]) < 1e-6, o);
  });
}

test('no contrib op reaches a saved model: `scalpel train` on the fast path and with --portable', async () => {
  for (const flags of [[], ['--portable']]) {
    const out = join(dir, `lenet${flags.length}.onnx`);
    const r = await cli(['--threads', '1', ...flags, 'train', '--model', 'lenet5', '--epochs', '1', '--seed', '1', '-o', out, '--json']);
    configureRuntime({ portable: false });
    assert.equal(r.code, 0, r.stderr);
    const saved = readModel(out);
    assert.ok(!usesNchwcOps(saved), 'saved model uses com.microsoft.nchwc');
    assert.ok(saved.graph.nodes.some((n) => n.opType === 'Conv' && n.domain === ''));
  }
});
