// GRU/LSTM lowering: the unrolled graph matches onnxruntime's native kernels, and its gradients match finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import { lowerRecurrent } from '../src/autodiff/lower-recurrent.js';
import { type AttrValue, makeAttributes } from '../src/onnx/attributes.js';
import { type Dim, GraphBuilder, makeModel } from '../src/onnx/builder.js';
import type { Model } from '../src/onnx/ir.js';
import { compile } from '../src/runtime/session.js';
import { type DType, type HostTensor, sizeOf } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';

interface RnnCase {
  op: 'GRU' | 'LSTM';
  seq: number;
  batch: number;
  input: number;
  hidden: number;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  layout?: 0 | 1;
  linearBeforeReset?: 0 | 1;
  bias?: boolean;
  initialH?: boolean;
  initialC?: boolean;
  peepholes?: boolean;
  /** Feed a constant sequence_lens equal to the sequence length. */
  fullSeqLens?: boolean;
  activations?: string[];
  /** Which outputs to keep (default all). */
  outputs?: boolean[];
  opset?: number;
}

function caseName(c: RnnCase): string {
  const parts = [`${c.op} S${c.seq} B${c.batch} I${c.input} H${c.hidden}`, c.direction ?? 'forward', `layout ${c.layout ?? 0}`];
  if (c.op === 'GRU') parts.push(`lbr ${c.linearBeforeReset ?? 0}`);
  if (c.bias) parts.push('B');
  if (c.initialH) parts.push('h0');
  if (c.initialC) parts.push('c0');
  if (c.peepholes) parts.push('P');
  if (c.fullSeqLens) parts.push('seq_lens');
  if (c.activations) parts.push(c.activations.join('/'));
  if (c.outputs) parts.push(`outputs ${c.outputs.map(Number).join('')}`);
  return parts.join(', ');
}

function randn(dtype: DType, dims: number[], seed: number, scale = 0.5): HostTensor {
  const rng = createRng(seed);
  const n = sizeOf(dims);
  const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = scale * rng.normal();
  return { dtype, dims, data };
}

/**
 * A one-node GRU/LSTM model whose float inputs are graph inputs (batch symbolic), plus feeds. With `reference`,
 * a layout-1 case is built as onnxruntime's layout-0 kernel between Transposes (its CPU kernels reject layout 1).
 */
