// Gradient rules of the tensor group (shapes, indexing, reductions) against central finite differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import type { AttrValue } from '../src/onnx/attributes.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { caseName, checkRule, type InputSpec, type RuleCase } from './helpers/rule-check.js';
import { checkSecondOrder, checkVariant } from './helpers/tensor-check.js';

const I = (values: number[], shape: number[] = [values.length]): InputSpec => ({ shape, dtype: 'int64', domain: { ints: values } });
const X = (...shape: number[]): InputSpec => ({ shape });
const V = (shape: number[], values: number[]): InputSpec => ({ shape, domain: { values } });
const B = (values: number[]): InputSpec => ({ shape: [values.length], dtype: 'bool', domain: { ints: values } });
const OPEN = 2 ** 53 - 1;

/** Reduce-op cases: keepdims 0/1, negative and absent axes, at opset 13 (axes attribute, except ReduceSum) and 18 (input). */
function reduceCases(op: string, domain?: InputSpec['domain']): RuleCase[] {
  const x: InputSpec = { shape: [3, 4, 2], domain };
  const out: RuleCase[] = [];
  const variants: { axes?: number[]; keepdims: number; noop?: number }[] = [
    { axes: [1], keepdims: 1 },
    { axes: [0, -1], keepdims: 0 },
    { axes: [-2], keepdims: 0 },
    { keepdims: 0 },
    { keepdims: 1 },
  ];
  for (const opset of [13, 18]) {
    const axesInput = op === 'ReduceSum' || opset >= 18;
    for (const v of variants) {
      const attrs: Record<string, AttrValue> = { keepdims: v.keepdims };
      const inputs = [x];
      if (v.axes && axesInput) inputs.push(I(v.axes));
      else if (v.axes) attrs.axes = v.axes;
      out.push({ op, inputs, attrs, opset, name: `${op} opset ${opset} axes ${v.axes ? v.axes.join(',') : 'all'} keepdims ${v.keepdims}` });
    }
    if (axesInput) {
      out.push({ op, inputs: [x, I([])], attrs: { keepdims: 0, noop_with_empty_axes: 1 }, opset, name: `${op} opset ${opset} empty axes noop` });
    }
  }
  return out;
}

