// Gradient rules of elementwise, activation and softmax ops, against central finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import { float } from '../src/onnx/attributes.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { caseName, checkRule, type Domain, type InputSpec, type RuleCase } from './helpers/rule-check.js';
import { checkSecondOrder } from './helpers/second-order.js';

const s = (shape: number[], domain?: Domain): InputSpec => ({ shape, domain });
const absent: InputSpec = { shape: [], absent: true };
const vals = (shape: number[], values: number[]): InputSpec => ({ shape, domain: { values } });
const bool = (shape: number[], ints: number[]): InputSpec => ({ shape, dtype: 'bool', domain: { ints } });

/** Binary broadcasting ops: equal shapes, trailing vector, both sides broadcast, scalar against matrix. */
function binary(op: string, a: Domain = 'any', b: Domain = 'any', extra: Partial<RuleCase> = {}): RuleCase[] {
  const pairs: [number[], number[]][] = [
    [
      [2, 3],
      [2, 3],
    ],
    [[2, 3], [3]],
    [
      [2, 1, 4],
      [3, 1],
    ],
    [[], [2, 3]],
    [[2, 3], []],
  ];
  return pairs.map(([x, y]) => ({ op, inputs: [s(x, a), s(y, b)], ...extra }));
}

/** Unary ops on a matrix, and on a rank-3 tensor. */
function unary(op: string, d: Domain = 'any', extra: Partial<RuleCase> = {}): RuleCase[] {
  return [
    { op, inputs: [s([2, 3], d)], ...extra },
    { op, inputs: [s([2, 1, 3], d)], ...extra },
  ];
}

// Values straddling the kinks of HardSigmoid (±2.5) and HardSwish (±3), kept away from them.
const STRADDLE = [-4, -2.9, -1.2, 0.3, 2.1, 3.7];

