// Gradient rules of the nn group checked against central finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { float } from '../src/onnx/attributes.js';
import { type Dim, GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { compile } from '../src/runtime/session.js';
import { sizeOf } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';
import { checkGraph, type GraphCase } from './helpers/graph-check.js';
import { caseName, checkRule, draw, type InputSpec, type RuleCase } from './helpers/rule-check.js';
import { checkSecondOrder } from './helpers/second-order.js';
import { checkSecondOrder as checkSecondOrderOfSquare, checkVariant } from './helpers/tensor-check.js';

const t = (...shape: number[]): InputSpec => ({ shape });
const pos = (...shape: number[]): InputSpec => ({ shape, domain: 'positive' });
const spread = (...shape: number[]): InputSpec => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, domain: { values: Array.from({ length: n }, (_, i) => ((i * 37) % n) * 0.1 - n * 0.05) } };
};
const ints = (shape: number[], values: number[]): InputSpec => ({ shape, dtype: 'int64', domain: { ints: values } });

// onnxruntime's CPU provider runs Conv, ConvTranspose, AveragePool and the global pools in float32 only.
const conv = (name: string, inputs: InputSpec[], attrs: RuleCase['attrs'] = {}): RuleCase => ({
  op: 'Conv',
  name: `Conv ${name}`,
  inputs,
  attrs,
  float32: true,
});
const convT = (name: string, inputs: InputSpec[], attrs: RuleCase['attrs'] = {}): RuleCase => ({
  op: 'ConvTranspose',
  name: `ConvTranspose ${name}`,
  inputs,
  attrs,
  float32: true,
});
const maxPool = (name: string, x: InputSpec, attrs: RuleCase['attrs'], extra: Partial<RuleCase> = {}): RuleCase => ({
  op: 'MaxPool',
  name: `MaxPool ${name}`,
  inputs: [x],
  attrs,
  ...extra,
});
const avgPool = (name: string, x: InputSpec, attrs: RuleCase['attrs']): RuleCase => ({
  op: 'AveragePool',
  name: `AveragePool ${name}`,
  inputs: [x],
  attrs,
  float32: true,
});

// Resize has no float64 kernel in onnxruntime's CPU provider: float32, scales fed as constants. Linear in X, so
// float32 differences are exact up to rounding; the table below also checks the transpose exactly.
const scales = (...v: number[]): InputSpec => ({ shape: [v.length], dtype: 'float32', domain: { values: v }, constant: true });
const noRoi: InputSpec = { shape: [], absent: true };
const resize = (name: string, x: InputSpec, how: InputSpec[], attrs: RuleCase['attrs'], opset = 13): RuleCase => ({
  op: 'Resize',
  name: `Resize ${name}, opset ${opset}`,
  inputs: [x, noRoi, ...how],
  attrs,
  opset,
  float32: true,
});
const bySizes = (...v: number[]): InputSpec[] => [{ shape: [], absent: true }, ints([v.length], v)];
const RESIZE: RuleCase[] = [
  // torch.nn.Upsample(mode='nearest') and F.interpolate: asymmetric + floor
  ...[13, 18].map((opset) =>
    resize(
      'nearest asymmetric floor x2',
      t(1, 2, 3, 4),
      [scales(1, 1, 2, 2)],
      { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
      opset,
    ),
  ),
  resize('nearest half_pixel round_prefer_floor (defaults) x1.5 x0.5', t(1, 2, 4, 4), [scales(1, 1, 1.5, 0.5)], {}),
  resize('nearest half_pixel round_prefer_ceil, sizes', t(1, 2, 3, 4), bySizes(1, 2, 5, 3), { mode: 'nearest', nearest_mode: 'round_prefer_ceil' }),
  resize('nearest asymmetric ceil x1.5 x2.5', t(1, 1, 4, 2), [scales(1, 1, 1.5, 2.5)], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'ceil',
  }),
  resize('nearest align_corners, sizes', t(2, 1, 3, 4), bySizes(2, 1, 5, 7), { mode: 'nearest', coordinate_transformation_mode: 'align_corners' }, 18),
  resize('nearest pytorch_half_pixel x0.5 x3', t(1, 2, 4, 2), [scales(1, 1, 0.5, 3)], {
    mode: 'nearest',
    coordinate_transformation_mode: 'pytorch_half_pixel',
    nearest_mode: 'round_prefer_ceil',
  }),
  resize('nearest tf_half_pixel_for_nn x2 x1.5', t(1, 1, 3, 4), [scales(1, 1, 2, 1.5)], {
    mode: 'nearest',
    coordinate_transformation_mode: 'tf_half_pixel_for_nn',
  }),
  resize('nearest on the channel axis', t(1, 2, 3, 2), [scales(1, 2, 1, 1)], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  }),
  resize('nearest 5-D x2 x1.5 x2', t(1, 1, 2, 2, 2), [scales(1, 1, 2, 1.5, 2)], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  }),
  // F.interpolate(mode='bilinear', align_corners=False / True)
  ...[13, 18].map((opset) =>
    resize(
      'linear pytorch_half_pixel x2',
      t(1, 2, 3, 4),
      [scales(1, 1, 2, 2)],
      { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' },
      opset,
    ),
  ),
  resize('linear pytorch_half_pixel, sizes with an output of length 1', t(1, 2, 3, 4), bySizes(1, 2, 1, 5), {
    mode: 'linear',
    coordinate_transformation_mode: 'pytorch_half_pixel',
  }),
  ...[13, 18].map((opset) =>
    resize('linear align_corners, sizes', t(1, 2, 3, 4), bySizes(1, 2, 5, 7), { mode: 'linear', coordinate_transformation_mode: 'align_corners' }, opset),
  ),
  resize('linear align_corners x2 x0.5', t(2, 1, 3, 4), [scales(1, 1, 2, 0.5)], { mode: 'linear', coordinate_transformation_mode: 'align_corners' }),
  resize('linear half_pixel x1.5 x0.75', t(1, 2, 4, 4), [scales(1, 1, 1.5, 0.75)], { mode: 'linear' }),
  resize('linear half_pixel downsampling x0.6 x0.5', t(1, 1, 5, 6), [scales(1, 1, 0.6, 0.5)], { mode: 'linear' }),
  resize('linear asymmetric x0.5 x2.5', t(1, 2, 4, 2), [scales(1, 1, 0.5, 2.5)], { mode: 'linear', coordinate_transformation_mode: 'asymmetric' }),
  resize('linear 2-D input x2 x1.5', t(3, 4), [scales(2, 1.5)], { mode: 'linear' }),
  resize('linear 5-D (trilinear) x2 x1.5 x2', t(1, 1, 2, 2, 3), [scales(1, 1, 2, 1.5, 2)], { mode: 'linear' }),
  // Opset 18: scales or sizes for the listed axes only
  resize('linear axes [2, 3] scales', t(1, 2, 3, 4), [scales(2, 1.5)], { mode: 'linear', axes: [2, 3] }, 18),
  resize('nearest axes [-1] sizes', t(1, 2, 3, 4), bySizes(6), { mode: 'nearest', axes: [-1] }, 18),
];

