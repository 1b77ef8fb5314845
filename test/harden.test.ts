// harden: the corruption-resistant objectives' step gradients, end-to-end robustness against a plain baseline, bad input.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, type CliResult } from './helpers/cli.js';
import { hardenObjective, resolveHardenMethod } from '../src/corruption/harden.js';
import { takeRows, type Dataset } from '../src/data/batches.js';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { buildModel } from '../src/models/index.js';
import { float } from '../src/onnx/attributes.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import type { Model } from '../src/onnx/ir.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';
import { train, withParams, type Objective } from '../src/train/trainer.js';

type Result = CliResult;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-harden-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const trainData = loadImageDataset(undefined, 'train');
function subset(n: number): Dataset {
  const rows = Array.from({ length: n }, (_, i) => i);
  return { x: takeRows(trainData.x, rows), y: takeRows(trainData.y, rows) };
}

interface Net {
  model: Model;
  trainModel?: Model;
}

/** One full-batch step from `params` (default the model's): the objective's value, and its gradient recovered from an SGD step. */
async function oneStep(net: Net, data: Dataset, objective: Objective, params?: Map<string, HostTensor>, lr = 0) {
  const model = params ? withParams(net.model, params) : net.model;
  const trainModel = net.trainModel && params ? withParams(net.trainModel, params) : net.trainModel;
  let value = NaN;
  const res = await train(model, data, {
    trainModel,
    objective,
    epochs: 1,
    batchSize: data.x.dims[0],
    lr,
    seed: 0,
    optimizer: { name: 'sgd', momentum: 0, weightDecay: 0 },
    schedule: { name: 'constant' },
    onStep: (s) => (value = s.objective ?? s.loss),
  });
  return { value, params: res.params };
}

/** The step gradient: w0 − w1 = lr·g for plain SGD (a large lr keeps rounding small). */
async function stepGradient(net: Net, data: Dataset, objective: Objective, names: string[], params?: Map<string, HostTensor>) {
  const lr = 1000;
  const start = params ?? new Map(names.map((n) => [n, net.model.graph.initializers.get(n)!.tensor!]));
  const { params: after } = await oneStep(net, data, objective, params, lr);
  return new Map(
    names.map((n) => {
      const w0 = start.get(n)!.data as Float32Array;
      const w1 = after.get(n)!.data as Float32Array;
      return [n, Float64Array.from(w0, (w, i) => (w - w1[i]) / lr)];
    }),
  );
}

const trainableOf = (m: Model) =>
  [...m.graph.initializers.values()].filter((i) => i.tensor?.dtype === 'float32' && !/running_(mean|var)/.test(i.name)).map((i) => i.name);

function shifted(m: Model, names: string[], dir: Map<string, Float64Array>, h: number): Map<string, HostTensor> {
  return new Map(
    names.map((n) => {
      const t = m.graph.initializers.get(n)!.tensor!;
      const w = t.data as Float32Array;
      const d = dir.get(n)!;
      return [n, { dtype: 'float32', dims: t.dims, data: Float32Array.from(w, (x, i) => x + h * d[i]) }];
    }),
  );
}

function randomDirection(m: Model, names: string[], seed: number): Map<string, Float64Array> {
  const rng = new Rng(seed);
  const dir = new Map(
    names.map((n) => [n, Float64Array.from(m.graph.initializers.get(n)!.tensor!.data as Float32Array, () => rng.nextUint32() / 2 ** 31 - 1)]),
  );
  let ss = 0;
  for (const d of dir.values()) for (const x of d) ss += x * x;
  for (const d of dir.values()) for (let i = 0; i < d.length; i++) d[i] /= Math.sqrt(ss);
  return dir;
}

const dot = (a: Map<string, Float64Array>, b: Map<string, Float64Array>) => [...a].reduce((s, [n, x]) => s + x.reduce((t, v, i) => t + v * b.get(n)![i], 0), 0);

/**
 * A small smooth classifier for finite differences (the gradient of a ReLU or max-pool network jumps wherever an
 * activation flips, so its norm has no useful finite differences): Conv (stride 3) → BatchNorm in training mode →
 * Tanh → AveragePool → Gemm → Sigmoid → Gemm.
 */