const CASES: RuleCase[] = [
  // Reshape, Transpose, Squeeze, Unsqueeze
  { op: 'Reshape', inputs: [X(2, 3, 4), I([0, -1])] },
  { op: 'Reshape', inputs: [X(2, 3, 4), I([4, -1, 2])] },
  { op: 'Reshape', inputs: [X(6), I([2, 3])], opset: 13 },
  { op: 'Transpose', inputs: [X(2, 3, 4)], attrs: { perm: [2, 0, 1] } },
  { op: 'Transpose', inputs: [X(2, 3, 4)], attrs: { perm: [1, 0, 2] } },
  { op: 'Transpose', inputs: [X(2, 3, 4)] },
  { op: 'Squeeze', inputs: [X(2, 1, 3, 1), I([-1])], opset: 13 },
  { op: 'Squeeze', inputs: [X(2, 1, 3, 1), I([1, 3])], opset: 18 },
  { op: 'Squeeze', inputs: [X(2, 1, 3, 1)] },
  { op: 'Unsqueeze', inputs: [X(2, 3), I([0, -1])], opset: 13 },
  { op: 'Unsqueeze', inputs: [X(2, 3), I([1])], opset: 18 },

  // Concat: three inputs of different sizes along the axis
  { op: 'Concat', inputs: [X(1, 3), X(2, 3), X(3, 3)], attrs: { axis: 0 } },
  { op: 'Concat', inputs: [X(2, 1, 3), X(2, 4, 3), X(2, 2, 3)], attrs: { axis: 1 } },
  { op: 'Concat', inputs: [X(2, 1, 3), X(2, 4, 3), X(2, 2, 3)], attrs: { axis: -2 }, opset: 13 },
  { op: 'Concat', inputs: [X(2, 1), X(2, 2), X(2, 3)], attrs: { axis: -1 } },
  { op: 'Concat', inputs: [X(2, 1), X(2, 2), X(2, 3)], attrs: { axis: 1 }, wrt: [0, 2], name: 'Concat wrt inputs 0 and 2' },

  // Split: equal parts, explicit sizes (input from 13), num_outputs (18)
  { op: 'Split', inputs: [X(2, 6)], attrs: { axis: 1 }, outputs: 3, opset: 13 },
  { op: 'Split', inputs: [X(2, 6), I([1, 2, 3])], attrs: { axis: 1 }, outputs: 3, opset: 13 },
  { op: 'Split', inputs: [X(5, 2)], attrs: { axis: 0, num_outputs: 3 }, outputs: 3, opset: 18 },
  { op: 'Split', inputs: [X(2, 6), I([4, 2])], attrs: { axis: -1 }, outputs: 2, opset: 18 },

  // Slice: unit steps (Pad), other steps (scatter), negative starts, axes subsets, absent axes
  { op: 'Slice', inputs: [X(4, 5), I([1]), I([3]), I([0])] },
  { op: 'Slice', inputs: [X(4, 5), I([0, 1]), I([-1, 100]), I([0, 1])], opset: 13 },
  { op: 'Slice', inputs: [X(4, 5), I([-3]), I([OPEN]), I([1])] },
  { op: 'Slice', inputs: [X(4, 5), I([0]), I([5]), I([1]), I([2])] },
  { op: 'Slice', inputs: [X(4, 5), I([-1]), I([-OPEN]), I([0]), I([-1])], opset: 13 },
  { op: 'Slice', inputs: [X(4, 5), I([-2, 3]), I([0, 0]), I([1, 0]), I([-2, -1])] },
  { op: 'Slice', inputs: [X(3, 4, 5), I([1, 0]), I([4, 2]), I([2, 0])] },
  { op: 'Slice', inputs: [X(3, 4, 5), I([1, -3]), I([3, -1])], name: 'Slice without axes' },
  { op: 'Slice', inputs: [X(3, 4, 5), I([0, 1]), I([OPEN, 4]), I([-1, 1]), I([3, 2])] },

  // Gather: repeated indices accumulate; any axis; indices of any rank; negative indices
  { op: 'Gather', inputs: [X(5, 3), I([1, 3, 1, 0, 3, 1])], attrs: { axis: 0 }, opset: 13 },
  { op: 'Gather', inputs: [X(5, 3), I([1, 3, 1, 0, 3, 1])], attrs: { axis: 0 }, opset: 17 },
  { op: 'Gather', inputs: [X(3, 4, 2), I([0, -1, 2, 3, -4, 0], [2, 3])], attrs: { axis: 1 }, opset: 13 },
  { op: 'Gather', inputs: [X(3, 4, 2), I([0, -1, 2, 3, -4, 0], [2, 3])], attrs: { axis: 1 }, opset: 18 },
  { op: 'Gather', inputs: [X(2, 5), I([4, 4, -1, 0])], attrs: { axis: -1 }, opset: 13 },
  { op: 'Gather', inputs: [X(3, 4, 2), I([-1], [])], attrs: { axis: 1 }, opset: 13, name: 'Gather one constant index (Pad route)' },
  { op: 'Gather', inputs: [X(4, 3), I([2], [])], attrs: { axis: 0 }, opset: 17, name: 'Gather one constant index, axis 0' },
  { op: 'Gather', inputs: [X(4, 3), I([2], [])], attrs: { axis: 0 } },
  { op: 'Gather', inputs: [X(4, 3), I([-2], [])], attrs: { axis: 1 }, opset: 13 },
  { op: 'Gather', inputs: [X(6), I([5, 1, 5, 5, 0, 2], [3, 2])], opset: 15 },
  {
    op: 'Gather',
    inputs: [X(5, 2, 3), I([4, -1, 0, 2, 0, 4], [2, 3])],
    attrs: { axis: 0 },
    opset: 13,
    name: 'Gather embedding rows [2,3] ids, opset 13 (sorted segment sums)',
  },
  {
    op: 'Gather',
    inputs: [X(5, 2, 3), I([4, -1, 0, 2, 0, 4], [2, 3])],
    attrs: { axis: 0 },
    opset: 16,
    name: 'Gather embedding rows [2,3] ids, opset 16 (ScatterND add)',
  },

  // GatherElements, GatherND, ScatterND, ScatterElements
  { op: 'GatherElements', inputs: [X(3, 4), I([0, 0, 3, 1, 2, 2, -1, 0, 1, 1, 1, 1], [3, 4])], attrs: { axis: 1 }, opset: 13 },
  { op: 'GatherElements', inputs: [X(3, 4), I([0, 0, 3, 1, 2, 2, -1, 0, 1, 1, 1, 1], [3, 4])], attrs: { axis: 1 }, opset: 17 },
  { op: 'GatherElements', inputs: [X(3, 4), I([2, 0, 2, 2, 0, 0, 1, 2], [2, 4])], attrs: { axis: 0 }, opset: 13 },
  { op: 'GatherND', inputs: [X(3, 4), I([0, 1, 2, 3, 0, 1, -1, 0, 0, 1], [5, 2])], opset: 13 },
  { op: 'GatherND', inputs: [X(3, 4), I([0, 1, 2, 3, 0, 1, -1, 0, 0, 1], [5, 2])], opset: 17 },
  { op: 'GatherND', inputs: [X(3, 4, 2), I([2, 0, 2], [3, 1])], opset: 13 },
  { op: 'GatherND', inputs: [X(2, 3, 4), I([1, 1, 2, 0], [2, 2, 1])], attrs: { batch_dims: 1 }, opset: 17 },
  { op: 'ScatterND', inputs: [X(4, 3), I([1, 3], [2, 1]), X(2, 3)], opset: 13 },
  { op: 'ScatterND', inputs: [X(4, 3), I([1, 3, 1], [3, 1]), X(3, 3)], attrs: { reduction: 'add' }, opset: 16 },
  { op: 'ScatterND', inputs: [X(3, 4), I([0, 1, 2, 3, 1, 1], [3, 2]), X(3)], opset: 18 },
  { op: 'ScatterElements', inputs: [X(3, 4), I([2, 0, 1, 1, 0, 1, 2, 0], [2, 4]), X(2, 4)], attrs: { axis: 0 }, opset: 13 },
  { op: 'ScatterElements', inputs: [X(3, 4), I([2, 0, 1, 1, 2, 0, 1, 1], [2, 4]), X(2, 4)], attrs: { axis: 0, reduction: 'add' }, opset: 16 },

  // Expand, Tile, Pad, CumSum
  { op: 'Expand', inputs: [X(3, 1), I([2, 3, 4])] },
  { op: 'Expand', inputs: [X(1), I([3])], opset: 13 },
  { op: 'Expand', inputs: [X(2, 1, 3), I([4, 1])] },
  { op: 'Tile', inputs: [X(2, 3), I([2, 1])] },
  { op: 'Tile', inputs: [X(2, 3, 2), I([1, 3, 2])], opset: 13 },
  { op: 'Pad', inputs: [X(2, 3), I([1, 0, 2, 1])], opset: 13 },
  { op: 'Pad', inputs: [X(2, 3), I([1, 0, 2, 1]), X()], name: 'Pad with a constant value' },
  { op: 'Pad', inputs: [X(3, 4), I([0, -1, 1, 2])], name: 'Pad with negative pads' },
  { op: 'Pad', inputs: [X(2, 3, 2), I([1, -1, 2, 0]), { shape: [], absent: true }, I([2, -2])], opset: 18, name: 'Pad with axes (opset 18)' },
  { op: 'CumSum', inputs: [X(3, 4), I([1], [])] },
  { op: 'CumSum', inputs: [X(3, 4), I([0], [])], attrs: { exclusive: 1 } },
  { op: 'CumSum', inputs: [X(3, 4), I([-1], [])], attrs: { reverse: 1 } },
  { op: 'CumSum', inputs: [X(3, 4), I([1], [])], attrs: { exclusive: 1, reverse: 1 }, opset: 13 },

  // Reductions
  ...reduceCases('ReduceSum'),
  ...reduceCases('ReduceMean'),
  ...reduceCases('ReduceMax'),
  ...reduceCases('ReduceMin'),
  ...reduceCases('ReduceSumSquare'),
  ...reduceCases('ReduceL2'),
  ...reduceCases('ReduceL1', 'nonzero'),
  ...reduceCases('ReduceLogSum', 'positive'),
  ...reduceCases('ReduceLogSumExp'),
  ...reduceCases('ReduceProd'),
  // Zeros, one or two per group: the product of the others is exact where dY·Y/X would divide by zero.
  {
    op: 'ReduceProd',
    inputs: [V([2, 4], [0, 1.5, -2, 0.7, 0, 0, 1.2, -0.8])],
    attrs: { axes: [1], keepdims: 0 },
    opset: 13,
    name: 'ReduceProd with zeros, opset 13',
  },
  {
    op: 'ReduceProd',
    inputs: [V([2, 4], [0.5, 0, -2, 0.7, 1.1, 0, 0, -0.8]), I([0])],
    attrs: { keepdims: 1 },
    opset: 18,
    name: 'ReduceProd with zeros, axis 0, opset 18',
  },
  { op: 'ReduceProd', inputs: [V([2, 3], [1.3, 0, -0.6, 0.9, 1.1, -1.4])], attrs: { keepdims: 0 }, opset: 18, name: 'ReduceProd with a zero, all axes' },

  // TopK: values differentiable, indices not; both outputs in the loss
  ...[13, 17].flatMap((opset): RuleCase[] => [
    { op: 'TopK', inputs: [X(3, 5), I([2])], outputs: 2, opset },
    { op: 'TopK', inputs: [X(4, 3), I([3])], attrs: { axis: 0, largest: 0 }, outputs: 2, opset },
  ]),
  { op: 'TopK', inputs: [X(2, 4, 3), I([2])], attrs: { axis: 1, sorted: 0 }, outputs: 2 },
  { op: 'TopK', inputs: [X(2, 5), I([5])], attrs: { axis: -1, largest: 0 }, outputs: 2, name: 'TopK k = the whole axis' },
  { op: 'TopK', inputs: [X(6), I([1])], outputs: 2, name: 'TopK 1-D, k 1' },

  // Trilu (opset 14): k absent, positive, negative; lower; batched
  ...[14, 17].flatMap((opset): RuleCase[] => [
    { op: 'Trilu', inputs: [X(3, 4)], opset },
    { op: 'Trilu', inputs: [X(3, 4), I([1], [])], attrs: { upper: 0 }, opset },
  ]),
  { op: 'Trilu', inputs: [X(2, 3, 3), I([-1], [])], opset: 14 },
  { op: 'Trilu', inputs: [X(4, 3), I([-2], [])], attrs: { upper: 0 } },

  // ReverseSequence: time-major and batch-major, lengths from 1 to the whole sequence
  { op: 'ReverseSequence', inputs: [X(4, 3, 2), I([4, 1, 3])], attrs: { time_axis: 0, batch_axis: 1 }, opset: 13 },
  { op: 'ReverseSequence', inputs: [X(3, 4), I([2, 4, 1])], attrs: { time_axis: 1, batch_axis: 0 } },

  // Compress: along an axis, with a condition shorter than the axis, and flattened (no axis)
  { op: 'Compress', inputs: [X(3, 4), B([1, 0, 1])], attrs: { axis: 0 }, opset: 13 },
  { op: 'Compress', inputs: [X(3, 4), B([0, 1, 1])], attrs: { axis: 1 } },
  { op: 'Compress', inputs: [X(2, 3, 2), B([1, 0, 1])], attrs: { axis: -2 } },
  { op: 'Compress', inputs: [X(3, 4), B([1, 0, 0, 1, 1, 0, 1])], name: 'Compress without axis (flattened), short condition' },
];

