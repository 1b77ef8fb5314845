import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { float, floats } from '../src/onnx/attributes.js';
import { type Dim, GraphBuilder, makeModel } from '../src/onnx/builder.js';
import type { Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { type TensorProto, TensorProtoType, toNumber } from '../src/onnx/proto.js';
import { INFERRED_OPS, inferTypes, type TypeEnv, type ValueType } from '../src/onnx/shapes.js';
import { dtypeFromOnnx, tensorFromProto } from '../src/onnx/tensor-proto.js';
import { type DType, tensor } from '../src/tensor/host-tensor.js';

const f32 = (dims: number[]) => tensor('float32', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)));

/** Build a graph, infer it at `opset`, and return the environment. */
function infer(build: (b: GraphBuilder) => void, opset = 17): TypeEnv {
  const b = new GraphBuilder();
  build(b);
  return inferTypes(makeModel(b.graph, opset));
}

/** Strip every declared type but the graph inputs', so that what is checked is inferred. */
function stripDeclared(m: Model): void {
  m.graph.outputs = m.graph.outputs.map((o) => ({ name: o.name }));
  m.graph.valueInfo = [];
}

interface Case {
  name: string;
  opset?: number;
  /** Builds the graph and returns the names whose types are checked. */
  build: (b: GraphBuilder) => string | string[];
  want: ValueType | ValueType[];
}

const X = (b: GraphBuilder, shape: Dim[], dtype: DType = 'float32', name = 'x') => b.input(name, dtype, shape);