function buildRnn(c: RnnCase, dtype: DType = 'float32', reference = false): { model: Model; feeds: Record<string, HostTensor>; outputs: string[] } {
  const b = new GraphBuilder();
  const G = c.op === 'GRU' ? 3 : 4;
  const dirs = c.direction === 'bidirectional' ? 2 : 1;
  const { seq: S, batch: N, input: I, hidden: H } = c;
  const layout = c.layout ?? 0;
  const feeds: Record<string, HostTensor> = {};
  let seed = 1;
  const inp = (name: string, dims: number[], symbolic: Dim[] = dims) => {
    b.input(name, dtype, symbolic);
    feeds[name] = randn(dtype, dims, seed++);
    return name;
  };
  const xDims = layout === 0 ? [S, N, I] : [N, S, I];
  const hDims = layout === 0 ? [dirs, N, H] : [N, dirs, H];
  const sym = (dims: number[], axis: number): Dim[] => dims.map((d, i) => (i === axis ? 'batch' : d));
  const ins = [
    inp('X', xDims, sym(xDims, layout === 0 ? 1 : 0)),
    inp('W', [dirs, G * H, I]),
    inp('R', [dirs, G * H, H]),
    c.bias ? inp('B', [dirs, 2 * G * H]) : '',
    c.fullSeqLens ? b.param('seq_lens', { dtype: 'int32', dims: [N], data: new Int32Array(N).fill(S) }) : '',
    c.initialH ? inp('initial_h', hDims, sym(hDims, layout === 0 ? 1 : 0)) : '',
  ];
  if (c.op === 'LSTM') {
    ins.push(c.initialC ? inp('initial_c', hDims, sym(hDims, layout === 0 ? 1 : 0)) : '');
    ins.push(c.peepholes ? inp('P', [dirs, 3 * H]) : '');
  }
  while (ins[ins.length - 1] === '') ins.pop();
  const batchFirst = reference && layout === 1;
  const swap01 = (v: string) => (v && batchFirst ? b.op('Transpose', [v], { perm: [1, 0, 2] }) : v);
  for (const i of [0, 5, 6]) if (ins[i]) ins[i] = swap01(ins[i]);
  const attrs: Record<string, AttrValue | undefined> = {
    hidden_size: H,
    direction: c.direction,
    layout: batchFirst ? undefined : c.layout,
    linear_before_reset: c.linearBeforeReset,
    activations: c.activations,
  };
  const n = c.op === 'GRU' ? 2 : 3;
  const keep = c.outputs ?? Array(n).fill(true);
  const outNames = ['Y', 'Y_h', 'Y_c'].slice(0, n).map((o, i) => (keep[i] ? o : ''));
  const nodeOuts = outNames.map((o) => (o && batchFirst ? `${o}_layout0` : o));
  b.graph.nodes.push({ opType: c.op, domain: '', name: 'rnn', inputs: ins, outputs: nodeOuts, attributes: makeAttributes(attrs) });
  if (batchFirst) {
    nodeOuts.forEach((o, i) => {
      if (o)
        b.graph.nodes.push({
          opType: 'Transpose',
          domain: '',
          name: `${o}_t`,
          inputs: [o],
          outputs: [outNames[i]],
          attributes: makeAttributes({ perm: i === 0 ? [2, 0, 1, 3] : [1, 0, 2] }),
        });
    });
  }
  const outputs = outNames.filter(Boolean);
  for (const o of outputs) b.output(o);
  return { model: makeModel(b.graph, c.opset ?? 17), feeds, outputs };
}

function maxRelDiff(a: HostTensor, b: HostTensor): number {
  assert.deepEqual(a.dims, b.dims);
  let m = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = Number(a.data[i]);
    const y = Number(b.data[i]);
    m = Math.max(m, Math.abs(x - y) / Math.max(1, Math.abs(y)));
  }
  return m;
}

const CASES: RnnCase[] = [
  { op: 'GRU', seq: 3, batch: 2, input: 4, hidden: 5 },
  { op: 'GRU', seq: 3, batch: 2, input: 4, hidden: 5, bias: true, initialH: true },
  { op: 'GRU', seq: 3, batch: 2, input: 4, hidden: 5, bias: true, initialH: true, linearBeforeReset: 1 },
  { op: 'GRU', seq: 3, batch: 2, input: 4, hidden: 5, linearBeforeReset: 1 },
  { op: 'GRU', seq: 3, batch: 2, input: 4, hidden: 5, bias: true, linearBeforeReset: 1 },
  { op: 'GRU', seq: 4, batch: 2, input: 3, hidden: 4, direction: 'reverse', bias: true, initialH: true },
  { op: 'GRU', seq: 4, batch: 3, input: 3, hidden: 4, direction: 'bidirectional', bias: true, initialH: true, linearBeforeReset: 1 },
  { op: 'GRU', seq: 4, batch: 3, input: 3, hidden: 4, direction: 'bidirectional', layout: 1, bias: true, initialH: true },
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, layout: 1, linearBeforeReset: 1, fullSeqLens: true, bias: true },
  { op: 'GRU', seq: 1, batch: 2, input: 3, hidden: 4, initialH: true },
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, activations: ['Relu', 'Tanh'] },
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, outputs: [false, true] },
  { op: 'LSTM', seq: 3, batch: 2, input: 4, hidden: 5 },
  { op: 'LSTM', seq: 3, batch: 2, input: 4, hidden: 5, bias: true, initialH: true, initialC: true },
  { op: 'LSTM', seq: 3, batch: 2, input: 4, hidden: 5, bias: true, initialH: true, initialC: true, peepholes: true },
  { op: 'LSTM', seq: 3, batch: 2, input: 4, hidden: 5, bias: true, peepholes: true },
  { op: 'LSTM', seq: 4, batch: 2, input: 3, hidden: 4, direction: 'reverse', bias: true, initialH: true },
  { op: 'LSTM', seq: 4, batch: 3, input: 3, hidden: 4, direction: 'bidirectional', bias: true, initialH: true, initialC: true, peepholes: true },
  { op: 'LSTM', seq: 4, batch: 3, input: 3, hidden: 4, direction: 'bidirectional', layout: 1, bias: true, initialC: true },
  { op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, layout: 1, fullSeqLens: true, initialH: true },
  { op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, activations: ['Sigmoid', 'Relu', 'Tanh'] },
  { op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, outputs: [true, false, true], opset: 13 },
];