for (const c of CASES) test(c.name ?? `${caseName(c)} opset ${c.opset ?? 17}`, () => checkRule(c));

// Symbolic shapes and run-time integer inputs: the Shape-based paths of the rules.
const DYNAMIC: [RuleCase, { symbolic?: boolean; feedInts?: boolean }][] = [
  [{ op: 'Reshape', inputs: [X(2, 3, 4), I([0, -1])] }, { symbolic: true }],
  [{ op: 'Squeeze', inputs: [X(2, 1, 3), I([1])] }, { symbolic: true }],
  [{ op: 'Concat', inputs: [X(2, 1, 3), X(2, 4, 3), X(2, 2, 3)], attrs: { axis: -2 } }, { symbolic: true }],
  [{ op: 'Split', inputs: [X(2, 6), I([1, 2, 3])], attrs: { axis: 1 }, outputs: 3 }, { feedInts: true }],
  [{ op: 'Split', inputs: [X(2, 6)], attrs: { axis: -1, num_outputs: 2 }, outputs: 2, opset: 18 }, { symbolic: true }],
  [{ op: 'Slice', inputs: [X(4, 5), I([-3, 1]), I([OPEN, -1]), I([1, 0])] }, { symbolic: true }],
  [{ op: 'Slice', inputs: [X(4, 5), I([-3, 1]), I([OPEN, -1]), I([1, 0])] }, { feedInts: true }],
  [
    { op: 'Slice', inputs: [X(4, 5), I([-3, 1]), I([OPEN, -1]), I([1, 0])], opset: 13 },
    { symbolic: true, feedInts: true },
  ],
  [{ op: 'Slice', inputs: [X(4, 5), I([-1]), I([-OPEN]), I([0]), I([-2])] }, { symbolic: true }],
  [{ op: 'Slice', inputs: [X(4, 5), I([3]), I([0]), I([1]), I([-1])], opset: 13 }, { feedInts: true }],
  [{ op: 'Gather', inputs: [X(3, 4, 2), I([0, -1, 2, 3, -4, 0], [2, 3])], attrs: { axis: 1 }, opset: 13 }, { symbolic: true }],
  [
    { op: 'Gather', inputs: [X(3, 4, 2), I([0, -1, 2, 3, -4, 0], [2, 3])], attrs: { axis: 1 } },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'Gather', inputs: [X(5, 3), I([4, -1, 0, 2, 0, 4], [2, 3])], opset: 13 },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'Gather', inputs: [X(5, 3), I([4, -1, 0, 2, 0, 4], [2, 3])], opset: 17 },
    { symbolic: true, feedInts: true },
  ],
  [{ op: 'GatherND', inputs: [X(3, 4), I([0, 1, 2, 3, 0, 1], [3, 2])], opset: 13 }, { symbolic: true }],
  [
    { op: 'Expand', inputs: [X(3, 1), I([2, 3, 4])] },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'Tile', inputs: [X(2, 3), I([2, 3])] },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'Pad', inputs: [X(3, 4), I([0, -1, 1, 2])] },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'ReduceSum', inputs: [X(3, 4, 2), I([0, 2])], attrs: { keepdims: 0 } },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'ReduceMean', inputs: [X(3, 4, 2), I([-1])], attrs: { keepdims: 0 }, opset: 18 },
    { symbolic: true, feedInts: true },
  ],
  [{ op: 'ReduceMean', inputs: [X(3, 4, 2)], attrs: { axes: [1], keepdims: 1 }, opset: 13 }, { symbolic: true }],
  [
    { op: 'ReduceMax', inputs: [X(3, 4, 2), I([1])], attrs: { keepdims: 0 }, opset: 18 },
    { symbolic: true, feedInts: true },
  ],
  [{ op: 'ReduceLogSumExp', inputs: [X(3, 4, 2)], attrs: { keepdims: 0 }, opset: 13 }, { symbolic: true }],
  [{ op: 'ReduceProd', inputs: [X(3, 4, 2)], attrs: { axes: [0, 2], keepdims: 0 }, opset: 13 }, { symbolic: true }],
  [{ op: 'ReduceProd', inputs: [X(3, 4, 2), I([1])], attrs: { keepdims: 1 }, opset: 18 }, { symbolic: true }],
  [{ op: 'TopK', inputs: [X(3, 5), I([2])], outputs: 2 }, { symbolic: true }],
  [
    { op: 'TopK', inputs: [X(3, 5), I([2])], attrs: { axis: 0 }, outputs: 2 },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'Trilu', inputs: [X(2, 3, 4), I([1], [])] },
    { symbolic: true, feedInts: true },
  ],
  [
    { op: 'ReverseSequence', inputs: [X(4, 3, 2), I([4, 1, 3])], attrs: { time_axis: 0, batch_axis: 1 } },
    { symbolic: true, feedInts: true },
  ],
  [{ op: 'Compress', inputs: [X(3, 4), B([0, 1, 1])], attrs: { axis: 1 } }, { symbolic: true }],
  [
    { op: 'Compress', inputs: [X(3, 4), B([1, 0, 0, 1, 1, 0, 1])] },
    { symbolic: true, feedInts: true },
  ],
];
for (const [c, o] of DYNAMIC) {
  test(`${caseName(c)} opset ${c.opset ?? 17}${o.symbolic ? ' symbolic shapes' : ''}${o.feedInts ? ' run-time ints' : ''}`, () => checkVariant(c, o));
}