const cases: Case[] = [
  // Elementwise
  ...[
    'Abs',
    'Neg',
    'Sqrt',
    'Reciprocal',
    'Exp',
    'Log',
    'Erf',
    'Relu',
    'LeakyRelu',
    'Elu',
    'Selu',
    'Sigmoid',
    'Tanh',
    'Softplus',
    'HardSigmoid',
    'Gelu',
    'Identity',
    'Sign',
    'Floor',
    'Ceil',
    'Round',
    'Sin',
    'Cos',
    'Softmax',
    'LogSoftmax',
    'CumSum',
    'Trilu',
  ].map((op): Case => ({
    name: op,
    build: (b) => b.op(op, op === 'CumSum' ? [X(b, ['batch', 3]), b.ints([1])] : [X(b, ['batch', 3])]),
    want: { dtype: 'float32', shape: ['batch', 3] },
  })),
  { name: 'Not', build: (b) => b.op('Not', [X(b, [2], 'bool')]), want: { dtype: 'bool', shape: [2] } },
  {
    name: 'Dropout',
    build: (b) => b.opN('Dropout', [X(b, [2, 3])], 2),
    want: [
      { dtype: 'float32', shape: [2, 3] },
      { dtype: 'bool', shape: [2, 3] },
    ],
  },
  { name: 'Clip', build: (b) => b.op('Clip', [X(b, [4]), b.constant(0), b.constant(6)]), want: { dtype: 'float32', shape: [4] } },
  {
    name: 'Add broadcast with symbol',
    build: (b) => b.op('Add', [X(b, ['batch', 1, 4]), X(b, [3, 1], 'float32', 'y')]),
    want: { dtype: 'float32', shape: ['batch', 3, 4] },
  },
  { name: 'Mul symbol vs number', build: (b) => b.op('Mul', [X(b, ['n', 4]), X(b, [5, 1], 'float32', 'y')]), want: { shape: [5, 4] } },
  { name: 'Sub two symbols', build: (b) => b.op('Sub', [X(b, ['n']), X(b, ['m'], 'float32', 'y')]), want: { shape: [null] } },
  {
    name: 'Max variadic',
    build: (b) => b.op('Max', [X(b, [3, 1]), X(b, [1, 4], 'float32', 'y'), X(b, [4], 'float32', 'z')]),
    want: { dtype: 'float32', shape: [3, 4] },
  },
  { name: 'Pow', build: (b) => b.op('Pow', [X(b, [2, 2]), b.constant(2)]), want: { dtype: 'float32', shape: [2, 2] } },
  { name: 'PRelu', build: (b) => b.op('PRelu', [X(b, ['b', 3, 5]), X(b, [3, 1], 'float32', 's')]), want: { dtype: 'float32', shape: ['b', 3, 5] } },
  ...['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual'].map((op): Case => ({
    name: op,
    build: (b) => b.op(op, [X(b, [2, 3]), X(b, [3], 'float32', 'y')]),
    want: { dtype: 'bool', shape: [2, 3] },
  })),
  { name: 'And', build: (b) => b.op('And', [X(b, [2, 1], 'bool'), X(b, [4], 'bool', 'y')]), want: { dtype: 'bool', shape: [2, 4] } },
  {
    name: 'Where',
    build: (b) => b.op('Where', [X(b, [2, 1], 'bool', 'c'), X(b, [1, 3]), X(b, [3], 'float32', 'y')]),
    want: { dtype: 'float32', shape: [2, 3] },
  },
  { name: 'Cast', build: (b) => b.op('Cast', [X(b, ['b', 2])], { to: 7 }), want: { dtype: 'int64', shape: ['b', 2] } },
  { name: 'CastLike', build: (b) => b.op('CastLike', [X(b, [2]), X(b, [], 'float64', 'y')]), want: { dtype: 'float64', shape: [2] } },
  // MatMul and Gemm
  { name: 'MatMul N-D x 2-D', build: (b) => b.op('MatMul', [X(b, ['b', 3, 4]), b.param('w', f32([4, 5]))]), want: { dtype: 'float32', shape: ['b', 3, 5] } },
  { name: 'MatMul batch broadcast', build: (b) => b.op('MatMul', [X(b, [1, 3, 4]), X(b, [7, 4, 5], 'float32', 'y')]), want: { shape: [7, 3, 5] } },
  { name: 'MatMul 1-D lhs', build: (b) => b.op('MatMul', [X(b, [4]), X(b, [2, 4, 5], 'float32', 'y')]), want: { shape: [2, 5] } },
  { name: 'MatMul 1-D rhs', build: (b) => b.op('MatMul', [X(b, [2, 3, 4]), X(b, [4], 'float32', 'y')]), want: { shape: [2, 3] } },
  { name: 'MatMul 1-D both', build: (b) => b.op('MatMul', [X(b, [4]), X(b, [4], 'float32', 'y')]), want: { shape: [] } },
  {
    name: 'Gemm',
    build: (b) => b.op('Gemm', [X(b, ['b', 4]), b.param('w', f32([4, 5])), b.param('c', f32([5]))]),
    want: { dtype: 'float32', shape: ['b', 5] },
  },
  { name: 'Gemm transA transB', build: (b) => b.op('Gemm', [X(b, [4, 3]), b.param('w', f32([5, 4]))], { transA: 1, transB: 1 }), want: { shape: [3, 5] } },
  // Convolutions
  {
    name: 'Conv strides pads',
    build: (b) => b.op('Conv', [X(b, ['b', 3, 32, 32]), b.param('w', f32([8, 3, 3, 3]))], { strides: [2, 2], pads: [1, 1, 1, 1] }),
    want: { dtype: 'float32', shape: ['b', 8, 16, 16] },
  },
  {
    name: 'Conv dilations',
    build: (b) => b.op('Conv', [X(b, [1, 3, 32, 20]), b.param('w', f32([8, 3, 3, 3]))], { dilations: [2, 1] }),
    want: { shape: [1, 8, 28, 18] },
  },
  {
    name: 'Conv groups asymmetric pads',
    build: (b) => b.op('Conv', [X(b, [1, 8, 10, 10]), b.param('w', f32([16, 2, 3, 3]))], { group: 4, pads: [0, 1, 2, 0] }),
    want: { shape: [1, 16, 10, 9] },
  },
  {
    name: 'Conv SAME_UPPER',
    build: (b) => b.op('Conv', [X(b, [1, 3, 7, 8]), b.param('w', f32([4, 3, 3, 3]))], { auto_pad: 'SAME_UPPER', strides: [2, 2] }),
    want: { shape: [1, 4, 4, 4] },
  },
  {
    name: 'Conv SAME_LOWER',
    build: (b) => b.op('Conv', [X(b, [1, 3, 7]), b.param('w', f32([4, 3, 2]))], { auto_pad: 'SAME_LOWER' }),
    want: { shape: [1, 4, 7] },
  },
  {
    name: 'Conv VALID',
    build: (b) => b.op('Conv', [X(b, [1, 3, 7, 7]), b.param('w', f32([4, 3, 3, 3]))], { auto_pad: 'VALID', strides: [2, 2] }),
    want: { shape: [1, 4, 3, 3] },
  },
  {
    name: 'Conv symbolic spatial, 1x1',
    build: (b) => b.op('Conv', [X(b, ['b', 3, 'h', 'w']), b.param('w', f32([4, 3, 1, 1]))]),
    want: { shape: ['b', 4, 'h', 'w'] },
  },
  {
    name: 'ConvTranspose output_padding',
    build: (b) => b.op('ConvTranspose', [X(b, [1, 4, 5, 5]), b.param('w', f32([4, 2, 3, 3]))], { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] }),
    want: { dtype: 'float32', shape: [1, 2, 10, 9] },
  },
  {
    name: 'ConvTranspose group',
    build: (b) => b.op('ConvTranspose', [X(b, [1, 4, 3, 3]), b.param('w', f32([4, 3, 3, 3]))], { group: 2 }),
    want: { shape: [1, 6, 5, 5] },
  },
  {
    name: 'ConvTranspose dilations',
    build: (b) => b.op('ConvTranspose', [X(b, [1, 1, 3, 3]), b.param('w', f32([1, 1, 2, 2]))], { dilations: [2, 2] }),
    want: { shape: [1, 1, 5, 5] },
  },
  {
    name: 'ConvTranspose output_shape',
    build: (b) => b.op('ConvTranspose', [X(b, [1, 4, 5, 5]), b.param('w', f32([4, 2, 3, 3]))], { strides: [2, 2], output_shape: [11, 12] }),
    want: { shape: [1, 2, 11, 12] },
  },
  {
    name: 'ConvTranspose SAME_UPPER',
    build: (b) => b.op('ConvTranspose', [X(b, [1, 4, 5, 5]), b.param('w', f32([4, 2, 3, 3]))], { strides: [2, 2], auto_pad: 'SAME_UPPER' }),
    want: { shape: [1, 2, 10, 10] },
  },
  // Pools
  {
    name: 'MaxPool floor',
    build: (b) => b.opN('MaxPool', [X(b, ['b', 2, 6, 6])], 2, { kernel_shape: [3, 3], strides: [2, 2] }),
    want: [
      { dtype: 'float32', shape: ['b', 2, 2, 2] },
      { dtype: 'int64', shape: ['b', 2, 2, 2] },
    ],
  },
  {
    name: 'MaxPool ceil_mode',
    build: (b) => b.op('MaxPool', [X(b, [1, 2, 6, 6])], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }),
    want: { shape: [1, 2, 3, 3] },
  },
  {
    name: 'MaxPool ceil_mode, last window in padding dropped',
    build: (b) => b.op('MaxPool', [X(b, [1, 1, 5])], { kernel_shape: [2], strides: [2], pads: [1, 1], ceil_mode: 1 }),
    want: { shape: [1, 1, 3] },
  },
  {
    name: 'MaxPool dilations',
    build: (b) => b.op('MaxPool', [X(b, [1, 1, 8, 8])], { kernel_shape: [2, 2], dilations: [3, 3] }),
    want: { shape: [1, 1, 5, 5] },
  },
  {
    name: 'AveragePool pads count_include_pad',
    build: (b) => b.op('AveragePool', [X(b, [1, 3, 7, 7])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }),
    want: { shape: [1, 3, 7, 7] },
  },
  {
    name: 'AveragePool ceil_mode',
    build: (b) => b.op('AveragePool', [X(b, [1, 3, 5, 5])], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 }),
    want: { shape: [1, 3, 3, 3] },
  },
  { name: 'GlobalAveragePool', build: (b) => b.op('GlobalAveragePool', [X(b, ['b', 3, 7, 7])]), want: { dtype: 'float32', shape: ['b', 3, 1, 1] } },
  { name: 'GlobalMaxPool', build: (b) => b.op('GlobalMaxPool', [X(b, [1, 3, 7])]), want: { shape: [1, 3, 1] } },
  // Normalizations
  {
    name: 'BatchNormalization',
    opset: 15,
    build: (b) => b.opN('BatchNormalization', [X(b, ['b', 3, 4, 4]), ...['s', 'bb', 'm', 'v'].map((n) => b.param(n, f32([3])))], 3, { training_mode: 1 }),
    want: [
      { dtype: 'float32', shape: ['b', 3, 4, 4] },
      { dtype: 'float32', shape: [3] },
      { dtype: 'float32', shape: [3] },
    ],
  },
  {
    name: 'LayerNormalization',
    build: (b) => b.opN('LayerNormalization', [X(b, ['b', 5, 8]), b.param('s', f32([5, 8]))], 3, { axis: 1 }),
    want: [
      { dtype: 'float32', shape: ['b', 5, 8] },
      { dtype: 'float32', shape: ['b', 1, 1] },
      { dtype: 'float32', shape: ['b', 1, 1] },
    ],
  },
  // Shape manipulation
  { name: 'Flatten', build: (b) => b.op('Flatten', [X(b, ['b', 3, 4, 4])]), want: { dtype: 'float32', shape: ['b', 48] } },
  { name: 'Flatten axis 2', build: (b) => b.op('Flatten', [X(b, [2, 3, 4, 5])], { axis: -2 }), want: { shape: [6, 20] } },
  { name: 'Flatten axis 0', build: (b) => b.op('Flatten', [X(b, [2, 3])], { axis: 0 }), want: { shape: [1, 6] } },
  { name: 'Reshape 0 and -1', build: (b) => b.op('Reshape', [X(b, [2, 3, 4]), b.ints([0, -1])]), want: { dtype: 'float32', shape: [2, 12] } },
  { name: 'Reshape -1 first', build: (b) => b.op('Reshape', [X(b, [2, 3, 4]), b.ints([-1, 4, 1])]), want: { shape: [6, 4, 1] } },
  { name: 'Reshape 0 keeps symbol', build: (b) => b.op('Reshape', [X(b, ['b', 3, 4]), b.ints([0, -1])]), want: { shape: ['b', 12] } },
  { name: 'Reshape -1 solves for symbol', build: (b) => b.op('Reshape', [X(b, ['b', 3, 4]), b.ints([-1, 12])]), want: { shape: ['b', 12] } },
  { name: 'Reshape allowzero', opset: 14, build: (b) => b.op('Reshape', [X(b, [0, 3, 4]), b.ints([3, 4, 0])], { allowzero: 1 }), want: { shape: [3, 4, 0] } },
  {
    name: 'Reshape unknown shape value, known length',
    build: (b) => b.op('Reshape', [X(b, [2, 3]), X(b, [3], 'int64', 's')]),
    want: { shape: [null, null, null] },
  },
  { name: 'Transpose', build: (b) => b.op('Transpose', [X(b, ['b', 3, 4])], { perm: [2, 0, 1] }), want: { dtype: 'float32', shape: [4, 'b', 3] } },
  { name: 'Transpose default', build: (b) => b.op('Transpose', [X(b, ['b', 3, 4])]), want: { shape: [4, 3, 'b'] } },
  { name: 'Squeeze axes input (13)', opset: 13, build: (b) => b.op('Squeeze', [X(b, [1, 'b', 1, 4]), b.ints([0, -2])]), want: { shape: ['b', 4] } },
  { name: 'Squeeze axes attribute (11)', opset: 11, build: (b) => b.op('Squeeze', [X(b, [1, 'b', 1, 4])], { axes: [2] }), want: { shape: [1, 'b', 4] } },
  { name: 'Squeeze all ones', opset: 13, build: (b) => b.op('Squeeze', [X(b, [1, 3, 1])]), want: { shape: [3] } },
  { name: 'Unsqueeze axes input (13)', opset: 13, build: (b) => b.op('Unsqueeze', [X(b, ['b', 4]), b.ints([0, -1])]), want: { shape: [1, 'b', 4, 1] } },
  { name: 'Unsqueeze axes attribute (11)', opset: 11, build: (b) => b.op('Unsqueeze', [X(b, ['b', 4])], { axes: [1] }), want: { shape: ['b', 1, 4] } },
  { name: 'Concat', build: (b) => b.op('Concat', [X(b, ['b', 3]), X(b, ['b', 5], 'float32', 'y')], { axis: -1 }), want: { dtype: 'float32', shape: ['b', 8] } },
  {
    name: 'Split input (13)',
    opset: 13,
    build: (b) => b.opN('Split', [X(b, ['b', 10]), b.ints([3, 7])], 2, { axis: 1 }),
    want: [{ shape: ['b', 3] }, { shape: ['b', 7] }],
  },
  { name: 'Split attribute (11)', opset: 11, build: (b) => b.opN('Split', [X(b, [6, 2])], 2, { split: [4, 2] }), want: [{ shape: [4, 2] }, { shape: [2, 2] }] },
  { name: 'Split equal', build: (b) => b.opN('Split', [X(b, [6, 2])], 3), want: [{ shape: [2, 2] }, { shape: [2, 2] }, { shape: [2, 2] }] },
  {
    name: 'Split num_outputs (18)',
    opset: 18,
    build: (b) => b.opN('Split', [X(b, [7])], 3, { num_outputs: 3 }),
    want: [{ shape: [3] }, { shape: [3] }, { shape: [1] }],
  },
  {
    name: 'Slice',
    build: (b) => b.op('Slice', [X(b, ['b', 10, 8]), b.ints([1, 2]), b.ints([1000, -1]), b.ints([1, 2])]),
    want: { dtype: 'float32', shape: ['b', 9, 5] },
  },
  {
    name: 'Slice negative steps',
    build: (b) => b.op('Slice', [X(b, [10, 8]), b.ints([-1, 6]), b.ints([-1000, 0]), b.ints([0, 1]), b.ints([-2, -3])]),
    want: { shape: [5, 2] },
  },
  { name: 'Slice full symbolic', build: (b) => b.op('Slice', [X(b, ['b', 8]), b.ints([0]), b.ints([2 ** 62]), b.ints([0])]), want: { shape: ['b', 8] } },
  {
    name: 'Slice unknown starts keeps rank',
    build: (b) => b.op('Slice', [X(b, [4, 8]), X(b, [1], 'int64', 's'), b.ints([5]), b.ints([1])]),
    want: { shape: [4, null] },
  },
  {
    name: 'Gather axis',
    build: (b) => b.op('Gather', [X(b, ['b', 5, 6]), X(b, [2, 3], 'int64', 'i')], { axis: 1 }),
    want: { dtype: 'float32', shape: ['b', 2, 3, 6] },
  },
  { name: 'Gather scalar', build: (b) => b.op('Gather', [X(b, [5, 6]), b.constant(1, 'int64')]), want: { shape: [6] } },
  { name: 'GatherElements', build: (b) => b.op('GatherElements', [X(b, [5, 6]), X(b, [2, 6], 'int64', 'i')]), want: { dtype: 'float32', shape: [2, 6] } },
  {
    name: 'ScatterElements',
    build: (b) => b.op('ScatterElements', [X(b, [5, 6]), X(b, [2, 6], 'int64', 'i'), X(b, [2, 6], 'float32', 'u')]),
    want: { shape: [5, 6] },
  },
  { name: 'ScatterND', build: (b) => b.op('ScatterND', [X(b, [5, 6]), X(b, [2, 1], 'int64', 'i'), X(b, [2, 6], 'float32', 'u')]), want: { shape: [5, 6] } },
  { name: 'Expand', build: (b) => b.op('Expand', [X(b, [3, 1]), b.ints([2, 1, 6])]), want: { dtype: 'float32', shape: [2, 3, 6] } },
  { name: 'Tile', build: (b) => b.op('Tile', [X(b, ['b', 3]), b.ints([1, 4])]), want: { shape: ['b', 12] } },
  { name: 'Pad input (13)', opset: 13, build: (b) => b.op('Pad', [X(b, ['b', 3, 5]), b.ints([0, 1, 2, 0, 1, 0])]), want: { shape: ['b', 5, 7] } },
  { name: 'Pad attribute (2)', opset: 2, build: (b) => b.op('Pad', [X(b, [1, 3])], { pads: [0, 1, 0, 2] }), want: { shape: [1, 6] } },
  // Reductions
  {
    name: 'ReduceMean axes attribute (17)',
    opset: 17,
    build: (b) => b.op('ReduceMean', [X(b, ['b', 3, 4])], { axes: [-1] }),
    want: { dtype: 'float32', shape: ['b', 3, 1] },
  },
  {
    name: 'ReduceMean axes input (18)',
    opset: 18,
    build: (b) => b.op('ReduceMean', [X(b, ['b', 3, 4]), b.ints([1])], { keepdims: 0 }),
    want: { shape: ['b', 4] },
  },
  { name: 'ReduceMean no axes (18)', opset: 18, build: (b) => b.op('ReduceMean', [X(b, ['b', 3, 4])]), want: { shape: [1, 1, 1] } },
  {
    name: 'ReduceMax noop_with_empty_axes (18)',
    opset: 18,
    build: (b) => b.op('ReduceMax', [X(b, [2, 3])], { noop_with_empty_axes: 1 }),
    want: { shape: [2, 3] },
  },
  { name: 'ReduceSum axes input (13)', opset: 13, build: (b) => b.op('ReduceSum', [X(b, [2, 3, 4]), b.ints([0, 2])], { keepdims: 0 }), want: { shape: [3] } },
  { name: 'ReduceSum attribute (11)', opset: 11, build: (b) => b.op('ReduceSum', [X(b, [2, 3, 4])], { axes: [0, 2] }), want: { shape: [1, 3, 1] } },
  ...['ReduceMin', 'ReduceProd', 'ReduceL2', 'ReduceSumSquare'].map((op): Case => ({
    name: op,
    build: (b) => b.op(op, [X(b, [2, 3])], { axes: [0], keepdims: 0 }),
    want: { dtype: 'float32', shape: [3] },
  })),
  { name: 'ArgMax', build: (b) => b.op('ArgMax', [X(b, ['b', 10])], { axis: 1, keepdims: 0 }), want: { dtype: 'int64', shape: ['b'] } },
  { name: 'ArgMin keepdims', build: (b) => b.op('ArgMin', [X(b, ['b', 10])]), want: { dtype: 'int64', shape: [1, 10] } },
  // Shape ops and constants
  { name: 'Shape', build: (b) => b.op('Shape', [X(b, ['b', 3, 4])]), want: { dtype: 'int64', shape: [3] } },
  { name: 'Shape start/end (15)', opset: 15, build: (b) => b.op('Shape', [X(b, ['b', 3, 4])], { start: 1, end: -1 }), want: { dtype: 'int64', shape: [1] } },
  { name: 'Size', build: (b) => b.op('Size', [X(b, ['b', 3])]), want: { dtype: 'int64', shape: [] } },
  { name: 'Constant value_float', build: (b) => b.op('Constant', [], { value_float: float(1.5) }), want: { dtype: 'float32', shape: [] } },
  { name: 'Constant value_floats', build: (b) => b.op('Constant', [], { value_floats: floats([1, 2]) }), want: { dtype: 'float32', shape: [2] } },
  { name: 'Constant value_ints', build: (b) => b.op('Constant', [], { value_ints: [1, 2, 3] }), want: { dtype: 'int64', shape: [3] } },
  { name: 'ConstantOfShape default', build: (b) => b.op('ConstantOfShape', [b.ints([2, 3])]), want: { dtype: 'float32', shape: [2, 3] } },
  {
    name: 'ConstantOfShape int64',
    build: (b) => b.op('ConstantOfShape', [b.ints([4])], { value: tensor('int64', [1], BigInt64Array.of(1n)) }),
    want: { dtype: 'int64', shape: [4] },
  },
  {
    name: 'Range',
    build: (b) => b.op('Range', [b.constant(0, 'int64'), b.constant(10, 'int64'), b.constant(3, 'int64')]),
    want: { dtype: 'int64', shape: [4] },
  },
  { name: 'NonZero', build: (b) => b.op('NonZero', [X(b, [3, 4])]), want: { dtype: 'int64', shape: [2, null] } },
  {
    name: 'OneHot',
    build: (b) => b.op('OneHot', [X(b, ['b', 3], 'int64'), b.constant(10, 'int64'), b.constant([0, 1])], { axis: 1 }),
    want: { dtype: 'float32', shape: ['b', 10, 3] },
  },
  {
    name: 'TopK',
    build: (b) => b.opN('TopK', [X(b, ['b', 10]), b.ints([3])], 2),
    want: [
      { dtype: 'float32', shape: ['b', 3] },
      { dtype: 'int64', shape: ['b', 3] },
    ],
  },
  {
    name: 'Einsum matmul',
    build: (b) => b.op('Einsum', [X(b, ['b', 3, 4]), X(b, [4, 5], 'float32', 'y')], { equation: 'bij,jk->bik' }),
    want: { dtype: 'float32', shape: ['b', 3, 5] },
  },
  {
    name: 'Einsum implicit with ellipsis',
    build: (b) => b.op('Einsum', [X(b, [7, 3, 4]), X(b, [4, 5], 'float32', 'y')], { equation: '...ij,jk' }),
    want: { shape: [7, 3, 5] },
  },
  { name: 'EyeLike', build: (b) => b.op('EyeLike', [X(b, [3, 4])], { dtype: 7 }), want: { dtype: 'int64', shape: [3, 4] } },
  { name: 'Resize sizes', opset: 13, build: (b) => b.op('Resize', [X(b, [1, 3, 4, 4]), '', '', b.ints([1, 3, 8, 6])]), want: { shape: [1, 3, 8, 6] } },
  { name: 'Resize scales', opset: 13, build: (b) => b.op('Resize', [X(b, ['b', 3, 4, 4]), '', b.constant([1, 1, 2, 1.5])]), want: { shape: ['b', 3, 8, 6] } },
  // Recurrent
  {
    name: 'GRU',
    build: (b) =>
      b.opN('GRU', [X(b, [8, 'b', 6]), b.param('w', f32([2, 36, 6])), b.param('r', f32([2, 36, 12]))], 2, { hidden_size: 12, direction: 'bidirectional' }),
    want: [
      { dtype: 'float32', shape: [8, 2, 'b', 12] },
      { dtype: 'float32', shape: [2, 'b', 12] },
    ],
  },
  {
    name: 'LSTM layout 1',
    opset: 14,
    build: (b) => b.opN('LSTM', [X(b, ['b', 8, 6]), b.param('w', f32([1, 48, 6])), b.param('r', f32([1, 48, 12]))], 3, { layout: 1 }),
    want: [
      { dtype: 'float32', shape: ['b', 8, 1, 12] },
      { dtype: 'float32', shape: ['b', 1, 12] },
      { dtype: 'float32', shape: ['b', 1, 12] },
    ],
  },
];