for (const c of CASES) {
  test(`lowered ${caseName(c)} equals onnxruntime's kernel`, async () => {
    const { model, feeds, outputs } = buildRnn(c);
    const lowered = lowerRecurrent(model);
    assert.ok(!lowered.graph.nodes.some((n) => n.opType === c.op), 'the recurrent node is gone');
    const want = await (await compile(buildRnn(c, 'float32', true).model)).run(feeds);
    const got = await (await compile(lowered)).run(feeds);
    for (const o of outputs) {
      const d = maxRelDiff(got[o], want[o]);
      assert.ok(d < 1e-5, `${o}: max difference ${d.toExponential(2)}`);
    }
  });
}

test('lowering works at another batch size than the one it was built with (symbolic batch)', async () => {
  const c: RnnCase = { op: 'LSTM', seq: 3, batch: 5, input: 3, hidden: 4, direction: 'bidirectional', bias: true, initialH: true, initialC: true };
  const { model, feeds, outputs } = buildRnn(c);
  const lowered = lowerRecurrent(model);
  const want = await (await compile(model)).run(feeds);
  const got = await (await compile(lowered)).run(feeds);
  for (const o of outputs) assert.ok(maxRelDiff(got[o], want[o]) < 1e-5, o);
});

/** loss = Σ_k sum(Y_k * R_k) over the kept outputs, appended to a one-node recurrent model. */
function withProjectionLoss(model: Model, outputs: string[], shapes: Record<string, number[]>, dtype: DType): Model {
  const b = new GraphBuilder(model.graph);
  const terms = outputs.map((o, k) => b.op('ReduceSum', [b.op('Mul', [o, b.param(`r${k}`, randn(dtype, shapes[o], 100 + k, 1))])], { keepdims: 0 }));
  const loss = terms.length === 1 ? terms[0] : terms.slice(1).reduce((a, t) => b.op('Add', [a, t]), terms[0]);
  model.graph.outputs = [];
  b.output(loss, dtype, []);
  return model;
}

const GRAD_CASES: RnnCase[] = [
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, initialH: true },
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, linearBeforeReset: 1 },
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, direction: 'bidirectional', layout: 1, bias: true, initialH: true, linearBeforeReset: 1 },
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, direction: 'reverse' },
  { op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, bias: true, initialH: true, initialC: true, peepholes: true },
  { op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, direction: 'bidirectional', bias: true, peepholes: true },
  { op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, layout: 1, direction: 'reverse', initialH: true, initialC: true, outputs: [false, true, true] },
  { op: 'LSTM', seq: 3, batch: 2, input: 3, hidden: 4, direction: 'bidirectional', bias: true, initialH: true, initialC: true },
  { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4, bias: true },
];