// Second order: the ops the first differentiation emits must themselves differentiate.
const SECOND: RuleCase[] = [
  { op: 'Gather', inputs: [X(5, 3), I([1, 3, 1, 0, 3, 1])], opset: 13 },
  { op: 'Gather', inputs: [X(5, 3), I([1, 3, 1, 0, 3, 1])], opset: 17 },
  { op: 'Gather', inputs: [X(5, 3), I([4, -1, 0, 2, 0, 4], [2, 3])], opset: 16 },
  { op: 'Gather', inputs: [X(3, 4, 2), I([0, -1, 2, 3, -4, 0], [2, 3])], attrs: { axis: 1 }, opset: 13 },
  { op: 'Gather', inputs: [X(3, 4, 2), I([0, -1, 2, 3, -4, 0], [2, 3])], attrs: { axis: 1 }, opset: 18 },
  { op: 'GatherND', inputs: [X(3, 4), I([0, 1, 2, 3, 0, 1], [3, 2])], opset: 13 },
  { op: 'Concat', inputs: [X(2, 1, 3), X(2, 4, 3), X(2, 2, 3)], attrs: { axis: 1 } },
  { op: 'Split', inputs: [X(2, 6), I([1, 2, 3])], attrs: { axis: 1 }, outputs: 3, opset: 13 },
  { op: 'Slice', inputs: [X(4, 5), I([1]), I([3]), I([0])] },
  { op: 'Slice', inputs: [X(4, 5), I([-2, 3]), I([0, 0]), I([1, 0]), I([-2, -1])], opset: 13 },
  { op: 'Slice', inputs: [X(4, 5), I([-2, 3]), I([0, 0]), I([1, 0]), I([-2, -1])], opset: 17 },
  { op: 'ReduceMean', inputs: [X(3, 4, 2)], attrs: { axes: [1], keepdims: 0 }, opset: 13 },
  { op: 'ReduceMean', inputs: [X(3, 4, 2), I([0, 2])], attrs: { keepdims: 1 }, opset: 18 },
  { op: 'ReduceMax', inputs: [X(3, 4, 2)], attrs: { axes: [1], keepdims: 0 }, opset: 13 },
  { op: 'ReduceMax', inputs: [X(3, 4, 2), I([-1])], attrs: { keepdims: 1 }, opset: 18 },
  { op: 'ReduceL2', inputs: [X(3, 4)], attrs: { axes: [1], keepdims: 0 }, opset: 13 },
  { op: 'ReduceLogSumExp', inputs: [X(3, 4)], attrs: { keepdims: 1 }, opset: 13 },
  { op: 'Transpose', inputs: [X(2, 3, 4)], attrs: { perm: [2, 0, 1] } },
  { op: 'Expand', inputs: [X(3, 1), I([2, 3, 4])] },
  { op: 'Tile', inputs: [X(2, 3), I([2, 1])] },
  { op: 'Pad', inputs: [X(3, 4), I([0, -1, 1, 2])] },
  { op: 'CumSum', inputs: [X(3, 4), I([1], [])], attrs: { exclusive: 1 } },
  { op: 'ScatterND', inputs: [X(4, 3), I([1, 3], [2, 1]), X(2, 3)], opset: 13 },
  { op: 'GatherElements', inputs: [X(3, 4), I([0, 0, 3, 1, 2, 2, -1, 0, 1, 1, 1, 1], [3, 4])], attrs: { axis: 1 }, opset: 13 },
  { op: 'ReduceProd', inputs: [X(3, 4)], attrs: { axes: [1], keepdims: 0 }, opset: 13 },
  { op: 'ReduceProd', inputs: [V([2, 3], [1.3, 0, -0.6, 0.9, 1.1, -1.4]), I([0, 1])], attrs: { keepdims: 1 }, opset: 18 },
  { op: 'TopK', inputs: [X(3, 5), I([2])], attrs: { axis: 1 }, outputs: 2 },
  { op: 'Trilu', inputs: [X(3, 4), I([1], [])], attrs: { upper: 0 } },
  { op: 'ReverseSequence', inputs: [X(4, 3, 2), I([4, 1, 3])], attrs: { time_axis: 0, batch_axis: 1 } },
  { op: 'Compress', inputs: [X(3, 4), B([1, 0, 1])], attrs: { axis: 0 } },
];
for (const c of SECOND) test(`second order: ${caseName(c)} opset ${c.opset ?? 17}`, () => checkSecondOrder(c));
test('second order with symbolic shapes: Gather opset 13', () =>
  checkSecondOrder({ op: 'Gather', inputs: [X(3, 4, 2), I([0, -1, 2, 3, -4, 0], [2, 3])], attrs: { axis: 1 }, opset: 13 }, { symbolic: true }));