const CASES: RuleCase[] = [
  ...binary('Mul'),
  ...binary('Div', 'any', 'nonzero'),
  ...unary('Neg'),
  ...unary('Abs', 'nonzero'),
  ...unary('Sqrt', 'positive'),
  ...unary('Reciprocal', 'positive'),
  { op: 'Reciprocal', inputs: [s([2, 3], 'nonzero')] },
  ...binary('Pow', 'positive', 'any'),
  { op: 'Pow', inputs: [s([2, 3], 'nonzero'), { shape: [], dtype: 'int64', domain: { ints: [3] } }], name: 'Pow int64 exponent' },
  { op: 'Pow', inputs: [s([2, 3], 'nonzero'), s([], { values: [2] })], wrt: [0], name: 'Pow negative base, exponent 2' },
  { op: 'Pow', inputs: [s([2, 3], 'positive'), s([3], { values: [0.5, -1, 3] })], wrt: [0], name: 'Pow base only' },
  ...unary('Exp'),
  ...unary('Log', 'positive'),
  ...unary('Erf', 'any', { float32: true }),
  ...unary('Sin'),
  ...unary('Cos'),
  ...unary('Relu', 'nonzero'),
  ...unary('LeakyRelu', 'nonzero'),
  { op: 'LeakyRelu', inputs: [s([2, 3], 'nonzero')], attrs: { alpha: float(0.2) } },
  { op: 'LeakyRelu', inputs: [s([2, 3], 'nonzero')], attrs: { alpha: float(2) } },
  ...unary('Elu', 'nonzero', { float32: true }),
  { op: 'Elu', inputs: [s([2, 3], 'nonzero')], attrs: { alpha: float(0.5) }, float32: true },
  ...unary('Selu', 'nonzero', { float32: true }),
  { op: 'Selu', inputs: [s([2, 3], 'nonzero')], attrs: { alpha: float(1.5), gamma: float(2) }, float32: true },
  ...unary('Sigmoid'),
  ...unary('Tanh'),
  ...unary('Softplus', 'any', { float32: true }),
  ...unary('Softsign', 'nonzero', { float32: true }),
  { op: 'HardSigmoid', inputs: [vals([2, 3], STRADDLE)], float32: true },
  { op: 'HardSigmoid', inputs: [vals([2, 3], STRADDLE)], attrs: { alpha: float(0.5), beta: float(0.25) }, float32: true },
  { op: 'HardSwish', inputs: [vals([2, 3], STRADDLE)], float32: true },
  { op: 'Gelu', inputs: [s([2, 3])], opset: 20, float32: true },
  { op: 'Gelu', inputs: [s([2, 3])], attrs: { approximate: 'tanh' }, opset: 20, float32: true },
  { op: 'Clip', inputs: [s([2, 3])], name: 'Clip no bounds' },
  { op: 'Clip', inputs: [s([2, 3]), vals([], [-0.3])], name: 'Clip min' },
  { op: 'Clip', inputs: [s([2, 3]), absent, vals([], [0.4])], name: 'Clip max' },
  { op: 'Clip', inputs: [s([2, 3]), vals([], [-0.3]), vals([], [0.4])], name: 'Clip min max' },
  { op: 'Clip', inputs: [s([2, 3]), vals([], [-0.3]), vals([], [0.4])], opset: 13, name: 'Clip min max opset 13' },
  { op: 'Clip', inputs: [s([2, 3]), vals([], [0.4]), vals([], [-0.3])], name: 'Clip min > max' },
  ...binary('Max'),
  ...binary('Min'),
  { op: 'Max', inputs: [s([2, 3]), s([3]), s([2, 1])], name: 'Max of three' },
  { op: 'Min', inputs: [s([2, 3]), s([3]), s([2, 1])], name: 'Min of three' },
  { op: 'Max', inputs: [s([2, 3])], name: 'Max of one' },
  { op: 'Where', inputs: [bool([2, 3], [1, 0, 1, 0, 0, 1]), s([2, 3]), s([2, 3])] },
  { op: 'Where', inputs: [bool([3], [1, 0, 1]), s([2, 1]), s([])] },
  { op: 'Where', inputs: [bool([2, 1], [0, 1]), s([3]), s([2, 3])] },
  ...binary('Sum'),
  { op: 'Sum', inputs: [s([2, 3]), s([3]), s([]), s([2, 1])], name: 'Sum of four' },
  { op: 'Sum', inputs: [s([2, 3])], name: 'Sum of one' },
  ...binary('Mean', 'any', 'any', { float32: true }),
  { op: 'Mean', inputs: [s([2, 3]), s([3]), s([2, 1])], float32: true, name: 'Mean of three' },
  // Mod on floats takes fmod=1: C's fmod, with the sign of A; A/B stays away from integers in these draws.
  ...binary('Mod', 'any', 'nonzero', { attrs: { fmod: 1 } }),
  {
    op: 'Mod',
    inputs: [vals([2, 3], [5.3, -5.3, 2.9, -0.4, 7.7, -3.1]), vals([3], [2, 1.5, -0.7])],
    attrs: { fmod: 1 },
    opset: 13,
    name: 'Mod fmod=1, mixed signs, opset 13',
  },
  { op: 'Identity', inputs: [s([2, 3])] },
  { op: 'Cast', inputs: [s([2, 3])], attrs: { to: 11 }, name: 'Cast double to double' },
  { op: 'CastLike', inputs: [s([2, 3]), s([])], wrt: [0], opset: 15 },
  { op: 'Dropout', inputs: [s([2, 3])], name: 'Dropout (inference)' },
  { op: 'Dropout', inputs: [s([2, 3]), vals([], [0.3]), bool([], [0])], outputs: 2, wrt: [0], name: 'Dropout training_mode=false' },
  { op: 'PRelu', inputs: [s([2, 3], 'nonzero'), s([3])] },
  { op: 'PRelu', inputs: [s([2, 3], 'nonzero'), s([2, 3])] },
  { op: 'PRelu', inputs: [s([2, 3, 4], 'nonzero'), s([3, 1])] },
  { op: 'PRelu', inputs: [s([2, 3], 'nonzero'), s([])] },
  ...[13, 18].flatMap((opset) =>
    [
      ...[0, 1, -1].flatMap((axis): RuleCase[] => [
        { op: 'Softmax', inputs: [s([2, 3])], attrs: { axis } },
        { op: 'LogSoftmax', inputs: [s([2, 3])], attrs: { axis } },
      ]),
      { op: 'Softmax', inputs: [s([2, 3, 4])] },
      { op: 'Softmax', inputs: [s([2, 3, 4])], attrs: { axis: 1 } },
      { op: 'LogSoftmax', inputs: [s([2, 3, 4])] },
      { op: 'LogSoftmax', inputs: [s([2, 3, 4])], attrs: { axis: -2 } },
    ].map((c: RuleCase) => ({ ...c, opset, name: `${caseName(c)} opset ${opset}` })),
  ),
];