function smoothNet(seed: number): Model {
  const rng = new Rng(seed);
  const b = new GraphBuilder();
  const param = (name: string, dims: number[], scale: number, shift = 0) =>
    b.param(name, {
      dtype: 'float32',
      dims,
      data: Float32Array.from({ length: dims.reduce((a, c) => a * c, 1) }, () => shift + scale * (rng.uniform() * 2 - 1)),
    });
  const x = b.input('x', 'float32', ['batch', 1, 28, 28]);
  let h = b.op('Conv', [x, param('conv.weight', [4, 1, 4, 4], 0.3), param('conv.bias', [4], 0.1)], { kernel_shape: [4, 4], strides: [3, 3] });
  const bn = b.graph.nodes.length;
  h = b.op(
    'BatchNormalization',
    [h, param('bn.weight', [4], 0.2, 1), param('bn.bias', [4], 0.1), param('bn.running_mean', [4], 0), param('bn.running_var', [4], 0, 1)],
    { epsilon: float(1e-5), momentum: float(0.9), training_mode: 1 },
  );
  b.graph.nodes[bn].outputs.push('bn.running_mean:new', 'bn.running_var:new');
  h = b.op('AveragePool', [b.op('Tanh', [h])], { kernel_shape: [3, 3], strides: [3, 3] });
  h = b.op('Sigmoid', [b.op('Gemm', [b.op('Flatten', [h], { axis: 1 }), param('fc1.weight', [12, 36], 0.3), param('fc1.bias', [12], 0.1)], { transB: 1 })]);
  b.op('Gemm', [h, param('fc2.weight', [10, 12], 0.5), param('fc2.bias', [10], 0.1)], { transB: 1 }, 'logits');
  b.output('logits', 'float32', ['batch', 10]);
  b.output('bn.running_mean:new', 'float32', [4]);
  b.output('bn.running_var:new', 'float32', [4]);
  return makeModel(b.graph, 17);
}

// The penalised loss L + λ||∇L||_q is differentiated twice; its step gradient must match central differences of
// its value (float32 graphs: the best of a few steps, tolerance 5e-3).
const GRAD_NORM_CASES: { name: string; q: number; lambda: number }[] = [
  { name: 'q = 2', q: 2, lambda: 1 },
  { name: 'q = 1', q: 1, lambda: 0.2 },
  { name: 'q = 3', q: 3, lambda: 1 },
  { name: 'q = ∞', q: Infinity, lambda: 5 },
];
for (const c of GRAD_NORM_CASES) {
  test(`grad-norm objective: step gradient matches finite differences (conv, training-mode batch norm, fc; ${c.name})`, async (t) => {
    const net = { model: smoothNet(5) };
    const data = subset(16);
    const names = trainableOf(net.model);
    const objective: Objective = { kind: 'grad-norm', lambda: c.lambda, q: c.q };
    const g = await stepGradient(net, data, objective, names);
    // Along a random direction the derivative drowns in float32 rounding; lean it towards the gradient.
    const v = randomDirection(net.model, names, 7);
    const gn = Math.sqrt(dot(g, g));
    for (const [n, d] of v) d.forEach((x, i) => (d[i] = 0.5 * x + g.get(n)![i] / gn));
    const analytic = dot(g, v);
    let best = Infinity;
    let bestFd = NaN;
    for (const h of [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]) {
      const fp = (await oneStep(net, data, objective, shifted(net.model, names, v, h))).value;
      const fm = (await oneStep(net, data, objective, shifted(net.model, names, v, -h))).value;
      const fd = (fp - fm) / (2 * h);
      const e = Math.abs(fd - analytic) / Math.max(Math.abs(fd), Math.abs(analytic), 1e-3);
      if (e < best) [best, bestFd] = [e, fd];
    }
    // The penalty must matter, or the check would pass for the plain loss gradient too.
    const plain = dot(await stepGradient(net, data, { kind: 'plain' }, names), v);
    t.diagnostic(
      `directional derivative ${analytic.toPrecision(6)} vs finite differences ${bestFd.toPrecision(6)} (rel ${best.toExponential(2)}); plain loss ${plain.toPrecision(6)}`,
    );
    assert.ok(best < 5e-3, `directional derivative ${analytic} vs finite differences ${bestFd}`);
    assert.ok(Math.abs(plain - analytic) > 10 * best * Math.abs(analytic), `the penalty barely changes the gradient (${plain} vs ${analytic})`);
  });
}