test('second order with symbolic shapes: Slice step -2', () =>
  checkSecondOrder({ op: 'Slice', inputs: [X(4, 5), I([-1]), I([-OPEN]), I([0]), I([-2])], opset: 13 }, { symbolic: true }));

// ------------------------------------------------------------------------------------------ direct checks

const f64 = (dims: number[], v: number[]): HostTensor => ({ dtype: 'float64', dims, data: Float64Array.from(v) });

/** d(sum(op(x)))/dx for a one-node graph. */
async function gradOfSum(op: string, x: HostTensor, extra: (b: GraphBuilder) => string[], attrs: Record<string, AttrValue>, opset: number): Promise<number[]> {
  const b = new GraphBuilder();
  b.input('x', 'float64', x.dims);
  const y = b.op(op, ['x', ...extra(b)], attrs);
  const loss = b.op('ReduceSum', [y], { keepdims: 0 });
  b.output(loss, 'float64', []);
  const { model, gradients } = differentiate(makeModel(b.graph, opset), { of: loss, wrt: ['x'] });
  const out = await (await compile(model)).run({ x });
  return Array.from(out[gradients.get('x')!].data as Float64Array);
}

test('ReduceMax and ReduceMin share the gradient equally among tied elements', async () => {
  const x = f64([2, 3], [1, 3, 3, 2, 2, 2]);
  assert.deepEqual(await gradOfSum('ReduceMax', x, () => [], { axes: [1] }, 13), [0, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3]);
  assert.deepEqual(await gradOfSum('ReduceMin', x, (b) => [b.ints([1])], {}, 18), [1, 0, 0, 1 / 3, 1 / 3, 1 / 3]);
});

