// Shape-dependent lowerings of the nn gradient rules. Conv: every lowering of the input and weight gradients, forced
// one at a time, against a direct float64 sum; gradient checks at channel counts where the flipped-Conv dX and the tap
// dW are picked. MaxPool: the tap-mask gradient of tiling windows, with ties as MaxPool's Indices break them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { GradContext } from '../src/autodiff/grad-context.js';
import {
  convInputGrad,
  convWeightGrad,
  type InputGradVariant,
  pickInputGradVariant,
  pickWeightGradVariant,
  type WeightGradVariant,
} from '../src/autodiff/rules/Conv.js';
import { type ConvGeometry, effective, offsets } from '../src/autodiff/rules/window.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { TypeEnv } from '../src/onnx/shapes.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';
import { checkGraph, type GraphCase } from './helpers/graph-check.js';
import { caseName, checkRule, type InputSpec, type RuleCase } from './helpers/rule-check.js';
import { checkSecondOrder } from './helpers/second-order.js';

interface Geo {
  name: string;
  N: number;
  C: number;
  M: number;
  inSize: number[];
  kernel: number[];
  strides?: number[];
  dilations?: number[];
  pads?: number[];
  group?: number;
}

function geometry(c: Geo): ConvGeometry {
  const n = c.inSize.length;
  const strides = c.strides ?? new Array(n).fill(1);
  const dilations = c.dilations ?? new Array(n).fill(1);
  const pads = c.pads ?? new Array(2 * n).fill(0);
  const padsBegin = pads.slice(0, n);
  const padsEnd = pads.slice(n);
  const outSize = c.inSize.map((v, i) => Math.floor((v + padsBegin[i] + padsEnd[i] - effective(c.kernel[i], dilations[i])) / strides[i]) + 1);
  return { kernel: c.kernel, strides, dilations, padsBegin, padsEnd, inSize: c.inSize, outSize, group: c.group ?? 1 };
}

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
const flatIndex = (idx: number[], dims: number[]) => idx.reduce((acc, v, i) => acc * dims[i] + v, 0);

/** dX and dW of the convolution by direct summation over (n, m, o, k), in float64. */
function reference(c: Geo, p: ConvGeometry, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const G = p.group;
  const Cg = c.C / G;
  const Mg = c.M / G;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const outs = offsets(p.outSize);
  const taps = offsets(p.kernel);
  for (let n = 0; n < c.N; n++) {
    for (let m = 0; m < c.M; m++) {
      for (const o of outs) {
        const g = dy[flatIndex([n, m, ...o], [c.N, c.M, ...p.outSize])];
        for (let cg = 0; cg < Cg; cg++) {
          const ch = Math.floor(m / Mg) * Cg + cg;
          for (const k of taps) {
            const at = o.map((oi, i) => oi * p.strides[i] - p.padsBegin[i] + k[i] * p.dilations[i]);
            if (at.some((v, i) => v < 0 || v >= p.inSize[i])) continue;
            const xi = flatIndex([n, ch, ...at], [c.N, c.C, ...p.inSize]);
            const wi = flatIndex([m, cg, ...k], [c.M, Cg, ...p.kernel]);
            dw[wi] += g * x[xi];
            dx[xi] += g * w[wi];
          }
        }
      }
    }
  }
  return { dx, dw };
}