for (const c of CASES) test(caseName(c), () => checkRule(c));

// Gradients of gradients: each rule's backward graph must itself be differentiable.
const SECOND: RuleCase[] = [
  { op: 'Mul', inputs: [s([2, 3]), s([3])] },
  { op: 'Div', inputs: [s([2, 3]), s([3], 'nonzero')] },
  { op: 'Tanh', inputs: [s([2, 3])] },
  { op: 'Sigmoid', inputs: [s([2, 3])] },
  { op: 'Exp', inputs: [s([2, 3])] },
  { op: 'Log', inputs: [s([2, 3], 'positive')] },
  { op: 'Sqrt', inputs: [s([2, 3], 'positive')] },
  { op: 'Reciprocal', inputs: [s([2, 3], 'positive')] },
  { op: 'Pow', inputs: [s([2, 3], 'positive'), s([3])] },
  { op: 'Sin', inputs: [s([2, 3])] },
  { op: 'Cos', inputs: [s([2, 3])] },
  { op: 'Neg', inputs: [s([2, 3])] },
  { op: 'Abs', inputs: [s([2, 3], 'nonzero')] },
  { op: 'Softmax', inputs: [s([2, 3])], attrs: { axis: 0 } },
  { op: 'Softmax', inputs: [s([2, 3])], opset: 13 },
  { op: 'LogSoftmax', inputs: [s([2, 3])] },
  { op: 'LogSoftmax', inputs: [s([2, 3])], attrs: { axis: 0 }, opset: 13 },
  { op: 'Erf', inputs: [s([2, 3])], float32: true },
  { op: 'Gelu', inputs: [s([2, 3])], opset: 20, float32: true },
  { op: 'Gelu', inputs: [s([2, 3])], attrs: { approximate: 'tanh' }, opset: 20, float32: true },
  { op: 'Softplus', inputs: [s([2, 3])], float32: true },
  { op: 'Elu', inputs: [s([2, 3], 'nonzero')], float32: true },
  { op: 'LeakyRelu', inputs: [s([2, 3], 'nonzero')] },
  { op: 'Relu', inputs: [s([2, 3], 'nonzero')] },
  { op: 'Max', inputs: [s([2, 3]), s([3])] },
  { op: 'Clip', inputs: [s([2, 3]), vals([], [-0.3]), vals([], [0.4])] },
  { op: 'Where', inputs: [bool([3], [1, 0, 1]), s([2, 3]), s([2, 1])] },
  { op: 'Sum', inputs: [s([2, 3]), s([3])] },
  { op: 'PRelu', inputs: [s([2, 3], 'nonzero'), s([3])] },
  { op: 'Softsign', inputs: [s([2, 3], 'nonzero')], float32: true },
  { op: 'Mod', inputs: [vals([2, 3], [5.3, -5.3, 2.9, -0.4, 7.7, -3.1]), vals([3], [2, 1.5, -0.7])], attrs: { fmod: 1 } },
];

for (const c of SECOND) test(`second order: ${caseName(c)}`, () => checkSecondOrder(c));

// ------------------------------------------------------------------------------------- special cases

const f64 = (dims: number[], values: number[]): HostTensor => ({ dtype: 'float64', dims, data: Float64Array.from(values) });