test('ReduceProd is exact at zeros: the product of the other elements', async () => {
  const x = f64([2, 3], [0, 2, 3, 0, 0, 5]);
  assert.deepEqual(await gradOfSum('ReduceProd', x, () => [], { axes: [1], keepdims: 0 }, 13), [6, 0, 0, 0, 0, 0]);
  assert.deepEqual(await gradOfSum('ReduceProd', x, (b) => [b.ints([0])], { keepdims: 1 }, 18), [0, 0, 5, 0, 2, 3]);
});

test('TopK scatters dY to the picked positions only', async () => {
  const b = new GraphBuilder();
  b.input('x', 'float64', [2, 4]);
  const [values] = b.opN('TopK', ['x', b.ints([2])], 2, { axis: 1 });
  const r = b.param('r', f64([2, 2], [1, 2, 3, 4]));
  const loss = b.op('ReduceSum', [b.op('Mul', [values, r])], { keepdims: 0 });
  b.output(loss, 'float64', []);
  const { model, gradients } = differentiate(makeModel(b.graph, 17), { of: loss, wrt: ['x'] });
  const out = await (await compile(model)).run({ x: f64([2, 4], [0.5, 3, -1, 2, 7, 1, 4, -2]) });
  assert.deepEqual(Array.from(out[gradients.get('x')!].data as Float64Array), [0, 1, 0, 2, 3, 0, 4, 0]);
});