function check(env: TypeEnv, name: string, want: ValueType, label: string): void {
  const got = env.get(name);
  if (want.dtype !== undefined) assert.equal(got?.dtype, want.dtype, `${label}: dtype of ${name}`);
  if (want.shape !== undefined) assert.deepEqual(got?.shape, want.shape, `${label}: shape of ${name}`);
}

describe('inferNode rules', () => {
  for (const c of cases) {
    test(`${c.name}${c.opset ? ` @${c.opset}` : ''}`, () => {
      let outs: string[] = [];
      const env = infer((b) => {
        const o = c.build(b);
        outs = Array.isArray(o) ? o : [o];
      }, c.opset ?? 17);
      const wants = Array.isArray(c.want) ? c.want : [c.want];
      wants.forEach((w, i) => check(env, outs[i], w, c.name));
    });
  }
});

describe('symbolic propagation and folding', () => {
  test('a small MLP keeps the symbolic batch', () => {
    let out = '';
    const env = infer((b) => {
      const x = b.input('x', 'float32', ['batch', 1, 28, 28]);
      const f = b.op('Flatten', [x]);
      const h = b.op('Relu', [b.op('Add', [b.op('MatMul', [f, b.param('w1', f32([784, 64]))]), b.param('b1', f32([64]))])]);
      const d = b.op('Dropout', [h]);
      out = b.op('Softmax', [b.op('Gemm', [d, b.param('w2', f32([10, 64])), b.param('b2', f32([10]))], { transB: 1 })]);
    });
    check(env, out, { dtype: 'float32', shape: ['batch', 10] }, 'mlp');
  });

  test("PyTorch's dynamic flatten (Shape->Gather->Unsqueeze->Concat->Reshape) resolves", () => {
    for (const batch of [2, 'batch'] as const) {
      let out = '';
      let cat = '';
      const env = infer((b) => {
        const x = b.input('x', 'float32', [batch, 3, 4, 4]);
        const n = b.op('Gather', [b.op('Shape', [x]), b.constant(0, 'int64')], { axis: 0 });
        const u = b.op('Unsqueeze', [n, b.ints([0])]);
        cat = b.op('Concat', [u, b.ints([-1])], { axis: 0 });
        out = b.op('Reshape', [x, cat]);
      }, 13);
      check(env, out, { dtype: 'float32', shape: [batch, 48] }, `flatten ${batch}`);
      if (batch === 2) assert.deepEqual([...(env.constants.get(cat)!.data as BigInt64Array)], [2n, -1n]);
      else assert.equal(env.constants.has(cat), false, 'a symbolic shape is not folded into constants');
    }
  });

  test('Shape of a static input folds into constants; arithmetic on it folds too', () => {
    let s = '';
    let prod = '';
    let cast = '';
    const env = infer((b) => {
      const x = b.input('x', 'float32', [2, 3, 4]);
      s = b.op('Shape', [x]);
      prod = b.op('Mul', [b.op('Slice', [s, b.ints([1]), b.ints([3])]), b.ints([2])]);
      cast = b.op('Cast', [prod], { to: 1 });
    });
    assert.deepEqual([...(env.constants.get(s)!.data as BigInt64Array)], [2n, 3n, 4n]);
    assert.deepEqual([...(env.constants.get(prod)!.data as BigInt64Array)], [6n, 8n]);
    assert.deepEqual([...(env.constants.get(cast)!.data as Float32Array)], [6, 8]);
    check(env, cast, { dtype: 'float32', shape: [2] }, 'cast');
  });

  test('PyTorch expand pattern (ConstantOfShape, Equal, Where) folds', () => {
    let out = '';
    const env = infer((b) => {
      const x = b.input('x', 'float32', [3, 1]);
      const shape = b.ints([2, -1, 5]);
      const ones = b.op('ConstantOfShape', [b.ints([3])], { value: tensor('int64', [1], BigInt64Array.of(1n)) });
      const neg = b.op('Mul', [ones, b.constant(-1, 'int64')]);
      const eq = b.op('Equal', [shape, neg]);
      const fixed = b.op('Where', [eq, ones, shape]);
      out = b.op('Expand', [x, fixed]);
    });
    check(env, out, { dtype: 'float32', shape: [2, 3, 5] }, 'expand');
  });

  test('a Reshape whose shape is a Concat of symbolic pieces keeps its rank', () => {
    let out = '';
    const env = infer((b) => {
      const x = b.input('x', 'float32', ['batch', 12, 16]);
      const s = b.op('Shape', [x]);
      const n = b.op('Unsqueeze', [b.op('Gather', [s, b.constant(0, 'int64')]), b.ints([0])]);
      const n4 = b.op('Mul', [n, b.ints([4])]);
      out = b.op('Reshape', [x, b.op('Concat', [n4, b.ints([12, 4])], { axis: 0 })]);
    });
    check(env, out, { shape: [null, 12, 4] }, 'reshape');
  });

  test('float values of parameters are not folded', () => {
    let s = '';
    const env = infer((b) => {
      const w = b.param('w', f32([4, 2]));
      s = b.op('Slice', [w, b.ints([0]), b.ints([2]), b.ints([0])]);
    });
    check(env, s, { dtype: 'float32', shape: [2, 2] }, 'slice');
    assert.equal(env.constants.has(s), false);
  });

  test('unknown ops leave outputs unknown, keep an obvious dtype, and never throw', () => {
    let a = '';
    let c = '';
    let d = '';
    const env = infer((b) => {
      const x = b.input('x', 'float32', [2, 3]);
      a = b.opN('MyCustomOp', [x], 1, {}, 'custom', 'com.example')[0];
      c = b.op('Conv', ['missing']);
      d = b.op('Reshape', [x, b.ints([5, -1])]); // inconsistent: 6 elements into 5 x ?
      b.op('Gather', [b.op('Shape', [x]), b.constant(7, 'int64')]); // index out of range
      b.op('Einsum', [x], { equation: 'ij,jk->ik' });
    });
    assert.deepEqual(env.get(a), { dtype: 'float32', shape: undefined });
    assert.equal(env.get(c)?.shape, undefined);
    assert.deepEqual(env.get(d)?.shape, [5, null]);
  });

  test('declared value infos seed the environment', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3]);
    const y = b.opN('Custom', [x], 1, {}, 'y', 'com.example')[0];
    b.graph.valueInfo.push({ name: y, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'n' }, { dimValue: 4 }] } } } });
    const z = b.op('Relu', [y]);
    const env = inferTypes(makeModel(b.graph, 17));
    assert.deepEqual(env.get(z), { dtype: 'float32', shape: ['n', 4] });
  });
});