test('L* objective: the step gradient is (1−α)∇L(w) + α∇L(w + a) with a held fixed', async () => {
  const net = { model: buildModel('lenet5', { seed: 4 }) };
  const data = subset(32);
  const names = trainableOf(net.model);
  const rng = new Rng(3);
  const delta = new Map(
    names.map((n) => [n, Float32Array.from(net.model.graph.initializers.get(n)!.tensor!.data as Float32Array, () => 0.05 * (rng.nextUint32() / 2 ** 31 - 1))]),
  );
  const alpha = 0.3;
  let calls = 0;
  const objective: Objective = { kind: 'perturbed', alpha, perturb: () => (calls++, delta) };
  const got = await stepGradient(net, data, objective, names);
  assert.equal(calls, 1);
  const atW = await stepGradient(net, data, { kind: 'plain' }, names);
  const moved = new Map(
    names.map((n) => {
      const t = net.model.graph.initializers.get(n)!.tensor!;
      return [n, { ...t, data: Float32Array.from(t.data as Float32Array, (x, i) => x + delta.get(n)![i]) } as HostTensor];
    }),
  );
  const atWa = await stepGradient(net, data, { kind: 'plain' }, names, moved);
  let worst = 0;
  for (const n of names) {
    const [a, b, g] = [atW.get(n)!, atWa.get(n)!, got.get(n)!];
    const scale = Math.max(...a.map(Math.abs), ...b.map(Math.abs));
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - ((1 - alpha) * a[i] + alpha * b[i])) / scale);
  }
  assert.ok(worst < 1e-4, `step gradient differs from the mixture by ${worst} (relative)`);
  // The perturbed pass changes the objective's value: L* ≠ L at w.
  const { value } = await oneStep(net, data, objective);
  const { value: clean } = await oneStep(net, data, { kind: 'plain' });
  assert.ok(Math.abs(value - clean) > 1e-4, `L* ${value} vs L ${clean}`);
  // BatchNorm running statistics come from the clean pass.
  const bnNet = { model: smoothNet(6) };
  const bnDelta = new Map(trainableOf(bnNet.model).map((n) => [n, new Float32Array(bnNet.model.graph.initializers.get(n)!.tensor!.data.length).fill(0.05)]));
  const lstar = await oneStep(bnNet, data, { kind: 'perturbed', alpha: 0.5, perturb: () => bnDelta });
  const plainStep = await oneStep(bnNet, data, { kind: 'plain' });
  const values = (t: HostTensor) => Array.from(t.data as Float32Array);
  for (const n of ['bn.running_mean', 'bn.running_var']) {
    assert.deepStrictEqual(values(lstar.params.get(n)!), values(plainStep.params.get(n)!), n);
    assert.notDeepStrictEqual(values(lstar.params.get(n)!), values(bnNet.model.graph.initializers.get(n)!.tensor!), `${n} not updated`);
  }
});

test('the corruption objective perturbs by the worst-case corruption of the batch gradient', async () => {
  const model = buildModel('mlp', { seed: 1 });
  const obj = hardenObjective(model, { kind: 'corruption', eps: 0.5, p: 2 });
  assert.equal(obj.kind, 'perturbed');
  if (obj.kind !== 'perturbed') return;
  assert.equal(obj.alpha, 0.5);
  const names = trainableOf(model);
  const grads = new Map(
    names.map((n, k) => {
      const t = model.graph.initializers.get(n)!.tensor!;
      return [n, { ...t, data: Float32Array.from(t.data as Float32Array, (_, i) => Math.sin(i + k)) } as HostTensor];
    }),
  );
  const a = obj.perturb(grads);
  let norm = 0;
  let align = 0;
  let gnorm = 0;
  for (const n of names) {
    const d = a.get(n)!;
    const g = grads.get(n)!.data as Float32Array;
    for (let i = 0; i < d.length; i++) [norm, align, gnorm] = [norm + d[i] * d[i], align + d[i] * g[i], gnorm + g[i] * g[i]];
  }
  assert.ok(Math.abs(Math.sqrt(norm) - 0.5) < 1e-5, `||a||₂ = ${Math.sqrt(norm)}`);
  assert.ok(Math.abs(align - 0.5 * Math.sqrt(gnorm)) < 1e-4 * align, `aᵀg = ${align}, ε||g||₂ = ${0.5 * Math.sqrt(gnorm)}`);
  // p = ∞ over the top 10 entries: ±ε there, zero elsewhere.
  const sparse = hardenObjective(model, { kind: 'corruption', eps: 0.01, p: Infinity, n: 10 });
  if (sparse.kind !== 'perturbed') return;
  const s = [...sparse.perturb(grads).values()].flatMap((d) => [...d].filter((x) => x !== 0));
  assert.equal(s.length, 10);
  assert.ok(s.every((x) => Math.abs(Math.abs(x) - 0.01) < 1e-9));
});