const GEOS: Geo[] = [
  { name: '2-D 3x3 pad 1', N: 2, C: 3, M: 4, inSize: [5, 6], kernel: [3, 3], pads: [1, 1, 1, 1] },
  { name: '2-D 3x2 dilation [2,1], asymmetric pads', N: 2, C: 2, M: 3, inSize: [7, 5], kernel: [3, 2], dilations: [2, 1], pads: [1, 0, 2, 1] },
  { name: '2-D 2x2 no pads', N: 3, C: 2, M: 2, inSize: [4, 5], kernel: [2, 2] },
  { name: '1-D 3 dilation 2, pads [2,1]', N: 2, C: 3, M: 2, inSize: [9], kernel: [3], dilations: [2], pads: [2, 1] },
  { name: '3-D 2x2x2 pad 1', N: 2, C: 2, M: 3, inSize: [3, 4, 3], kernel: [2, 2, 2], pads: [1, 1, 1, 1, 1, 1] },
  { name: '2-D 1x1 stride 2', N: 2, C: 3, M: 4, inSize: [5, 6], kernel: [1, 1], strides: [2, 2] },
  { name: '2-D 1x1 stride [2,3], pads', N: 2, C: 2, M: 3, inSize: [5, 7], kernel: [1, 1], strides: [2, 3], pads: [1, 0, 0, 1] },
  { name: '2-D 1x1 pad 1 (wider than the kernel reaches)', N: 2, C: 2, M: 2, inSize: [3, 3], kernel: [1, 1], pads: [1, 1, 1, 1] },
  { name: '2-D 3x3 stride 2 pad 1', N: 2, C: 3, M: 2, inSize: [6, 5], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  { name: '2-D 3x3 groups 2', N: 2, C: 4, M: 6, inSize: [5, 5], kernel: [3, 3], pads: [1, 1, 1, 1], group: 2 },
];

const DW: WeightGradVariant[] = ['dilated-conv', 'onehot-im2col', 'onehot-batched', 'gather-batched', 'taps-batched', 'taps-fold'];
const DX: InputGradVariant[] = ['convtranspose', 'conv-flip'];

async function run(c: Geo, dw: WeightGradVariant, dx: InputGradVariant): Promise<void> {
  const p = geometry(c);
  const b = new GraphBuilder();
  const env = new TypeEnv(17);
  const wShape = [c.M, c.C / p.group, ...p.kernel];
  const shapes: Record<string, (number | string)[]> = { x: ['N', c.C, ...p.inSize], w: wShape, dy: ['N', c.M, ...p.outSize] };
  for (const [k, s] of Object.entries(shapes)) {
    b.input(k, 'float32', s);
    env.set(k, { dtype: 'float32', shape: s });
  }
  const g = new GradContext(b, env, { opType: 'Conv', domain: '', name: 'conv', inputs: ['x', 'w'], outputs: ['y'], attributes: [] }, [], [], []);
  // conv-flip only applies where its pads fit; elsewhere the call falls back to ConvTranspose, which is checked too.
  const ok =
    dx === 'conv-flip' &&
    p.group === 1 &&
    p.strides.every((s) => s === 1) &&
    p.kernel.every((k, i) => p.padsBegin[i] <= effective(k, p.dilations[i]) - 1 && p.padsEnd[i] <= effective(k, p.dilations[i]) - 1);
  b.output(convInputGrad(g, 'dy', 'w', p, ok || dx === 'convtranspose' ? dx : 'convtranspose'));
  b.output(convWeightGrad(g, 'x', 'dy', p, dw));
  const exe = await compile(makeModel(b.graph, 17));
  const rng = createRng(7);
  const t = (dims: number[]): HostTensor => ({ dtype: 'float32', dims, data: Float32Array.from({ length: size(dims) }, () => rng.normal()) });
  const feeds = { x: t([c.N, c.C, ...p.inSize]), w: t(wShape), dy: t([c.N, c.M, ...p.outSize]) };
  const out = await exe.run(feeds);
  const [dxName, dwName] = b.graph.outputs.map((o) => o.name);
  const want = reference(c, p, feeds.x.data as Float32Array, feeds.w.data as Float32Array, feeds.dy.data as Float32Array);
  for (const [label, got, ref, dims] of [
    ['dX', out[dxName], want.dx, feeds.x.dims],
    ['dW', out[dwName], want.dw, wShape],
  ] as const) {
    assert.deepEqual(got.dims, dims, `${label} shape`);
    const scale = Math.max(1, ...Array.from(ref, Math.abs));
    for (let i = 0; i < ref.length; i++) {
      assert.ok(Math.abs((got.data[i] as number) - ref[i]) < 1e-4 * scale, `${c.name}, ${label} (${dx}, ${dw}) [${i}]: ${got.data[i]} vs ${ref[i]}`);
    }
  }
}

for (const c of GEOS) {
  for (const dw of DW) test(`Conv lowering ${c.name}: dW ${dw}`, () => run(c, dw, 'convtranspose'));
  test(`Conv lowering ${c.name}: dX conv-flip`, () => run(c, 'onehot-im2col', 'conv-flip'));
}

test('Conv lowering picks: ResNet and LeNet shapes', () => {
  const pick = (c: Geo) => {
    const p = geometry(c);
    return `${pickInputGradVariant(p, { C: c.C, M: c.M })} ${pickWeightGradVariant(p, { C: c.C, M: c.M })}`;
  };
  const g = (C: number, M: number, H: number, k: number, s: number, pad: number): Geo => ({
    name: '',
    N: 1,
    C,
    M,
    inSize: [H, H],
    kernel: [k, k],
    strides: [s, s],
    pads: [pad, pad, pad, pad],
  });
  assert.equal(pick(g(16, 16, 28, 3, 1, 1)), 'conv-flip taps-batched');
  assert.equal(pick(g(32, 32, 14, 3, 1, 1)), 'conv-flip taps-batched');
  assert.equal(pick(g(64, 64, 7, 3, 1, 1)), 'conv-flip taps-fold');
  assert.equal(pick(g(1, 16, 28, 3, 1, 1)), 'convtranspose onehot-batched');
  assert.equal(pick(g(16, 32, 28, 3, 2, 1)), 'convtranspose onehot-batched');
  assert.equal(pick(g(32, 64, 14, 3, 2, 1)), 'convtranspose onehot-im2col');
  assert.equal(pick(g(16, 32, 28, 1, 2, 0)), 'convtranspose taps-batched');
  assert.equal(pick(g(1, 6, 28, 5, 1, 2)), 'convtranspose dilated-conv');
  assert.equal(pick(g(6, 16, 14, 5, 1, 0)), 'convtranspose dilated-conv');
});

// Finite differences through the rule as registered, at channel counts that pick conv-flip and the tap lowerings.
const t = (...shape: number[]): InputSpec => ({ shape });
const conv = (name: string, inputs: InputSpec[], attrs: RuleCase['attrs'] = {}): RuleCase => ({
  op: 'Conv',
  name: `Conv ${name}`,
  inputs,
  attrs,
  float32: true,
});
const CASES: RuleCase[] = [
  conv('16→16 3x3 pad 1 (conv-flip dX, taps-batched dW)', [t(2, 16, 4, 4), t(16, 16, 3, 3), t(16)], { pads: [1, 1, 1, 1] }),
  conv('16→8 2x3 dilation [1,2], pads [1,2,0,1] (conv-flip, taps-fold)', [t(2, 16, 2, 3), t(8, 16, 2, 3)], { dilations: [1, 2], pads: [1, 2, 0, 1] }),
  conv('8→8 1-D 3 pad 1 (conv-flip dX)', [t(2, 8, 5), t(8, 8, 3)], { pads: [1, 1] }),
  conv('4→6 1x1 stride 2 (taps-batched dW)', [t(2, 4, 5, 5), t(6, 4, 1, 1)], { strides: [2, 2] }),
];
for (const c of CASES) test(caseName(c), () => checkRule(c));
test(`second order: ${caseName(CASES[0])}`, () => checkSecondOrder({ ...CASES[0], inputs: [t(1, 16, 3, 3), t(16, 16, 3, 3)] }));
test(`second order: ${caseName(CASES[3])}`, () => checkSecondOrder(CASES[3]));

// MaxPool whose windows tile the input: finite differences (float64), floor-mode tails, 1-D and 3-D, a symbolic batch.
const maxPool = (name: string, x: InputSpec, attrs: RuleCase['attrs']): RuleCase => ({ op: 'MaxPool', name: `MaxPool tiled ${name}`, inputs: [x], attrs });
const POOLS: RuleCase[] = [
  maxPool('2x2 stride 2', t(2, 3, 4, 6), { kernel_shape: [2, 2], strides: [2, 2] }),
  maxPool('2x2 stride 2, floor tails on both axes', t(2, 3, 5, 7), { kernel_shape: [2, 2], strides: [2, 2] }),
  maxPool('3x3 stride 3, floor tail', t(1, 2, 6, 7), { kernel_shape: [3, 3], strides: [3, 3] }),
  maxPool('3x2 stride [3,2], floor tail', t(1, 2, 7, 5), { kernel_shape: [3, 2], strides: [3, 2] }),
  maxPool('ceil_mode, sizes divide', t(1, 2, 4, 4), { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
  maxPool('1-D 3 stride 3', t(2, 2, 9), { kernel_shape: [3], strides: [3] }),
  maxPool('3-D 2x2x1', t(1, 2, 4, 2, 3), { kernel_shape: [2, 2, 1], strides: [2, 2, 1] }),
];
for (const c of POOLS) test(caseName(c), () => checkRule(c));
test(`second order: ${caseName(POOLS[1])}`, () => checkSecondOrder(POOLS[1]));
const pooledBatch: GraphCase = {
  name: 'MaxPool tiled 2x2 with a symbolic batch, opset 13',
  inputs: { x: t(3, 2, 4, 4) },
  batched: ['x'],
  opset: 13,
  build: (b, x) => [b.op('MaxPool', [x.x], { kernel_shape: [2, 2], strides: [2, 2] })],
};
test(pooledBatch.name, () => checkGraph(pooledBatch));

test('MaxPool tiled: ties go to the first maximum, as the Indices output picks', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 2, 4, 4]);
  const r = b.input('r', 'float32', ['N', 2, 2, 2]);
  const [y, idx] = b.opN('MaxPool', [x], 2, { kernel_shape: [2, 2], strides: [2, 2] });
  b.output(idx);
  const loss = b.op('ReduceSum', [b.op('Mul', [y, r])], { keepdims: 0 });
  b.output(loss);
  const { model, gradients } = differentiate(makeModel(b.graph, 17), { of: loss, wrt: ['x'] });
  // Values from {0, 1, 2}: most windows hold ties, several all-equal.
  const xs = Float32Array.from({ length: 64 }, (_, i) => (i * 7) % 3);
  const rs = Float32Array.from({ length: 16 }, (_, i) => i + 1);
  const out = await (
    await compile(model)
  ).run({ x: { dtype: 'float32', dims: [2, 2, 4, 4], data: xs }, r: { dtype: 'float32', dims: [2, 2, 2, 2], data: rs } });
  const want = new Float32Array(64);
  (out[idx].data as BigInt64Array).forEach((v, i) => (want[Number(v)] += rs[i]));
  assert.deepEqual(Array.from(out[gradients.get('x')!].data as Float32Array), Array.from(want));
});