for (const c of GRAD_CASES) {
  for (const dtype of ['float64', 'float32'] as DType[]) {
    test(`gradient of lowered ${caseName(c)} (${dtype}) matches finite differences`, async () => {
      const probe = buildRnn(c, 'float32', true);
      const ys = await (await compile(probe.model)).run(probe.feeds);
      const shapes = Object.fromEntries(probe.outputs.map((o) => [o, ys[o].dims]));
      const { model, feeds } = buildRnn(c, dtype);
      const lossModel = withProjectionLoss(model, probe.outputs, shapes, dtype);
      const loss = lossModel.graph.outputs[0].name;
      const res = await gradcheck(lossModel, { of: loss, wrt: Object.keys(feeds), feeds, seed: 3, step: dtype === 'float64' ? 1e-6 : 1e-2 });
      const tol = dtype === 'float64' ? 1e-6 : 2e-2;
      for (const r of res) assert.ok(r.relError < tol, `d/d${r.name}: analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)})`);
    });
  }
}

test('second-order: the gradient of the lowered GRU is itself differentiable', async () => {
  const c: RnnCase = { op: 'GRU', seq: 2, batch: 2, input: 3, hidden: 3, bias: true, initialH: true, linearBeforeReset: 1 };
  const probe = buildRnn(c);
  const ys = await (await compile(probe.model)).run(probe.feeds);
  const { model, feeds } = buildRnn(c, 'float64');
  const lossModel = withProjectionLoss(model, probe.outputs, Object.fromEntries(probe.outputs.map((o) => [o, ys[o].dims])), 'float64');
  const loss = lossModel.graph.outputs[0].name;
  const { model: d1, gradients } = differentiate(lossModel, { of: loss, wrt: ['W', 'R'], keepOutputs: false });
  // loss2 = sum(dW * V): its gradient w.r.t. R is a Hessian-vector product.
  const b = new GraphBuilder(d1.graph);
  const gW = gradients.get('W')!;
  const v = b.param('V', randn('float64', feeds.W.dims, 77, 1));
  const loss2 = b.op('ReduceSum', [b.op('Mul', [gW, v])], { keepdims: 0 });
  d1.graph.outputs = [];
  b.output(loss2, 'float64', []);
  const res = await gradcheck(d1, { of: loss2, wrt: ['R', 'X'], feeds, seed: 5, step: 1e-5 });
  for (const r of res) assert.ok(r.relError < 1e-5, `d/d${r.name}: analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)})`);
});

test('second-order: the gradient of the lowered LSTM (one Sigmoid for all gates) is itself differentiable', async () => {
  const c: RnnCase = { op: 'LSTM', seq: 2, batch: 2, input: 3, hidden: 3, bias: true, initialH: true, initialC: true };
  const probe = buildRnn(c);
  const ys = await (await compile(probe.model)).run(probe.feeds);
  const { model, feeds } = buildRnn(c, 'float64');
  const lossModel = withProjectionLoss(model, probe.outputs, Object.fromEntries(probe.outputs.map((o) => [o, ys[o].dims])), 'float64');
  const loss = lossModel.graph.outputs[0].name;
  const { model: d1, gradients } = differentiate(lossModel, { of: loss, wrt: ['W', 'R'], keepOutputs: false });
  const b = new GraphBuilder(d1.graph);
  const v = b.param('V', randn('float64', feeds.W.dims, 78, 1));
  const loss2 = b.op('ReduceSum', [b.op('Mul', [gradients.get('W')!, v])], { keepdims: 0 });
  d1.graph.outputs = [];
  b.output(loss2, 'float64', []);
  const res = await gradcheck(d1, { of: loss2, wrt: ['R', 'X', 'B'], feeds, seed: 5, step: 1e-5 });
  for (const r of res) assert.ok(r.relError < 1e-5, `d/d${r.name}: analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)})`);
});