test('Max and Min give a tie to the first argument only', async () => {
  for (const op of ['Max', 'Min']) {
    const b = new GraphBuilder();
    const x0 = b.input('x0', 'float64', [2, 3]);
    const x1 = b.input('x1', 'float64', [3]);
    const r = b.param('r', f64([2, 3], [1, 2, 3, 4, 5, 6]));
    b.output(b.op('ReduceSum', [b.op('Mul', [b.op(op, [x0, x1]), r])], { keepdims: 0 }), 'float64', []);
    const { model, gradients } = differentiate(makeModel(b.graph, 17), { wrt: ['x0', 'x1'] });
    const out = await (await compile(model)).run({ x0: f64([2, 3], [1, 0, 5, 1, 9, -9]), x1: f64([3], [1, 1, 1]) });
    // Ties at (0,0) and (1,0) go to x0; x1 wins where it is strictly the extreme.
    const x1Wins = op === 'Max' ? [0, 1, 0, 0, 0, 1] : [0, 0, 1, 0, 1, 0];
    assert.deepEqual(
      [...out[gradients.get('x0')!].data],
      [1, 2, 3, 4, 5, 6].map((v, i) => (x1Wins[i] ? 0 : v)),
    );
    assert.deepEqual(
      [...out[gradients.get('x1')!].data],
      [0, 1, 2].map((j) => [0, 1].reduce((acc, i) => acc + (x1Wins[i * 3 + j] ? i * 3 + j + 1 : 0), 0)),
    );
  }
});

test('Cast from float64 to float32 casts the gradient back', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', [2, 3]);
  const y = b.op('Cast', [x], { to: 1 });
  const r = b.param('r', { dtype: 'float32', dims: [2, 3], data: Float32Array.from([1, -2, 3, 0.5, 2, -1]) });
  const loss = b.op('Cast', [b.op('ReduceSum', [b.op('Mul', [b.op('Mul', [y, y]), r])], { keepdims: 0 })], { to: 11 });
  b.output(loss, 'float64', []);
  const res = await gradcheck(makeModel(b.graph, 17), { of: loss, wrt: ['x'], feeds: { x: f64([2, 3], [0.3, -1, 2, 0.7, -0.2, 1.1]) }, step: 1e-3 });
  assert.ok(res[0].relError < 1e-4, JSON.stringify(res[0]));
});

test('Cast to an integer type and CastLike to a float32 target', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', [2, 3]);
  const t = b.param('t', { dtype: 'float32', dims: [], data: Float32Array.from([0]) });
  const asInt = b.op('Cast', [b.op('Cast', [x], { to: 7 })], { to: 11 });
  const y = b.op('CastLike', [b.op('Mul', [x, x]), t]);
  const loss = b.op('Add', [b.op('ReduceSum', [asInt], { keepdims: 0 }), b.op('Cast', [b.op('ReduceSum', [y], { keepdims: 0 })], { to: 11 })]);
  b.output(loss, 'float64', []);
  const res = await gradcheck(makeModel(b.graph, 15), { of: loss, wrt: ['x'], feeds: { x: f64([2, 3], [0.3, -1.2, 2.6, 0.7, -0.2, 1.1]) }, step: 1e-2 });
  assert.ok(res[0].relError < 1e-4, JSON.stringify(res[0]));
});

test('Dropout in training mode scales the gradient by its mask / (1 - ratio)', async () => {
  const xv = f64(
    [4, 8],
    Array.from({ length: 32 }, (_, i) => 0.5 + i),
  );
  const rv = Array.from({ length: 32 }, (_, i) => (i % 5) - 2.5);
  for (const withMask of [false, true]) {
    for (const from of ['constant', 'input'] as const) {
      const b = new GraphBuilder();
      const x = b.input('x', 'float64', [4, 8]);
      // Constant ratio and training_mode are folded into the rule; inputs are handled at run time.
      const ratio = from === 'constant' ? b.constant(0.25, 'float64') : b.input('ratio', 'float64', []);
      const training = from === 'constant' ? b.constant({ dtype: 'bool', dims: [], data: Uint8Array.from([1]) }) : b.input('training', 'bool', []);
      const [y] = b.opN('Dropout', [x, ratio, training], withMask ? 2 : 1, { seed: 3 });
      const loss = b.op('ReduceSum', [b.op('Mul', [y, b.param('r', f64([4, 8], rv))])], { keepdims: 0 });
      b.output(loss, 'float64', []);
      b.output(y);
      const { model, gradients } = differentiate(makeModel(b.graph, 17), { of: loss, wrt: ['x'] });
      const exe = await compile(model);
      for (const on of from === 'constant' ? [1] : [1, 0]) {
        const feeds: Record<string, HostTensor> = { x: xv };
        if (from === 'input') Object.assign(feeds, { ratio: f64([], [0.25]), training: { dtype: 'bool', dims: [], data: Uint8Array.from([on]) } });
        const out = await exe.run(feeds);
        const yv = out[y].data;
        const dx = out[gradients.get('x')!].data;
        let dropped = 0;
        for (let i = 0; i < 32; i++) {
          // Y = X M / (1 - ratio), so dX = R M / (1 - ratio) = R Y / X.
          const want = (rv[i] * Number(yv[i])) / Number(xv.data[i]);
          assert.ok(Math.abs(Number(dx[i]) - want) < 1e-9, `mask=${withMask} ${from} training=${on} at ${i}: ${dx[i]} vs ${want}`);
          if (Number(yv[i]) === 0) dropped++;
        }
        if (on) assert.ok(dropped > 0 && dropped < 32, `training mode should drop some elements, dropped ${dropped}`);
        else assert.equal(dropped, 0);
      }
    }
  }
});