// Einsum: attention scores and outputs, batched matmul, transpose, dot products, sums over an index only one operand has.
const einsum = (equation: string, ...shapes: number[][]): RuleCase => ({
  op: 'Einsum',
  name: `Einsum '${equation}'`,
  inputs: shapes.map((s) => t(...s)),
  attrs: { equation },
  opset: 13,
});
const EINSUM: RuleCase[] = [
  einsum('bhqd,bhkd->bhqk', [2, 2, 3, 4], [2, 2, 5, 4]),
  einsum('bhqk,bhkd->bhqd', [2, 2, 3, 5], [2, 2, 5, 4]),
  einsum('bij,bjk->bik', [2, 3, 4], [2, 4, 5]),
  einsum('ij->ji', [3, 4]),
  einsum('ij->i', [3, 4]),
  einsum('i,i->', [5], [5]),
  einsum('bi,bi->b', [3, 4], [3, 4]),
  einsum('ij,jk', [3, 4], [4, 2]),
  einsum('ij, kj -> ik', [3, 4], [2, 4]),
  einsum('ij,kl->jk', [3, 4], [5, 2]),
  einsum('abc,cd,de->ae', [2, 3, 4], [4, 3], [3, 2]),
  einsum('i,j->ij', [3], [4]),
  { ...einsum('bij,bjk->bik', [2, 3, 4], [2, 4, 5]), name: "Einsum 'bij,bjk->bik' opset 18", opset: 18 },
  // Ellipses: batch dims, ranks that differ, a size-1 dim broadcast, an implicit output, one in the middle of a term
  einsum('...qd,...kd->...qk', [2, 2, 3, 4], [2, 2, 5, 4]),
  einsum('...ij,jk->...ik', [2, 3, 4], [4, 5]),
  einsum('...ij,...jk->...ik', [2, 1, 3, 4], [2, 3, 4, 2]),
  einsum('...ij,...jk', [2, 3, 4], [2, 4, 5]),
  einsum('i...j->...', [3, 2, 4]),
  einsum('b...d,bd->b...', [2, 3, 4], [2, 4]),
];