const TORCH = join(import.meta.dirname, 'fixtures', 'torch');

describe('PyTorch-exported fixtures', () => {
  for (const name of ['mlp', 'lenet', 'resnet', 'transformer', 'gru', 'lstm']) {
    test(name, () => {
      const m = readModel(join(TORCH, `${name}.onnx`));
      stripDeclared(m);
      const env = inferTypes(m);
      assert.deepEqual(env.get('logits'), { dtype: 'float32', shape: ['batch', 10] });
      const unknown = m.graph.nodes.flatMap((n) => n.outputs.filter((o) => o && env.get(o)?.shape === undefined).map((o) => `${n.opType} -> ${o}`));
      assert.deepEqual(unknown, [], `outputs without a known rank: ${unknown.join(', ')}`);
    });
  }
});

const BACKEND = '/usr/share/libonnx-testdata/data/node';

/** Decode the test's input tensors; small ones become initializers, so that shape inputs are known. */
function constantInputs(m: Model, dir: string): void {
  const inputs = m.graph.inputs.filter((i) => !m.graph.initializers.has(i.name));
  const shapeFromInput0 = m.graph.nodes.some((n) => n.opType === 'ConstantOfShape');
  inputs.forEach((inp, i) => {
    const f = join(dir, 'test_data_set_0', `input_${i}.pb`);
    if (!existsSync(f)) return;
    try {
      const tp = TensorProtoType.toObject(TensorProtoType.decode(readFileSync(f)), { defaults: false, arrays: true }) as TensorProto;
      if ((tp.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1) > 64) return;
      const t = tensorFromProto(tp);
      // The first input is usually the data: keep it a graph input so that the rules, not folding, give its consumers' types.
      if (t && (i > 0 || t.dims.length === 0 || shapeFromInput0)) m.graph.initializers.set(inp.name, { name: inp.name, tensor: t });
    } catch {
      /* not a tensor (sequence, optional): leave it an input */
    }
  });
}