test('bad hardening settings fail with one clear message before any work', () => {
  const bad: [Parameters<typeof resolveHardenMethod>[0], RegExp][] = [
    [{ kind: 'corruption', eps: 0.1, alpha: 1.5 }, /α must be in \[0, 1\], got 1\.5/],
    [{ kind: 'corruption', eps: 0.1, alpha: -0.1 }, /α must be in \[0, 1\]/],
    [{ kind: 'corruption', eps: 0 }, /ε must be a finite number > 0, got 0/],
    [{ kind: 'corruption', eps: -1 }, /ε must be/],
    [{ kind: 'corruption', eps: NaN }, /ε must be/],
    [{ kind: 'corruption', eps: 0.1, p: 0.5 }, /norm p must be ≥ 1/],
    [{ kind: 'corruption', eps: 0.1, n: 0 }, /n '0' is not a count/],
    [{ kind: 'corruption', eps: 0.1, n: 1000 }, /more than the 100 selected parameters/],
    [{ kind: 'grad-norm', lambda: -1 }, /λ must be a finite number ≥ 0, got -1/],
    [{ kind: 'grad-norm', lambda: 0.1, q: 0.5 }, /gradient norm q must be ≥ 1/],
  ];
  for (const [m, re] of bad) assert.throws(() => resolveHardenMethod(m, 100), re, JSON.stringify(m));
  assert.deepStrictEqual(resolveHardenMethod({ kind: 'corruption', eps: 0.1 }, 100), { kind: 'corruption', alpha: 0.5, eps: 0.1, p: 2, n: 100 });
  assert.deepStrictEqual(resolveHardenMethod({ kind: 'grad-norm', lambda: 0.1, q: Infinity }, 100), { kind: 'grad-norm', lambda: 0.1, q: Infinity });
});

test('a checkpoint records the objective: resuming with another ε is refused', async () => {
  const d = join(dir, 'ckpt');
  mkdirSync(d);
  const ckpt = join(d, 'run.ckpt');
  const model = buildModel('mlp', { seed: 1 });
  const data = subset(256);
  const opts = { epochs: 1, batchSize: 32, seed: 1, checkpoint: ckpt };
  const part = await train(model, data, { ...opts, objective: hardenObjective(model, { kind: 'corruption', eps: 0.1 }), maxSteps: 3 });
  assert.equal(part.completed, false);
  assert.ok(existsSync(ckpt));
  await assert.rejects(train(model, data, { ...opts, resume: ckpt, objective: hardenObjective(model, { kind: 'corruption', eps: 0.2 }) }), /other settings/);
  await assert.rejects(train(model, data, { ...opts, resume: ckpt }), /other settings/);
  const resumed = await train(model, data, { ...opts, resume: ckpt, objective: hardenObjective(model, { kind: 'corruption', eps: 0.1 }) });
  assert.equal(resumed.completed, true);
});

interface Row {
  norm: number | 'inf';
  eps: number;
  baseline: { accuracy: number; loss: number };
  hardened: { accuracy: number; loss: number };
  gain: number;
}
interface Report {
  method: {
    kind: string;
    alpha?: number;
    eps?: number;
    p?: number | 'inf';
    n?: number;
    lambda?: number;
    q?: number | 'inf';
    k: number;
    params: string;
    description: string;
  };
  test: { accuracy: number };
  comparison: { baselineName: string; examples: number; clean: { baseline: { accuracy: number }; hardened: { accuracy: number }; gain: number }; rows: Row[] };
}