test('Softmax gradient with a symbolic batch dimension', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float64', ['batch', 3]);
  const w = b.param('w', f64([3], [0.5, -1, 2]));
  const y = b.op('LogSoftmax', [b.op('Mul', [b.op('Softmax', [x], { axis: 0 }), w])], { axis: -1 });
  const loss = b.op('ReduceSum', [b.op('Mul', [y, y])], { keepdims: 0 });
  b.output(loss, 'float64', []);
  const res = await gradcheck(makeModel(b.graph, 17), {
    of: loss,
    wrt: ['x', 'w'],
    feeds: {
      x: f64(
        [4, 3],
        Array.from({ length: 12 }, (_, i) => Math.sin(i)),
      ),
    },
  });
  for (const r of res) assert.ok(r.relError < 1e-6, JSON.stringify(r));
});

test('broadcasting rules with a symbolic batch dimension', async () => {
  const x = f64([4, 3], [0.3, -1.2, 2.6, 0.7, -0.2, 1.1, -0.9, 0.4, 1.7, -2.1, 0.8, 0.05]);
  const graphs: [string, (b: GraphBuilder, x: string, w: string) => string][] = [
    ['Div', (b, x, w) => b.op('Div', [x, w])],
    ['Pow', (b, x, w) => b.op('Pow', [b.op('Exp', [x]), w])],
    ['Max', (b, x, w) => b.op('Max', [x, w, b.op('Neg', [w])])],
    [
      'Pow constant exponents',
      (b, x, w) =>
        b.op(
          'Sum',
          [0, 1, 2, 3, -0.5].map((e) => b.op('Pow', [b.op('Add', [b.op('Exp', [x]), b.op('Mul', [w, w])]), b.constant(e, 'float64')])),
        ),
    ],
    ['Min', (b, x, w) => b.op('Min', [w, x])],
    ['Sum', (b, x, w) => b.op('Sum', [x, w, x])],
    ['Where', (b, x, w) => b.op('Where', [b.op('Greater', [x, b.constant(0, 'float64')]), w, x])],
    ['PRelu', (b, x, w) => b.op('PRelu', [x, w])],
    ['Clip', (b, x, w) => b.op('Clip', [x, b.op('ReduceSum', [w], { keepdims: 0 }), b.constant(1, 'float64')])],
    ['Softmax', (b, x, w) => b.op('Softmax', [b.op('Mul', [x, w])], { axis: 0 })],
  ];
  for (const [name, f] of graphs) {
    const b = new GraphBuilder();
    const xi = b.input('x', 'float64', ['batch', 3]);
    const w = b.input('w', 'float64', [3]);
    const y = f(b, xi, w);
    const loss = b.op('ReduceSum', [b.op('Mul', [y, y])], { keepdims: 0 });
    b.output(loss, 'float64', []);
    const feeds = { x, w: f64([3], [0.6, -1.3, 0.9]) };
    const res = await gradcheck(makeModel(b.graph, 17), { of: loss, wrt: ['x', 'w'], feeds });
    for (const r of res) assert.ok(r.relError < 1e-6, `${name}: ${JSON.stringify(r)}`);
  }
});