const CASES: RuleCase[] = [
  conv('1-D stride 2, asymmetric pads, bias', [t(2, 3, 7), t(4, 3, 3), t(4)], { strides: [2], pads: [1, 2] }),
  conv('2-D stride 2, asymmetric pads, bias', [t(2, 3, 6, 5), t(4, 3, 3, 3), t(4)], { strides: [2, 2], pads: [1, 0, 2, 1] }),
  conv('2-D dilation 2', [t(1, 2, 7, 7), t(3, 2, 3, 3)], { dilations: [2, 2] }),
  conv('2-D groups 2, bias', [t(2, 4, 5, 5), t(6, 2, 3, 3), t(6)], { group: 2 }),
  conv('2-D depthwise stride 2 pad 1', [t(2, 3, 6, 6), t(3, 1, 3, 3)], { group: 3, strides: [2, 2], pads: [1, 1, 1, 1] }),
  conv('2-D SAME_UPPER stride 2', [t(1, 2, 5, 6), t(3, 2, 3, 2), t(3)], { auto_pad: 'SAME_UPPER', strides: [2, 2] }),
  conv('1-D SAME_LOWER even kernel', [t(2, 2, 7), t(2, 2, 4)], { auto_pad: 'SAME_LOWER' }),
  conv('2-D VALID stride 3, unused tail', [t(1, 2, 8, 8), t(2, 2, 3, 3)], { auto_pad: 'VALID', strides: [3, 3] }),
  conv('1-D groups 2, dilation 2, stride 2, pads', [t(2, 4, 9), t(4, 2, 3), t(4)], { group: 2, dilations: [2], strides: [2], pads: [2, 1] }),
  conv('2-D 1x1 kernel', [t(2, 3, 3, 4), t(5, 3, 1, 1)]),
  // Kernels of 16 taps or more take the dilated-Conv lowering of dW; smaller ones the one-hot im2col.
  conv('2-D 4x4 stride 2, asymmetric pads, bias', [t(2, 3, 9, 8), t(4, 3, 4, 4), t(4)], { strides: [2, 2], pads: [1, 2, 0, 1] }),
  conv('2-D 5x5 groups 2, dilation [2,1], pads', [t(1, 4, 12, 11), t(4, 2, 5, 5)], { group: 2, dilations: [2, 1], pads: [2, 2, 2, 2] }),
  conv('2-D 4x4 depthwise SAME_UPPER stride 2', [t(1, 3, 7, 8), t(3, 1, 4, 4), t(3)], { group: 3, auto_pad: 'SAME_UPPER', strides: [2, 2] }),
  conv('1-D 17 taps stride 3, asymmetric pads', [t(2, 2, 40), t(3, 2, 17)], { strides: [3], pads: [3, 1] }),

  convT('2-D stride 2, output_padding 1, pads 1, bias', [t(1, 2, 3, 3), t(2, 3, 3, 3), t(3)], { strides: [2, 2], output_padding: [1, 1], pads: [1, 1, 1, 1] }),
  convT('1-D groups 2, stride 2, dilation 2', [t(2, 4, 5), t(4, 1, 3), t(2)], { group: 2, strides: [2], dilations: [2] }),
  convT('2-D SAME_UPPER stride 2', [t(1, 2, 3, 4), t(2, 2, 3, 3)], { auto_pad: 'SAME_UPPER', strides: [2, 2] }),
  convT('1-D SAME_LOWER stride 2', [t(2, 2, 4), t(2, 3, 4)], { auto_pad: 'SAME_LOWER', strides: [2] }),
  convT('2-D 4x4 groups 2, stride 2, output_padding [1,0], pads', [t(1, 4, 3, 3), t(4, 1, 4, 4)], {
    group: 2,
    strides: [2, 2],
    output_padding: [1, 0],
    pads: [1, 1, 2, 1],
  }),
  convT('2-D output_shape', [t(1, 2, 3, 3), t(2, 2, 3, 3)], { strides: [2, 2], output_shape: [6, 7] }),

  // MaxPool has a float64 kernel; normal draws keep every window free of ties.
  maxPool('2x2 stride 2', t(2, 3, 4, 4), { kernel_shape: [2, 2], strides: [2, 2] }),
  maxPool('3x3 stride 2 pad 1', t(1, 2, 5, 5), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  maxPool('2x2 stride 2 ceil_mode', t(1, 2, 5, 5), { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
  maxPool('1-D 3 stride 2 pads', t(2, 2, 7), { kernel_shape: [3], strides: [2], pads: [1, 1] }),
  maxPool('2x2 dilation 2', t(1, 1, 6, 6), { kernel_shape: [2, 2], dilations: [2, 2] }),
  maxPool('SAME_UPPER 3x3', t(1, 2, 5, 4), { kernel_shape: [3, 3], auto_pad: 'SAME_UPPER', strides: [2, 1] }),
  maxPool('with Indices output', t(2, 2, 4, 4), { kernel_shape: [3, 3], strides: [1, 1] }, { outputs: 2 }),
  maxPool('storage_order 1', t(1, 2, 4, 5), { kernel_shape: [2, 2], storage_order: 1 }, { outputs: 2 }),
  maxPool('opset 13, 3x3 stride 2 pad 1 (overlapping)', t(2, 2, 5, 5), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { opset: 13 }),
  maxPool('opset 13, 2x2 stride 2 (disjoint)', t(1, 2, 4, 6), { kernel_shape: [2, 2], strides: [2, 2] }, { opset: 13 }),
  maxPool('opset 13, ceil_mode overlapping 1-D', t(1, 2, 6), { kernel_shape: [3], strides: [2], ceil_mode: 1 }, { opset: 13 }),

  avgPool('3x3 stride 2 pad 1, count_include_pad 0', t(1, 2, 5, 5), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  avgPool('3x3 stride 2 pad 1, count_include_pad 1', t(1, 2, 5, 5), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 }),
  avgPool('asymmetric pads, count_include_pad 1', t(2, 1, 4, 5), { kernel_shape: [2, 3], pads: [0, 1, 1, 2], count_include_pad: 1 }),
  avgPool('ceil_mode pads 1, count_include_pad 0', t(1, 2, 6, 6), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 }),
  avgPool('ceil_mode pads 1, count_include_pad 1', t(1, 2, 6, 6), {
    kernel_shape: [3, 3],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
    ceil_mode: 1,
    count_include_pad: 1,
  }),
  avgPool('1-D 2 stride 1', t(2, 3, 7), { kernel_shape: [2] }),
  avgPool('SAME_UPPER 2x3', t(1, 2, 5, 5), { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' }),
  { ...avgPool('opset 13, 3x3 stride 2 pad 1', t(1, 2, 5, 5), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), opset: 13 },

  { op: 'GlobalAveragePool', inputs: [t(2, 3, 4, 5)], float32: true },
  { op: 'GlobalAveragePool', inputs: [t(2, 3, 5)], float32: true },
  // float32 differences step by 1e-2: spread values 0.1 apart so that no step changes an argmax.
  { op: 'GlobalMaxPool', inputs: [spread(2, 3, 4, 4)], float32: true },
  { op: 'GlobalMaxPool', inputs: [spread(1, 2, 7)], float32: true },

  { op: 'BatchNormalization', name: 'BatchNormalization inference 4-D', inputs: [t(2, 3, 4, 4), t(3), t(3), t(3), pos(3)], attrs: { epsilon: float(1e-3) } },
  { op: 'BatchNormalization', name: 'BatchNormalization inference 2-D, opset 13', inputs: [t(5, 3), t(3), t(3), t(3), pos(3)], opset: 13 },
  { op: 'BatchNormalization', name: 'BatchNormalization inference 3-D, opset 15', inputs: [t(2, 4, 3), t(4), t(4), t(4), pos(4)], opset: 15 },

  { op: 'LayerNormalization', name: 'LayerNormalization axis -1', inputs: [t(2, 3, 4), t(4), t(4)] },
  { op: 'LayerNormalization', name: 'LayerNormalization axis 1', inputs: [t(2, 3, 4), t(3, 4), t(3, 4)], attrs: { axis: 1, epsilon: float(1e-3) } },
  { op: 'LayerNormalization', name: 'LayerNormalization axis 1, opset 18', inputs: [t(2, 3, 4), t(3, 4), t(3, 4)], attrs: { axis: 1 }, opset: 18 },
  { op: 'LayerNormalization', name: 'LayerNormalization no bias, Scale broadcast', inputs: [t(2, 3, 4), t(1, 4)], attrs: { axis: 1 } },
  { op: 'LayerNormalization', name: 'LayerNormalization Mean and InvStdDev in the loss', inputs: [t(2, 3, 4), t(4), t(4)], outputs: 3, float32: true },

  ...[
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ].flatMap(([transA, transB]): RuleCase[] => {
    const a = transA ? t(4, 3) : t(3, 4);
    const b = transB ? t(5, 4) : t(4, 5);
    return [t(5), t(1, 5), t(3, 5), t(), t(3, 1)].map((c) => ({
      op: 'Gemm',
      name: `Gemm transA ${transA} transB ${transB} C [${c.shape.join(',')}]`,
      inputs: [a, b, c],
      attrs: { transA, transB, alpha: float(0.7), beta: float(1.3) },
    }));
  }),
  { op: 'Gemm', name: 'Gemm no C, defaults', inputs: [t(2, 3), t(3, 4)] },
  { op: 'Gemm', name: 'Gemm alpha 1 beta 1, C [M,N]', inputs: [t(2, 3), t(4, 3), t(2, 4)], attrs: { transB: 1 } },

  { op: 'Flatten', inputs: [t(2, 3, 4)], attrs: { axis: 0 } },
  { op: 'Flatten', inputs: [t(2, 3, 4)], attrs: { axis: 1 } },
  { op: 'Flatten', inputs: [t(2, 3, 4)], attrs: { axis: 2 } },
  { op: 'Flatten', inputs: [t(2, 3, 4)], attrs: { axis: -1 } },

  { op: 'ScatterElements', name: 'ScatterElements none axis 0', inputs: [t(3, 4), ints([2, 4], [0, 2, 1, 0, 2, 1, 0, 1]), t(2, 4)] },
  {
    op: 'ScatterElements',
    name: 'ScatterElements add axis 1, duplicates',
    inputs: [t(2, 5), ints([2, 3], [1, 1, 3, 0, 4, 0]), t(2, 3)],
    attrs: { axis: 1, reduction: 'add' },
    opset: 18,
  },
  { op: 'ScatterElements', name: 'ScatterElements none, opset 13', inputs: [t(4), ints([2], [3, 1]), t(2)], opset: 13 },
  { op: 'GatherElements', name: 'GatherElements axis 0, duplicates, negative', inputs: [t(3, 4), ints([2, 4], [0, -1, 1, 0, 0, 2, 1, 2])] },
  { op: 'GatherElements', name: 'GatherElements axis 1, smaller index', inputs: [t(3, 4), ints([2, 3], [3, 3, 0, 1, -4, 2])], attrs: { axis: 1 } },
  { op: 'GatherElements', name: 'GatherElements opset 13, duplicates, negative', inputs: [t(3, 4), ints([2, 4], [0, -1, 1, 0, 0, 2, 1, 2])], opset: 13 },
  {
    op: 'GatherElements',
    name: 'GatherElements opset 13 axis 1, smaller index',
    inputs: [t(3, 4), ints([2, 3], [3, 3, 0, 1, -4, 2])],
    attrs: { axis: 1 },
    opset: 13,
  },

  ...RESIZE,

  ...[13, 17].flatMap((opset): RuleCase[] => [
    { op: 'DepthToSpace', name: `DepthToSpace DCR blocksize 2, opset ${opset}`, inputs: [t(2, 8, 2, 3)], attrs: { blocksize: 2 }, opset },
    { op: 'DepthToSpace', name: `DepthToSpace CRD blocksize 2, opset ${opset}`, inputs: [t(2, 8, 2, 3)], attrs: { blocksize: 2, mode: 'CRD' }, opset },
    { op: 'SpaceToDepth', name: `SpaceToDepth blocksize 2, opset ${opset}`, inputs: [t(2, 2, 4, 6)], attrs: { blocksize: 2 }, opset },
  ]),
  { op: 'DepthToSpace', name: 'DepthToSpace CRD blocksize 3', inputs: [t(1, 18, 2, 1)], attrs: { blocksize: 3, mode: 'CRD' } },
  { op: 'DepthToSpace', name: 'DepthToSpace DCR blocksize 3', inputs: [t(1, 9, 1, 2)], attrs: { blocksize: 3, mode: 'DCR' } },
  { op: 'SpaceToDepth', name: 'SpaceToDepth blocksize 3', inputs: [t(1, 2, 3, 6)], attrs: { blocksize: 3 } },

  ...EINSUM,
];

for (const c of CASES) test(caseName(c), () => checkRule(c));

const SECOND_ORDER: RuleCase[] = [
  conv('stride 2 pad 1, bias', [t(1, 2, 5, 5), t(3, 2, 3, 3), t(3)], { strides: [2, 2], pads: [1, 1, 1, 1] }),
  conv('groups 2, dilation 2', [t(1, 4, 6, 6), t(2, 2, 2, 2)], { group: 2, dilations: [2, 2] }),
  conv('4x4 stride 2, groups 2, bias', [t(1, 4, 7, 7), t(4, 2, 4, 4), t(4)], { strides: [2, 2], group: 2, pads: [1, 1, 1, 1] }),
  convT('stride 2, output_padding 1', [t(1, 2, 3, 3), t(2, 2, 3, 3)], { strides: [2, 2], output_padding: [1, 1] }),
  { op: 'Gemm', name: 'Gemm transA, C [N]', inputs: [t(4, 3), t(4, 5), t(5)], attrs: { transA: 1, alpha: float(0.5) } },
  { op: 'Gemm', name: 'Gemm transB', inputs: [t(3, 4), t(5, 4)], attrs: { transB: 1 } },
  { op: 'BatchNormalization', name: 'BatchNormalization inference', inputs: [t(2, 3, 2, 2), t(3), t(3), t(3), pos(3)] },
  { op: 'LayerNormalization', name: 'LayerNormalization axis -1', inputs: [t(2, 3, 4), t(4), t(4)] },
  { op: 'LayerNormalization', name: 'LayerNormalization with Mean and InvStdDev', inputs: [t(2, 3, 4), t(4), t(4)], outputs: 3, float32: true },
  maxPool('3x3 stride 2 pad 1', t(1, 2, 5, 5), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  maxPool('opset 13 overlapping', t(1, 2, 5, 5), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { opset: 13 }),
  avgPool('ceil_mode count_include_pad 1', t(1, 2, 6, 6), { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1, count_include_pad: 1 }),
  { op: 'GatherElements', name: 'GatherElements opset 13', inputs: [t(3, 4), ints([2, 4], [0, -1, 1, 0, 0, 2, 1, 2])], opset: 13 },
  { op: 'ScatterElements', name: 'ScatterElements add', inputs: [t(2, 5), ints([2, 3], [1, 1, 3, 0, 4, 0]), t(2, 3)], attrs: { axis: 1, reduction: 'add' } },
  einsum('bhqd,bhkd->bhqk', [1, 2, 3, 2], [1, 2, 4, 2]),
  einsum('abc,cd,de->ae', [2, 3, 4], [4, 3], [3, 2]),
  einsum('ij,kl->jk', [3, 4], [5, 2]),
  einsum('...ij,...jk->...ik', [2, 1, 3, 4], [2, 3, 4, 2]),
];

for (const c of SECOND_ORDER) test(`second order: ${caseName(c)}`, () => checkSecondOrder(c));

// Cases the one-node table cannot express: running statistics kept out of the loss, a symbolic batch dimension.
const bnTraining = (opset: number, order: 1 | 2 = 1): GraphCase => ({
  name: `BatchNormalization training_mode opset ${opset}${order === 2 ? ' (second order)' : ''}`,
  inputs: { x: t(4, 3, 2, 2), scale: t(3), bias: t(3) },
  opset,
  order,
  build: (b, x) => {
    const mean = b.param('mean', { dtype: 'float64', dims: [3], data: Float64Array.of(0.1, -0.2, 0.3) });
    const variance = b.param('var', { dtype: 'float64', dims: [3], data: Float64Array.of(1, 2, 0.5) });
    const [y] = b.opN('BatchNormalization', [x.x, x.scale, x.bias, mean, variance], 3, { training_mode: 1, epsilon: float(1e-3) });
    return [y];
  },
});

const SMALL_CNN = (order: 1 | 2): GraphCase => ({
  name: `small CNN with a symbolic batch${order === 2 ? ' (second order)' : ''}`,
  inputs: { x: t(3, 2, 8, 8), w1: t(4, 1, 4, 4), w2: t(4, 4, 2, 2), fc: t(5, 36), scale: t(4), bias: t(4) },
  batched: ['x'],
  float32: true,
  order,
  build: (b, x) => {
    const c1 = b.op('Conv', [x.x, x.w1], { group: 2, pads: [1, 1, 2, 2], strides: [2, 2] }); // [N,4,4,4]
    const m = b.param('bn.mean', { dtype: 'float32', dims: [4], data: Float32Array.of(0.1, 0, -0.1, 0.2) });
    const v = b.param('bn.var', { dtype: 'float32', dims: [4], data: Float32Array.of(1, 2, 0.5, 1.5) });
    const bn = b.op('BatchNormalization', [c1, x.scale, x.bias, m, v]);
    // No MaxPool here: float32 differences (step 1e-2) through Conv would straddle argmax switches.
    const p1 = b.op('AveragePool', [bn], { kernel_shape: [2, 2], strides: [1, 1], pads: [0, 0, 1, 1] }); // [N,4,4,4]
    const c2 = b.op('Conv', [p1, x.w2]); // [N,4,3,3]
    const p2 = b.op('AveragePool', [c2], { kernel_shape: [2, 2], pads: [0, 0, 1, 1], count_include_pad: 1 }); // [N,4,3,3]
    const f = b.op('Flatten', [b.op('Add', [p2, b.op('GlobalAveragePool', [p2])])]); // [N,36]
    const h = b.op('Gemm', [f, x.fc], { transB: 1 }); // [N,5]
    return [b.op('LayerNormalization', [h, b.param('ln.s', { dtype: 'float32', dims: [5], data: new Float32Array(5).fill(1.5) })])];
  },
});

const maxPoolBatched = (opset: number): GraphCase => ({
  name: `MaxPool 3x3 stride 2 pad 1 with a symbolic batch, opset ${opset}`,
  inputs: { x: t(3, 2, 5, 6) },
  batched: ['x'],
  opset,
  build: (b, x) => [b.op('MaxPool', [x.x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })],
});

for (const opset of [13, 17]) test(maxPoolBatched(opset).name, () => checkGraph(maxPoolBatched(opset)));
for (const opset of [14, 15, 18]) test(bnTraining(opset).name, () => checkGraph(bnTraining(opset)));
test(bnTraining(15, 2).name, () => checkGraph(bnTraining(15, 2)));
test(SMALL_CNN(1).name, () => checkGraph(SMALL_CNN(1)));
test(SMALL_CNN(2).name, () => checkGraph(SMALL_CNN(2)));

// ------------------------------------------------------------------------------------ Resize, DepthToSpace, Einsum

// Linear ops: second order of loss = Σ sum(Y² R), whose gradient depends on X.
const SECOND_ORDER_OF_SQUARE: RuleCase[] = [
  { op: 'DepthToSpace', inputs: [t(1, 8, 2, 1)], attrs: { blocksize: 2 } },
  { op: 'DepthToSpace', inputs: [t(1, 8, 2, 1)], attrs: { blocksize: 2, mode: 'CRD' } },
  { op: 'SpaceToDepth', inputs: [t(1, 2, 2, 4)], attrs: { blocksize: 2 } },
  einsum('ij->ji', [3, 4]),
  einsum('bi,bi->b', [3, 4], [3, 4]),
];
for (const c of SECOND_ORDER_OF_SQUARE) test(`second order of the square: ${caseName(c)}`, () => checkSecondOrderOfSquare(c));

const resizeSquared = (name: string, x: number[], scale: number[], attrs: Record<string, string>): GraphCase => ({
  name: `Resize ${name} (second order)`,
  inputs: { x: t(...x) },
  float32: true,
  order: 2,
  build: (b, v) => {
    const y = b.op('Resize', [v.x, '', b.constant({ dtype: 'float32', dims: [scale.length], data: Float32Array.from(scale) })], attrs);
    return [b.op('Mul', [y, y])];
  },
});
for (const c of [
  resizeSquared('linear pytorch_half_pixel x2 x1.5', [1, 1, 3, 2], [1, 1, 2, 1.5], { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }),
  resizeSquared('nearest asymmetric floor x2', [1, 2, 2, 2], [1, 1, 2, 2], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  }),
])
  test(c.name, () => checkGraph(c));

// A symbolic batch: only the resized axes need static lengths.
const resizeBatched = (name: string, x: number[], scale: number[], attrs: Record<string, string>, order: 1 | 2 = 1): GraphCase => ({
  name: `Resize ${name} with a symbolic batch${order === 2 ? ' (second order)' : ''}`,
  inputs: { x: t(...x) },
  batched: ['x'],
  float32: true,
  order,
  build: (b, v) => [b.op('Resize', [v.x, '', b.constant({ dtype: 'float32', dims: [scale.length], data: Float32Array.from(scale) })], attrs)],
});
for (const c of [
  resizeBatched('linear pytorch_half_pixel x2 x1.5', [2, 2, 3, 2], [1, 1, 2, 1.5], { mode: 'linear', coordinate_transformation_mode: 'pytorch_half_pixel' }),
  resizeBatched('nearest asymmetric floor x2', [3, 1, 2, 3], [1, 1, 2, 2], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  }),
])
  test(c.name, () => checkGraph(c));

const SYMBOLIC: RuleCase[] = [
  { op: 'DepthToSpace', inputs: [t(2, 8, 2, 3)], attrs: { blocksize: 2 } },
  { op: 'DepthToSpace', inputs: [t(2, 8, 2, 3)], attrs: { blocksize: 2, mode: 'CRD' } },
  { op: 'SpaceToDepth', inputs: [t(2, 2, 4, 6)], attrs: { blocksize: 2 } },
  einsum('bhqd,bhkd->bhqk', [2, 2, 3, 4], [2, 2, 5, 4]),
  einsum('ij,kl->jk', [3, 4], [5, 2]),
  einsum('...qd,...kd->...qk', [2, 2, 3, 4], [2, 2, 5, 4]),
  einsum('...ij,jk->...ik', [2, 3, 4], [4, 5]),
];
for (const c of SYMBOLIC) test(`${caseName(c)} symbolic shapes`, () => checkVariant(c, { symbolic: true }));

test("Resize: dX is exactly the transpose of onnxruntime's forward interpolation", async () => {
  for (const c of RESIZE) {
    const xShape = c.inputs[0].shape;
    const graph = () => {
      const b = new GraphBuilder();
      b.input('x', 'float32', xShape);
      const rest = c.inputs.slice(1).map((spec, i) => (spec.absent ? '' : b.param(`p${i}`, draw(createRng(0), spec, spec.dtype ?? 'float32'))));
      const y = b.op('Resize', ['x', ...rest], c.attrs);
      return { b, y };
    };
    // Column k of the Jacobian: the forward pass of the k-th unit input.
    const fwd = graph();
    fwd.b.output(fwd.y, 'float32');
    const exe = await compile(makeModel(fwd.b.graph, c.opset));
    const n = sizeOf(xShape);
    const cols: Float32Array[] = [];
    for (let k = 0; k < n; k++) {
      const e = new Float32Array(n);
      e[k] = 1;
      cols.push((await exe.run({ x: { dtype: 'float32', dims: xShape, data: e } }))[fwd.y].data as Float32Array);
    }
    const yShape = (await exe.run({ x: { dtype: 'float32', dims: xShape, data: new Float32Array(n) } }))[fwd.y].dims;
    // Integer weights R: the expected J^T R has no rounding beyond the interpolation weights'.
    const r = Float32Array.from({ length: cols[0].length }, (_, i) => ((i * 7) % 11) - 5);
    const expected = cols.map((col) => col.reduce((acc, v, i) => acc + v * r[i], 0));
    const bwd = graph();
    const loss = bwd.b.op('ReduceSum', [bwd.b.op('Mul', [bwd.y, bwd.b.param('r', { dtype: 'float32', dims: yShape, data: r })])], { keepdims: 0 });
    bwd.b.output(loss, 'float32', []);
    const { model, gradients } = differentiate(makeModel(bwd.b.graph, c.opset), { of: loss, wrt: ['x'] });
    const out = await (await compile(model)).run({ x: { dtype: 'float32', dims: xShape, data: new Float32Array(n) } });
    const got = out[gradients.get('x')!].data as Float32Array;
    expected.forEach((e, k) => assert.ok(Math.abs(got[k] - e) <= 1e-5 * Math.max(1, Math.abs(e)), `${c.name}: dX[${k}] = ${got[k]}, expected ${e}`));
  }
});

/** Differentiate loss = sum(op(x, …)) for x of the given (possibly symbolic) shape. */
function differentiateOne(
  op: string,
  shape: Dim[],
  extra: (b: GraphBuilder) => string[],
  attrs: Record<string, unknown>,
  opset = 17,
  dtype: 'float32' | 'float64' = 'float32',
) {
  const b = new GraphBuilder();
  b.input('x', dtype, shape);
  const loss = b.op('ReduceSum', [b.op(op, ['x', ...extra(b)], attrs as never, 'node')], { keepdims: 0 });
  b.output(loss, dtype, []);
  return () => differentiate(makeModel(b.graph, opset), { of: loss, wrt: ['x'] });
}

test('Resize: unsupported modes and dynamic shapes fail with the node named', () => {
  const s = (b: GraphBuilder) => ['', b.constant({ dtype: 'float32', dims: [4], data: Float32Array.from([1, 1, 2, 2]) })];
  assert.throws(differentiateOne('Resize', [1, 1, 2, 2], s, { mode: 'cubic' }), /Resize node '.*': no gradient for mode 'cubic'/);
  assert.throws(differentiateOne('Resize', [1, 1, 2, 2], s, { mode: 'linear', antialias: 1 }, 18), /Resize node '.*': no gradient with antialias=1/);
  assert.throws(
    differentiateOne('Resize', [1, 1, 2, 2], s, { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize' }),
    /coordinate_transformation_mode 'tf_crop_and_resize'/,
  );
  assert.throws(
    differentiateOne('Resize', [1, 1, 'h', 2], s, { mode: 'nearest' }),
    /Resize node '.*': no gradient when axis 2, which it resizes, has no static length/,
  );
  // 10 × 0.7f: the ONNX shape is floor(6.99999988) = 6, onnxruntime's kernel multiplies in float32 and makes 7 rows.
  const s07 = (b: GraphBuilder) => ['', b.constant({ dtype: 'float32', dims: [4], data: Float32Array.from([1, 1, 1, 0.7]) })];
  assert.throws(
    differentiateOne('Resize', [1, 1, 2, 10], s07, { mode: 'linear' }),
    /inferred output length 6 on axis 3 differs from the 7 onnxruntime's kernel computes/,
  );
});

test('Einsum: repeated indices (diagonals) fail with the equation named', () => {
  assert.throws(
    differentiateOne('Einsum', [3, 3], () => [], { equation: 'ii->i' }, 17, 'float64'),
    /Einsum node '.*'.*repeats an index/,
  );
});