test('ReduceProd with axes computed at run time says what it needs', () => {
  const b = new GraphBuilder();
  b.input('x', 'float64', [2, 3]);
  b.input('axes', 'int64', [1]);
  const loss = b.op('ReduceSum', [b.op('ReduceProd', ['x', 'axes'], { keepdims: 0 })], { keepdims: 0 });
  b.output(loss, 'float64', []);
  assert.throws(() => differentiate(makeModel(b.graph, 18), { of: loss, wrt: ['x'] }), /ReduceProd node .*constant axes/);
});

test('ReduceL2 has a zero gradient where the norm is zero', async () => {
  const x = f64([2, 2], [0, 0, 3, 4]);
  assert.deepEqual(await gradOfSum('ReduceL2', x, () => [], { axes: [1], keepdims: 0 }, 13), [0, 0, 0.6, 0.8]);
});

test('Gather accumulates repeated indices exactly, at opsets 13 and 17', async () => {
  const x = f64([4, 2], [0, 1, 2, 3, 4, 5, 6, 7]);
  for (const opset of [13, 17]) {
    const grad = await gradOfSum('Gather', x, (b) => [b.ints([3, 1, 3, 3, -1, 0])], { axis: 0 }, opset);
    assert.deepEqual(grad, [1, 1, 1, 1, 0, 0, 4, 4], `opset ${opset}`);
  }
});