// Table 2 of the paper in kind, on LeNet-5 and the embedded subset: the same seed and epochs for a plainly trained
// baseline and a hardened model (L*, defaults α = 0.5, p = 2, n = k). Measured with these settings: clean accuracy
// 78.5% vs 76.7%; under p = 2 corruption of all parameters at ε = 0.5, 62.9% vs 73.0%, and at ε = 1 the loss 4.6 vs 1.2.
test('a hardened LeNet-5 is clearly more accurate under gradient corruption than a plainly trained one, and about as accurate clean', async (t) => {
  const d = join(dir, 'table2');
  mkdirSync(d);
  const base = join(d, 'base.onnx');
  const hard = join(d, 'hard.onnx');
  const settings = ['--epochs', '4', '--seed', '1'];
  const b = await cli(['train', '--model', 'lenet5', ...settings, '-o', base, '--json']);
  assert.equal(b.code, 0, b.stderr);
  const r = await cli([
    'harden',
    '--model',
    'lenet5',
    ...settings,
    '--eps',
    '0.2',
    '--baseline',
    base,
    '--sweep-eps2',
    '0.5,1',
    '--sweep-eps-inf',
    '0.005,0.01',
    '-o',
    hard,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.deepStrictEqual(rep.method, {
    kind: 'corruption',
    alpha: 0.5,
    eps: 0.2,
    p: 2,
    n: 61706,
    k: 61706,
    params: 'all',
    description: rep.method.description,
  });
  const c = rep.comparison;
  assert.equal(c.baselineName, base);
  assert.equal(c.examples, 1000);
  assert.equal(c.clean.baseline.accuracy, JSON.parse(b.stdout).test.accuracy, 'the sweep sees the baseline as train measured it');
  assert.equal(c.clean.hardened.accuracy, rep.test.accuracy);
  const at = (norm: number | 'inf', eps: number) => c.rows.find((x) => x.norm === norm && x.eps === eps)!;
  const table = c.rows
    .map((x) => `p=${x.norm} ε=${x.eps}: ${x.baseline.accuracy} → ${x.hardened.accuracy} (loss ${x.baseline.loss.toFixed(3)} → ${x.hardened.loss.toFixed(3)})`)
    .join('; ');
  t.diagnostic(`clean ${c.clean.baseline.accuracy} → ${c.clean.hardened.accuracy}; ${table}`);
  // The corruption hurts the baseline a lot where we compare…
  assert.ok(at(2, 0.5).baseline.accuracy < c.clean.baseline.accuracy - 0.1, table);
  // …the hardened model keeps clearly more of its accuracy there, and on average over the sweep…
  assert.ok(at(2, 0.5).gain > 0.05, table);
  const meanGain = c.rows.reduce((a, x) => a + x.gain, 0) / c.rows.length;
  assert.ok(meanGain > 0.03, `mean gain ${meanGain}; ${table}`);
  // …its loss under corruption is far lower…
  assert.ok(at(2, 1).hardened.loss < 0.5 * at(2, 1).baseline.loss, table);
  assert.ok(at('inf', 0.01).hardened.loss < 0.75 * at('inf', 0.01).baseline.loss, table);
  // …and it costs little clean accuracy.
  assert.ok(c.clean.gain > -0.04, `clean accuracy ${c.clean.baseline.accuracy} → ${c.clean.hardened.accuracy}`);

  // Control: α = 0 is plain training, step for step, so the comparison is between like and like.
  const zero = join(d, 'alpha0.onnx');
  const z = await cli(['harden', '--model', 'lenet5', ...settings, '--eps', '0.2', '--alpha', '0', '--no-sweep', '-o', zero, '--json']);
  assert.equal(z.code, 0, z.stderr);
  assert.equal(JSON.parse(z.stdout).test.accuracy, c.clean.baseline.accuracy);
});

test('fine-tuning with the gradient-norm form compares the input model with the output, and records the settings', async () => {
  const d = join(dir, 'finetune');
  mkdirSync(d);
  const base = join(dir, 'table2', 'base.onnx');
  const out = join(d, 'tuned.onnx');
  const r = await cli([
    'harden',
    base,
    '--lambda',
    '0.05',
    '--q',
    'inf',
    '--epochs',
    '1',
    '--lr',
    '0.01',
    '--sweep-eps2',
    '0.5',
    '--sweep-eps-inf',
    '0.005',
    '-o',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as Report;
  assert.equal(rep.method.kind, 'grad-norm');
  assert.equal(rep.method.q, 'inf');
  assert.equal(rep.comparison.baselineName, base);
  assert.deepStrictEqual(
    rep.comparison.rows.map((x) => [x.norm, x.eps]),
    [
      [2, 0.5],
      ['inf', 0.005],
    ],
  );
  assert.ok(rep.comparison.clean.hardened.accuracy > 0.7, `accuracy after fine-tuning ${rep.comparison.clean.hardened.accuracy}`);
  const { getMetadata } = await import('../src/onnx/metadata.js');
  const { readModel } = await import('../src/onnx/model-io.js');
  const meta = JSON.parse(getMetadata(readModel(out), 'scalpel.harden')!);
  assert.deepStrictEqual(meta, { method: { kind: 'grad-norm', lambda: 0.05, q: 'inf' }, params: 'all' });
  // The text report shows both models.
  const t = await cli([
    'harden',
    base,
    '--lambda',
    '0.05',
    '--epochs',
    '1',
    '--lr',
    '0.01',
    '--sweep-eps2',
    '0.5',
    '--sweep-eps-inf',
    '0.005',
    '-o',
    join(d, 'tuned2.onnx'),
  ]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /L\(w\) \+ λ·\|\|∇L\(w\)\|\|_q with λ = 0\.05, q = 2/);
  assert.match(t.stdout, /p = 2 +0\.5000 +\d+\.\d+% +\d+\.\d+% +[+−]\d+\.\d+/);
  assert.match(t.stdout, /mean accuracy gain under corruption/);
});

test('bad harden flags: one clear error before any work, nothing written', async () => {
  const d = join(dir, 'bad');
  mkdirSync(d);
  const out = join(d, 'm.onnx');
  const cases: [string[], number, RegExp][] = [
    [['--alpha', '1.5', '--eps', '0.1'], 2, /--alpha.*expected a number in \[0, 1\], got '1\.5'/],
    [['--eps', '0'], 2, /--eps.*expected a number > 0, got '0'/],
    [['--eps', '-1'], 2, /expected a number > 0/],
    [['--eps', '0.1', '--p', '0.5'], 2, /--p.*expected a norm p ≥ 1 such as inf, 2 or 1, got '0\.5'/],
    [['--lambda', '-1'], 2, /--lambda.*expected a number in \[0, Infinity\], got '-1'/],
    [['--lambda', '0.1', '--q', '0'], 2, /expected a norm p ≥ 1/],
    [[], 2, /give exactly one of --eps .* or --lambda/],
    [['--eps', '0.1', '--lambda', '0.1'], 2, /give exactly one of --eps/],
    [['--lambda', '0.1', '--alpha', '0.3'], 2, /--alpha, --p and --n belong to the L\* form/],
    [['--eps', '0.1', '--q', '2'], 2, /--q belongs to the gradient-norm form/],
    [['--eps', '0.1', '--n', '0'], 2, /--n.*count '0' is not a count/],
    [['--eps', '0.1', '--n', '100000000'], 1, /n 100000000 is more than the 61706 selected parameters/],
    [['--eps', '0.1', '--params', 'kind:embedding'], 1, /selector 'kind:embedding' matches no parameter/],
    [['--eps', '0.1', '--sweep-eps2', '0.5,-1'], 2, /--sweep-eps2.*expected a number > 0, got '-1'/],
    [['--eps', '0.1', '--sweep-n', '2%x'], 2, /--sweep-n.*count '2%x' is not a count/],
  ];
  for (const [flags, code, re] of cases) {
    const r = await cli(['harden', '--model', 'lenet5', ...flags, '-o', out]);
    assert.equal(r.code, code, `${flags.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re, flags.join(' '));
    assert.doesNotMatch(r.stderr, /internal error/);
    assert.ok(!existsSync(out));
  }
  const r = await cli(['harden', '--eps', '0.1', '-o', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /give exactly one of MODEL\.onnx .* or --model NAME/);
});