/** Ops whose output sizes depend on input data: a less specific (null) size is expected there. */
const DATA_DEPENDENT = new Set(['NonZero']);

describe('ONNX backend node tests (libonnx-testdata)', { skip: !existsSync(BACKEND) && 'libonnx-testdata not installed' }, () => {
  test('inferred output types agree with the declared static ones', () => {
    let compared = 0;
    let exact = 0;
    let skipped = 0;
    const contradictions: string[] = [];
    const lessSpecific: string[] = [];
    for (const name of readdirSync(BACKEND).sort()) {
      const dir = join(BACKEND, name);
      if (!existsSync(join(dir, 'model.onnx'))) continue;
      const m = readModel(join(dir, 'model.onnx'));
      const opset = m.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
      if (opset === undefined || opset > 18) continue;
      if (m.graph.nodes.some((n) => (n.domain !== '' && n.domain !== 'ai.onnx') || !INFERRED_OPS.has(n.opType))) {
        skipped++;
        continue;
      }
      const declared = m.graph.outputs.map((o) => ({ name: o.name, tt: o.type?.tensorType }));
      stripDeclared(m);
      constantInputs(m, dir);
      const env = inferTypes(m);
      for (const o of declared) {
        const dims = o.tt?.shape
          ? (o.tt.shape.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : null))
          : undefined;
        if (!dims || dims.some((d) => d === null)) continue;
        compared++;
        const dtype = dtypeFromOnnx(o.tt?.elemType ?? 0);
        const got = env.get(o.name);
        const s = got?.shape;
        const msg = `${name}/${o.name}: declared ${dtype}[${dims}] inferred ${got?.dtype}[${s ?? '?'}] (${m.graph.nodes.map((n) => n.opType).join(',')})`;
        if ((dtype && got?.dtype && dtype !== got.dtype) || (s && (s.length !== dims.length || s.some((d, i) => typeof d === 'number' && d !== dims[i])))) {
          contradictions.push(msg);
        } else if (!s || s.some((d) => typeof d !== 'number') || (dtype && !got?.dtype)) {
          if (!m.graph.nodes.some((n) => DATA_DEPENDENT.has(n.opType))) lessSpecific.push(msg);
        } else exact++;
      }
    }
    console.log(
      `backend node tests: ${compared} outputs compared, ${exact} exact, ${contradictions.length} contradictions, ${lessSpecific.length} less specific; ${skipped} models skipped (ops not covered)`,
    );
    assert.ok(compared > 500, `only ${compared} outputs compared`);
    assert.deepEqual(contradictions, [], `inferred types contradict the declared ones:\n${contradictions.join('\n')}`);
    assert.deepEqual(lessSpecific, [], `inferred types less specific than the declared ones:\n${lessSpecific.join('\n')}`);
  });
});