test('Split: outputs that nothing uses get zero gradients', async () => {
  for (const opset of [13, 18]) {
    const b = new GraphBuilder();
    b.input('x', 'float64', [2, 6]);
    const attrs = opset >= 18 ? { axis: 1, num_outputs: 3 } : { axis: 1 };
    const [, mid] = b.opN('Split', ['x'], 3, attrs);
    const loss = b.op('ReduceSum', [b.op('Mul', [mid, mid])], { keepdims: 0 });
    b.output(loss, 'float64', []);
    const x = f64([2, 6], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const { model, gradients } = differentiate(makeModel(b.graph, opset), { of: loss, wrt: ['x'] });
    const out = await (await compile(model)).run({ x });
    assert.deepEqual(Array.from(out[gradients.get('x')!].data as Float64Array), [0, 0, 6, 8, 0, 0, 0, 0, 18, 20, 0, 0]);
    const res = await gradcheck(makeModel(b.graph, opset), { of: loss, wrt: ['x'], feeds: { x } });
    assert.ok(res[0].relError < 1e-5);
  }
});

test('Pad in reflect mode says its gradient is not supported', () => {
  const b = new GraphBuilder();
  b.input('x', 'float64', [2, 3]);
  const loss = b.op('ReduceSum', [b.op('Pad', ['x', b.ints([0, 1, 0, 1])], { mode: 'reflect' })], { keepdims: 0 });
  b.output(loss, 'float64', []);
  assert.throws(() => differentiate(makeModel(b.graph, 13), { of: loss, wrt: ['x'] }), /Pad node .*mode 'reflect'/);
});

test('Shape, Size and NonZero stop gradients: only the data path contributes', async () => {
  // loss = sum(Expand(a, Shape(c)) * Size(c)) + sum(c * Σ shape(NonZero(c))); float32: NonZero has no double kernel.
  const b = new GraphBuilder();
  b.input('a', 'float32', [1, 3]);
  b.input('c', 'float32', [2, 3]);
  const e = b.op('Expand', ['a', b.op('Shape', ['c'])]);
  const size = b.op('Cast', [b.op('Size', ['c'])], { to: 1 });
  const nz = b.op('Cast', [b.op('ReduceSum', [b.op('Shape', [b.op('NonZero', ['c'])])], { keepdims: 0 })], { to: 1 });
  const loss = b.op('Add', [b.op('ReduceSum', [b.op('Mul', [e, size])], { keepdims: 0 }), b.op('ReduceSum', [b.op('Mul', ['c', nz])], { keepdims: 0 })]);
  b.output(loss, 'float32', []);
  const f32 = (dims: number[], v: number[]): HostTensor => ({ dtype: 'float32', dims, data: Float32Array.from(v) });
  const feeds = { a: f32([1, 3], [1, 2, 3]), c: f32([2, 3], [1, 0, 2, 3, 0, 4]) };
  const { model, gradients } = differentiate(makeModel(b.graph, 17), { of: loss, wrt: ['a', 'c'] });
  const out = await (await compile(model)).run(feeds);
  assert.deepEqual(Array.from(out[gradients.get('a')!].data as Float32Array), [12, 12, 12]);
  // NonZero's output has shape [2, 4]: sum of the shape = 6.
  assert.deepEqual(Array.from(out[gradients.get('c')!].data as Float32Array), [6, 6, 6, 6, 6, 6]);
});
