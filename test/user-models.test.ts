// Issue 12: the models real users bring (PyTorch exports with a fixed batch, opsets 11-12, [0, 1] pixels) and their data.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeNpy, writeNpz } from '../src/data/npy.js';
import { writeSafetensors } from '../src/data/safetensors.js';
import { freeBatchDim } from '../src/onnx/batch-dim.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { openModel } from '../src/onnx/load-model.js';
import { upgradeOpset } from '../src/onnx/opset-upgrade.js';
import { compile } from '../src/runtime/session.js';
import { cli } from './helpers/cli.js';

const FIX = 'test/fixtures/user';
type Logits = { x: number[]; shape: number[]; logits: number[] };
const ref = JSON.parse(readFileSync(`${FIX}/user.json`, 'utf8')) as {
  pixels01: { correct: number; testExamples: number; loss: number };
  'ops-opset11': Logits;
  'layernorm-opset11': Logits;
};
const tmp = mkdtempSync(join(tmpdir(), 'scalpel-user-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface EvalJson {
  examples: number;
  accuracy: number;
  loss: number;
  normalization: { mean: number; std: number; source: string };
}
async function evalJson(args: string[]): Promise<{ r: EvalJson; stderr: string }> {
  const out = await cli(['--threads', '1', 'eval', ...args, '--json']);
  assert.equal(out.code, 0, out.stderr);
  return { r: JSON.parse(out.stdout) as EvalJson, stderr: out.stderr };
}

test('a fixed-batch PyTorch export (batch 32) gets a symbolic batch and evaluates at any --batch, matching PyTorch', async () => {
  const b = freeBatchDim(readModel(`${FIX}/pixels01-static.onnx`));
  assert.equal(b.freed, true);
  assert.equal(b.declaredBatch, 32);
  const { r, stderr } = await evalJson([`${FIX}/pixels01-static.onnx`, '--batch', '100', '--normalize', 'none']);
  assert.equal(r.examples, ref.pixels01.testExamples);
  assert.equal(Math.round(r.accuracy * r.examples), ref.pixels01.correct);
  assert.ok(Math.abs(r.loss - ref.pixels01.loss) < 1e-4, `loss ${r.loss} vs torch ${ref.pixels01.loss}`);
  assert.match(stderr, /fixes the batch size at 32; scalpel made it symbolic/);
});

test("a Reshape to a literal batch (x.reshape(32, -1)) is freed by copying the input's batch dim", async () => {
  const b = freeBatchDim(readModel(`${FIX}/reshape-static.onnx`));
  assert.equal(b.freed, true);
  assert.equal(b.reshapes?.length, 1);
  const { r, stderr } = await evalJson([`${FIX}/reshape-static.onnx`, '--batch', '7', '--normalize', 'none']);
  assert.equal(Math.round(r.accuracy * r.examples), ref.pixels01.correct);
  assert.match(stderr, /made it symbolic \('batch'\) \(and the literal batch of 1 Reshape 0/);
});

test('a graph that hard-codes its batch runs at that batch with the last batch padded, padding never counted', async () => {
  const b = freeBatchDim(readModel(`${FIX}/merged-static.onnx`));
  assert.equal(b.freed, false);
  assert.match(b.reason!, /output 'logits' gets \[32, 10\]/);
  const { r, stderr } = await evalJson([`${FIX}/merged-static.onnx`, '--batch', '256', '--normalize', 'none']);
  assert.equal(r.examples, 1000); // 31 batches of 32 and one of 8 padded to 32
  assert.equal(Math.round(r.accuracy * r.examples), ref.pixels01.correct);
  assert.ok(Math.abs(r.loss - ref.pixels01.loss) < 1e-4);
  assert.match(stderr, /padding the last one/);
});

test('such a model trains at its own batch size (and validates with padding); probe and harden run it too', async () => {
  const out = join(tmp, 'merged-trained.onnx');
  const t = await cli([
    '--threads',
    '1',
    'train',
    '--from',
    `${FIX}/merged-static.onnx`,
    '--epochs',
    '1',
    '--batch',
    '50',
    '--normalize',
    'none',
    '--lr',
    '0.01',
    '-o',
    out,
    '--json',
  ]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /training uses batches of 32/);
  const res = JSON.parse(t.stdout) as {
    steps: number;
    trainExamples: number;
    history: { validationAccuracy?: number }[];
    test: { examples: number; accuracy: number };
  };
  assert.equal(res.steps, Math.floor(res.trainExamples / 32)); // batches of 32, not of 50
  assert.ok(res.history[0].validationAccuracy! > 0.5);
  assert.equal(res.test.examples, 1000);
  // probe: evaluations padded (the baseline is PyTorch's accuracy), the gradient over whole batches of 32.
  const p = await cli([
    '--threads',
    '1',
    'probe',
    `${FIX}/merged-static.onnx`,
    '--eps',
    '0.01',
    '--n',
    '10',
    '--norm',
    'inf',
    '--trials',
    '2',
    '--normalize',
    'none',
    '--json',
  ]);
  assert.equal(p.code, 0, p.stderr);
  const report = JSON.parse(p.stdout) as { examples: number; baseline: { accuracy: number; loss: number }; settings: { gradient: { examples: number } } };
  assert.equal(report.examples, 1000);
  assert.equal(Math.round(report.baseline.accuracy * report.examples), ref.pixels01.correct);
  assert.ok(Math.abs(report.baseline.loss - ref.pixels01.loss) < 1e-4);
  assert.equal(report.settings.gradient.examples, 992);
  const h = await cli([
    '--threads',
    '1',
    'harden',
    `${FIX}/merged-static.onnx`,
    '--eps',
    '0.05',
    '--epochs',
    '1',
    '--normalize',
    'none',
    '--sweep-eps2',
    '0.1',
    '--sweep-eps-inf',
    '0.01',
    '-o',
    join(tmp, 'merged-hard.onnx'),
    '--json',
  ]);
  assert.equal(h.code, 0, h.stderr);
  assert.equal((JSON.parse(h.stdout) as { comparison: { rows: unknown[] } }).comparison.rows.length, 2);
});

test('--normalize: none reproduces PyTorch on a [0, 1]-pixel model; without it one warning line and the choice in --json', async () => {
  const assumed = await evalJson([`${FIX}/pixels01-dynamic.onnx`]);
  assert.equal(assumed.r.normalization.source, 'assumed');
  assert.equal(assumed.r.normalization.mean, 0.286);
  const warnings = assumed.stderr.split('\n').filter((l) => l.startsWith('scalpel: warning:'));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /records no input normalisation; assuming Fashion-MNIST's .* --normalize none/);
  assert.notEqual(Math.round(assumed.r.accuracy * 1000), ref.pixels01.correct);
  const none = await evalJson([`${FIX}/pixels01-dynamic.onnx`, '--normalize', 'none']);
  assert.deepEqual(none.r.normalization, { mean: 0, std: 1, source: 'flag' });
  assert.equal(Math.round(none.r.accuracy * 1000), ref.pixels01.correct);
  assert.doesNotMatch(none.stderr, /warning/);
  // The shipped model records its normalisation: no warning, source 'model'.
  const shipped = await evalJson(['models/lenet5-fashion.onnx']);
  assert.equal(shipped.r.normalization.source, 'model');
  assert.doesNotMatch(shipped.stderr, /warning/);
});

test('--normalize rejects bad values as usage errors (exit 2)', async () => {
  for (const bad of ['0.5', '0.5,0', 'a,b', '0.1/0.2,0.3/0.4/0.5', '']) {
    const r = await cli(['eval', 'models/lenet5-fashion.onnx', '--normalize', bad]);
    assert.equal(r.code, 2, bad);
    assert.match(r.stderr, /^scalpel: error: .*--normalize/);
  }
});

test("an MNIST-layout directory that is not Fashion-MNIST gets digit class names, not Fashion-MNIST's", async () => {
  const { loadImageDataset } = await import('../src/data/fashion-mnist.js');
  const dir = join(tmp, 'mnist');
  const { cpSync } = await import('node:fs');
  cpSync('data/fashion-mnist-subset', dir, { recursive: true });
  assert.deepEqual(loadImageDataset(dir, 'test').classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.equal(loadImageDataset(undefined, 'test').classes[0], 'T-shirt/top');
});

for (const name of ['ops-opset11', 'layernorm-opset11'] as const) {
  test(`opset 11 (${name}) is converted to 13 on load and reproduces PyTorch's logits`, async () => {
    const r = ref[name];
    const loaded = openModel(`${FIX}/${name}.onnx`);
    assert.equal(loaded.upgrade?.from, 11);
    const exe = await compile(loaded.model, { threads: 1 });
    const out = await exe.run({ x: { dtype: 'float32', dims: r.shape, data: Float32Array.from(r.x) } });
    const got = out.logits.data as Float32Array;
    assert.equal(got.length, r.logits.length);
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - r.logits[i]) < 1e-5, `logit ${i}: ${got[i]} vs ${r.logits[i]}`);
  });
}

test('the opset-11 conversion turns every axes/split attribute into an input, and inspect reports the checked conversion', async () => {
  const up = upgradeOpset(readModel(`${FIX}/ops-opset11.onnx`))!;
  for (const n of up.model.graph.nodes) {
    if (['Squeeze', 'Unsqueeze', 'ReduceSum', 'Split'].includes(n.opType)) {
      assert.ok(!n.attributes.some((a) => a.name === 'axes' || a.name === 'split'), `${n.opType} still has an attribute`);
      assert.equal(n.inputs.length, 2);
    }
  }
  const r = await cli(['inspect', `${FIX}/ops-opset11.onnx`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { differentiable: boolean; conversion: { from: number; to: number; ok: boolean; maxError: number } };
  assert.equal(rep.conversion.from, 11);
  assert.equal(rep.conversion.ok, true);
  assert.ok(rep.conversion.maxError < 1e-5);
  assert.equal(rep.differentiable, true);
});

test('grad works on an opset-11 export (the converted graph differentiates)', async () => {
  const r = ref['ops-opset11'];
  const data = join(tmp, 'ops.safetensors');
  await writeSafetensors(data, {
    x: { dtype: 'float32', dims: r.shape, data: Float32Array.from(r.x) },
    y: { dtype: 'int64', dims: [r.shape[0]], data: BigInt64Array.of(1n, 2n, 3n) },
  });
  const out = await cli(['--threads', '1', 'grad', `${FIX}/ops-opset11.onnx`, '--data', data, '--out', join(tmp, 'g.safetensors')]);
  assert.equal(out.code, 0, out.stderr);
});

test('opsets below 11: a clear error naming the opset and the fix', async () => {
  const m = readModel(`${FIX}/ops-opset11.onnx`);
  m.opsetImports = [{ domain: '', version: 10 }];
  const path = join(tmp, 'opset10.onnx');
  writeModel(m, path);
  const r = await cli(['inspect', path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^scalpel: error: .*opset10\.onnx imports ONNX opset 10; scalpel reads opsets 11 and later\. Re-export it at opset 13/);
});

test('inspect notes BatchNorm folded by an eval-mode PyTorch export', async () => {
  const r = await cli(['inspect', `${FIX}/pixels01-static.onnx`]);
  assert.match(r.stdout, /BatchNorm appears folded into 1 convolution.*TrainingMode\.PRESERVE/);
  const kept = await cli(['inspect', 'test/fixtures/torch/resnet.onnx']);
  assert.doesNotMatch(kept.stdout, /folded/);
});

test('NaN or infinite data: one clear error naming the tensor and the first index', async () => {
  const x = new Float32Array(4 * 784);
  x[3 * 784 + 5] = NaN;
  const data = join(tmp, 'nan.safetensors');
  await writeSafetensors(data, { x: { dtype: 'float32', dims: [4, 1, 28, 28], data: x }, y: { dtype: 'int64', dims: [4], data: new BigInt64Array(4) } });
  for (const args of [
    ['grad', 'test/fixtures/torch/mlp.onnx', '--data', data, '--out', join(tmp, 'g2.safetensors')],
    ['eval', 'models/lenet5-fashion.onnx', '--data', data],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 1, args[0]);
    assert.match(r.stderr, /^scalpel: error: .*nan\.safetensors: tensor 'x' holds NaN at index \[3, 0, 0, 5\]/);
  }
});

test('.npz data is read everywhere a tensor file is; a .npy file is refused by name', async () => {
  const st = await import('../src/data/safetensors.js');
  const batch = await st.readSafetensors('test/fixtures/torch/mlp.safetensors');
  const npz = join(tmp, 'batch.npz');
  await writeNpz(npz, { x: batch.get('x')!, y: batch.get('y')! });
  const ok = await cli(['--threads', '1', 'grad', 'test/fixtures/torch/mlp.onnx', '--data', npz, '--out', join(tmp, 'g3.safetensors')]);
  assert.equal(ok.code, 0, ok.stderr);
  const npy = join(tmp, 'x.npy');
  await writeNpy(npy, batch.get('x')!);
  const r = await cli(['grad', 'test/fixtures/torch/mlp.onnx', '--data', npy, '--out', join(tmp, 'g4.safetensors')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /x\.npy: a \.npy file holds one unnamed array.*\.npz/);
});

test('uint8 images in a data file are scaled to [0, 1] and normalised like the model expects', async () => {
  const { loadImageDataset } = await import('../src/data/fashion-mnist.js');
  const { readIdx } = await import('../src/data/idx.js');
  const { findIdxFile } = await import('../src/data/fashion-mnist.js');
  const raw = readIdx(findIdxFile('data/fashion-mnist-subset', 'test', 'images'));
  const n = raw.dims[0];
  const ds = loadImageDataset(undefined, 'test');
  const npz = join(tmp, 'u8.npz');
  await writeNpz(npz, { x: { dtype: 'uint8', dims: [n, 1, 28, 28], data: raw.data }, y: ds.y });
  const a = await evalJson(['models/lenet5-fashion.onnx', '--data', npz]);
  const b = await evalJson(['models/lenet5-fashion.onnx']);
  assert.equal(a.r.accuracy, b.r.accuracy);
  assert.ok(Math.abs(a.r.loss - b.r.loss) < 1e-5);
});

test('usage errors exit 2 everywhere: probe --eps -1, help for a command that does not exist; demo takes --json', async () => {
  const probe = await cli(['probe', 'models/lenet5-fashion.onnx', '--eps', '-1']);
  assert.equal(probe.code, 2);
  assert.match(probe.stderr, /^scalpel: error: option '--eps <list>' argument '-1' is invalid/);
  const help = await cli(['help', 'nosuch']);
  assert.equal(help.code, 2);
  assert.match(help.stderr, /^scalpel: error: there is no command or help topic 'nosuch'; the commands are demo, inspect/);
  assert.equal(help.stdout, '');
  const demo = await cli(['help', 'demo']);
  assert.match(demo.stdout, /--json/);
});

test('opset 11 Softmax/LogSoftmax on a middle axis (2-D coercion) converts to Flatten, op, Reshape, confirmed by onnxruntime', async () => {
  const { GraphBuilder, makeModel } = await import('../src/onnx/builder.js');
  const { verifyUpgrade } = await import('../src/tasks/verify-upgrade.js');
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['batch', 3, 4]);
  const s = b.op('Softmax', [x], { axis: 1 });
  const l = b.op('LogSoftmax', [x], { axis: -2 });
  const sq = b.op('Squeeze', [b.op('ReduceSum', [b.op('Add', [s, l])], { axes: [2], keepdims: 1 })], { axes: [2] });
  b.graph.outputs.push({ name: sq });
  const model = makeModel(b.graph, 11);
  const up = upgradeOpset(model)!;
  assert.deepEqual(up.changes.sort(), [
    'LogSoftmax ×1: 2-D coercion at axis 1 → Flatten, LogSoftmax, Reshape',
    'ReduceSum ×1: axes attribute → input',
    'Softmax ×1: 2-D coercion at axis 1 → Flatten, Softmax, Reshape',
    'Squeeze ×1: axes attribute → input',
  ]);
  const check = await verifyUpgrade(model, up.model);
  assert.equal(check.ok, true, check.reason);
  // Without the explicit coercion (a plain axis-1 Softmax at opset 13) the outputs differ, and the check says so.
  const naive = upgradeOpset(model)!.model;
  naive.graph.nodes = naive.graph.nodes.filter((n) => n.opType !== 'Flatten' && n.opType !== 'Shape' && n.opType !== 'Reshape');
  for (const n of naive.graph.nodes)
    if (n.opType === 'Softmax' || n.opType === 'LogSoftmax') {
      n.inputs = [x];
      n.outputs = [n.opType === 'Softmax' ? s : l];
    }
  const bad = await verifyUpgrade(model, naive);
  assert.equal(bad.ok, false);
  assert.match(bad.reason!, /outputs differ by up to/);
});

test('LayerNorm parameters are kind layer-norm at opsets 11 and 13 (decomposed) as at 17 (LayerNormalization)', async () => {
  const { describeParams } = await import('../src/params/describe.js');
  for (const f of [`${FIX}/layernorm-opset11.onnx`, `${FIX}/layernorm-opset13.onnx`]) {
    const kinds = Object.fromEntries(describeParams(readModel(f)).map((p) => [p.name, p.kind]));
    assert.deepEqual(
      kinds,
      { 'fc.weight': 'fc', 'fc.bias': 'bias', 'ln.weight': 'layer-norm', 'ln.bias': 'layer-norm', 'out.weight': 'fc', 'out.bias': 'bias' },
      f,
    );
  }
});

test('bad trigger specs are usage errors in eval and train (exit 2)', async () => {
  for (const args of [
    ['eval', 'models/lenet5-fashion.onnx', '--trigger', 'nonsense'],
    ['train', '--model', 'lenet5', '--poison', 'x', '-o', join(tmp, 'p.onnx')],
  ]) {
    const r = await cli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^scalpel: error: option '--(trigger|poison) <[a-z]+>' argument '[a-z]+' is invalid\. bad trigger/);
  }
});

/** An opset-11 model whose If branches hold `op` (with `attrs`) reading `x` [1, 3, 4]. */
async function ifModel(op: string, attrs: Record<string, number[] | number>): Promise<import('../src/onnx/ir.js').Model> {
  const { GraphBuilder, makeModel } = await import('../src/onnx/builder.js');
  const { makeAttribute } = await import('../src/onnx/attributes.js');
  const b = new GraphBuilder();
  b.input('x', 'float32', [1, 3, 4]);
  const cond = b.param('cond', { dtype: 'bool', dims: [], data: Uint8Array.of(1) });
  const branch = (name: string) => ({
    name,
    node: [{ opType: op, input: ['x'], output: [`${name}_y`], attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)) }],
    output: [{ name: `${name}_y`, type: { tensorType: { elemType: 1 } } }],
  });
  const y = b.op('If', [cond], { then_branch: branch('then') as never, else_branch: branch('else') as never });
  b.graph.outputs.push({ name: y });
  return makeModel(b.graph, 11);
}

test('opset 11 subgraphs: attribute → input moves inside If branches are confirmed; a Softmax whose meaning changed is caught and inspect says so', async () => {
  const { verifyUpgrade } = await import('../src/tasks/verify-upgrade.js');
  const sq = await ifModel('Squeeze', { axes: [0] });
  const up = upgradeOpset(sq)!;
  assert.deepEqual(up.changes, ['Squeeze in a subgraph ×2: axes attribute → input']);
  assert.equal((await verifyUpgrade(sq, up.model)).ok, true);

  const sm = await ifModel('Softmax', { axis: 1 });
  const path = join(tmp, 'if-softmax11.onnx');
  writeModel(sm, path);
  const r = await cli(['inspect', path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^Differentiable: no, the conversion from opset 11 to 13 was not confirmed by onnxruntime \(outputs differ by up to [\d.e+-]+ \(relative\)\)\.$/m,
  );
  const e = await cli(['eval', path]);
  assert.equal(e.code, 1);
  assert.match(
    e.stderr,
    /^scalpel: error: .*if-softmax11\.onnx: the conversion from opset 11 to 13 does not reproduce onnxruntime's outputs on the original \(outputs differ/,
  );
});

test('gradients of the converted opset-11 models match central finite differences', async () => {
  const { gradcheck } = await import('../src/autodiff/gradcheck.js');
  for (const name of ['ops-opset11', 'layernorm-opset11'] as const) {
    const r = ref[name];
    const { model } = openModel(`${FIX}/${name}.onnx`);
    const wrt = [...model.graph.initializers.values()].filter((i) => i.tensor?.dtype === 'float32').map((i) => i.name);
    const res = await gradcheck(model, { of: 'logits', wrt, feeds: { x: { dtype: 'float32', dims: r.shape, data: Float32Array.from(r.x) } }, seed: 3 });
    assert.equal(res.length, wrt.length);
    for (const g of res) assert.ok(g.relError < 2e-3, `${name} ${g.name}: analytic ${g.analytic}, numeric ${g.numeric}`);
  }
});