test('an all-zero initial state from ConstantOfShape is left out of the unrolled graph', async () => {
  for (const op of ['GRU', 'LSTM'] as const) {
    const c: RnnCase = {
      op,
      seq: 3,
      batch: 2,
      input: 3,
      hidden: 4,
      bias: true,
      initialH: true,
      initialC: op === 'LSTM',
      linearBeforeReset: op === 'GRU' ? 1 : undefined,
    };
    const { model, feeds, outputs } = buildRnn(c);
    // initial_h (and initial_c) become ConstantOfShape(hshape) zeros, with hshape a graph input (no static value).
    const g = model.graph;
    new GraphBuilder(g).input('hshape', 'int64', [3]);
    const zeroFeeds: Record<string, HostTensor> = { ...feeds, hshape: { dtype: 'int64', dims: [3], data: BigInt64Array.from([1n, 2n, 4n]) } };
    for (const s of ['initial_h', 'initial_c']) {
      if (!feeds[s]) continue;
      g.inputs = g.inputs.filter((i) => i.name !== s);
      delete zeroFeeds[s];
      g.nodes.unshift({ opType: 'ConstantOfShape', domain: '', name: `zero_${s}`, inputs: ['hshape'], outputs: [s], attributes: [] });
    }
    const gemms = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'Gemm').length;
    const lowered = lowerRecurrent(model);
    assert.equal(gemms(lowered), gemms(lowerRecurrent(buildRnn(c).model)) - 1, 'no recurrent product at the first step');
    const want = await (await compile(model)).run(zeroFeeds);
    const got = await (await compile(lowered)).run(zeroFeeds);
    for (const o of outputs) assert.ok(maxRelDiff(got[o], want[o]) < 1e-5, `${op} ${o}`);
  }
});

test('only recurrent nodes on the differentiated path are lowered', () => {
  const { model } = buildRnn({ op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4 });
  assert.equal(
    lowerRecurrent(model, { of: 'Y', wrt: ['W'] }).graph.nodes.some((n) => n.opType === 'GRU'),
    false,
  );
  assert.equal(lowerRecurrent(model, { of: 'Y', wrt: ['nothing'] }), model);
});

test('unsupported GRU/LSTM features fail with a clear message', () => {
  const withAttr = (c: RnnCase, name: string, value: AttrValue) => {
    const { model } = buildRnn(c);
    model.graph.nodes[0].attributes.push(...makeAttributes({ [name]: value }));
    return model;
  };
  const gru: RnnCase = { op: 'GRU', seq: 3, batch: 2, input: 3, hidden: 4 };
  assert.throws(() => lowerRecurrent(withAttr(gru, 'clip', { float: 3 })), /GRU node 'rnn': the clip attribute is not supported/);
  assert.throws(() => lowerRecurrent(withAttr({ ...gru, op: 'LSTM' }, 'input_forget', 1)), /input_forget=1 is not supported/);
  assert.throws(() => lowerRecurrent(withAttr(gru, 'activations', ['HardSigmoid', 'Tanh'])), /activation 'hardsigmoid' is not supported/);

  // sequence_lens given but not constant, or not full.
  const dyn = buildRnn(gru).model;
  dyn.graph.inputs.push({ name: 'lens', type: { tensorType: { elemType: 6, shape: { dim: [{ dimValue: 2 }] } } } });
  dyn.graph.nodes[0].inputs[4] = 'lens';
  dyn.graph.nodes[0].inputs[5] = '';
  assert.throws(() => lowerRecurrent(dyn), /sequence_lens must be a constant/);
  const short = buildRnn({ ...gru, fullSeqLens: true }).model;
  (short.graph.initializers.get('seq_lens')!.tensor!.data as Int32Array)[1] = 2;
  assert.throws(() => lowerRecurrent(short), /sequence_lens holds 2, but only full sequences \(3\) are supported/);

  // A symbolic sequence length cannot be unrolled.
  const symSeq = buildRnn(gru).model;
  symSeq.graph.inputs[0] = {
    ...symSeq.graph.inputs[0],
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'time' }, { dimParam: 'batch' }, { dimValue: 3 }] } } },
  };
  assert.throws(() => lowerRecurrent(symSeq), /the sequence length must be static/);
});
