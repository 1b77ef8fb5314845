// The registry: one gradient rule per ONNX op, and the ops whose outputs carry no gradient.
import type { GradRule } from '../grad-context.js';
import { Add } from './Add.js';
import { MatMul } from './MatMul.js';
import { Mul } from './Mul.js';
import { Relu } from './Relu.js';
import { Sub } from './Sub.js';
// <imports: elementwise>
import { Abs } from './Abs.js';
import { Cast } from './Cast.js';
import { CastLike } from './CastLike.js';
import { Clip } from './Clip.js';
import { Cos } from './Cos.js';
import { Div } from './Div.js';
import { Dropout } from './Dropout.js';
import { Elu } from './Elu.js';
import { Erf } from './Erf.js';
import { Exp } from './Exp.js';
import { Gelu } from './Gelu.js';
import { HardSigmoid } from './HardSigmoid.js';
import { HardSwish } from './HardSwish.js';
import { Identity } from './Identity.js';
import { LeakyRelu } from './LeakyRelu.js';
import { Log } from './Log.js';
import { LogSoftmax } from './LogSoftmax.js';
import { Max } from './Max.js';
import { Mean } from './Mean.js';
import { Min } from './Min.js';
import { Mod } from './Mod.js';
import { Neg } from './Neg.js';
import { PRelu } from './PRelu.js';
import { Pow } from './Pow.js';
import { Reciprocal } from './Reciprocal.js';
import { Selu } from './Selu.js';
import { Sigmoid } from './Sigmoid.js';
import { Sin } from './Sin.js';
import { Softmax } from './Softmax.js';
import { Softplus } from './Softplus.js';
import { Softsign } from './Softsign.js';
import { Sqrt } from './Sqrt.js';
import { Sum } from './Sum.js';
import { Tanh } from './Tanh.js';
import { Where } from './Where.js';
// <imports: nn>
import { AveragePool } from './AveragePool.js';
import { BatchNormalization } from './BatchNormalization.js';
import { Conv } from './Conv.js';
import { ConvTranspose } from './ConvTranspose.js';
import { DepthToSpace } from './DepthToSpace.js';
import { Einsum } from './Einsum.js';
import { Flatten } from './Flatten.js';
import { GatherElements } from './GatherElements.js';
import { Gemm } from './Gemm.js';
import { GlobalAveragePool } from './GlobalAveragePool.js';
import { GlobalMaxPool } from './GlobalMaxPool.js';
import { LayerNormalization } from './LayerNormalization.js';
import { MaxPool } from './MaxPool.js';
import { Resize } from './Resize.js';
import { ScatterElements } from './ScatterElements.js';
import { SpaceToDepth } from './SpaceToDepth.js';
// <imports: tensor>
import { Compress } from './Compress.js';
import { Concat } from './Concat.js';
import { CumSum } from './CumSum.js';
import { Expand } from './Expand.js';
import { Gather } from './Gather.js';
import { GatherND } from './GatherND.js';
import { Pad } from './Pad.js';
import { ReduceL1 } from './ReduceL1.js';
import { ReduceL2 } from './ReduceL2.js';
import { ReduceLogSum } from './ReduceLogSum.js';
import { ReduceLogSumExp } from './ReduceLogSumExp.js';
import { ReduceMax } from './ReduceMax.js';
import { ReduceMean } from './ReduceMean.js';
import { ReduceMin } from './ReduceMin.js';
import { ReduceProd } from './ReduceProd.js';
import { ReduceSum } from './ReduceSum.js';
import { ReduceSumSquare } from './ReduceSumSquare.js';
import { Reshape } from './Reshape.js';
import { ReverseSequence } from './ReverseSequence.js';
import { ScatterND } from './ScatterND.js';
import { Slice } from './Slice.js';
import { Split } from './Split.js';
import { Squeeze } from './Squeeze.js';
import { Tile } from './Tile.js';
import { TopK } from './TopK.js';
import { Transpose } from './Transpose.js';
import { Trilu } from './Trilu.js';
import { Unsqueeze } from './Unsqueeze.js';
// <imports: recurrent>
import { GRU } from './GRU.js';
import { LSTM } from './LSTM.js';

/** Marks an op whose outputs are integer, boolean or shape values: gradients stop there. */
export const NOT_DIFFERENTIABLE = 'not-differentiable' as const;

export const RULES: Record<string, GradRule | typeof NOT_DIFFERENTIABLE> = {
  Add,
  Sub,
  Mul,
  MatMul,
  Relu,
  // <rules: elementwise>
  Abs,
  Cast,
  CastLike,
  Clip,
  Cos,
  Div,
  Dropout,
  Elu,
  Erf,
  Exp,
  Gelu,
  HardSigmoid,
  HardSwish,
  Identity,
  LeakyRelu,
  Log,
  LogSoftmax,
  Max,
  Mean,
  Min,
  Mod,
  Neg,
  PRelu,
  Pow,
  Reciprocal,
  Selu,
  Sigmoid,
  Sin,
  Softmax,
  Softplus,
  Softsign,
  Sqrt,
  Sum,
  Tanh,
  Where,
  Hardmax: NOT_DIFFERENTIABLE,
  BitShift: NOT_DIFFERENTIABLE,
  BitwiseAnd: NOT_DIFFERENTIABLE,
  BitwiseOr: NOT_DIFFERENTIABLE,
  BitwiseXor: NOT_DIFFERENTIABLE,
  BitwiseNot: NOT_DIFFERENTIABLE,
  // <rules: nn>
  AveragePool,
  BatchNormalization,
  Conv,
  ConvTranspose,
  DepthToSpace,
  Einsum,
  Flatten,
  GatherElements,
  Gemm,
  GlobalAveragePool,
  GlobalMaxPool,
  LayerNormalization,
  MaxPool,
  Resize,
  ScatterElements,
  SpaceToDepth,
  // <rules: tensor>
  Compress,
  Concat,
  CumSum,
  Expand,
  Gather,
  GatherND,
  Pad,
  ReduceL1,
  ReduceL2,
  ReduceLogSum,
  ReduceLogSumExp,
  ReduceMax,
  ReduceMean,
  ReduceMin,
  ReduceProd,
  ReduceSum,
  ReduceSumSquare,
  Reshape,
  ReverseSequence,
  ScatterND,
  Slice,
  Split,
  Squeeze,
  Tile,
  TopK,
  Transpose,
  Trilu,
  Unsqueeze,
  // <rules: recurrent>
  GRU,
  LSTM,

  Shape: NOT_DIFFERENTIABLE,
  Size: NOT_DIFFERENTIABLE,
  Constant: NOT_DIFFERENTIABLE,
  ConstantOfShape: NOT_DIFFERENTIABLE,
  Range: NOT_DIFFERENTIABLE,
  Equal: NOT_DIFFERENTIABLE,
  Less: NOT_DIFFERENTIABLE,
  LessOrEqual: NOT_DIFFERENTIABLE,
  Greater: NOT_DIFFERENTIABLE,
  GreaterOrEqual: NOT_DIFFERENTIABLE,
  Not: NOT_DIFFERENTIABLE,
  And: NOT_DIFFERENTIABLE,
  Or: NOT_DIFFERENTIABLE,
  Xor: NOT_DIFFERENTIABLE,
  ArgMax: NOT_DIFFERENTIABLE,
  ArgMin: NOT_DIFFERENTIABLE,
  NonZero: NOT_DIFFERENTIABLE,
  EyeLike: NOT_DIFFERENTIABLE,
  OneHot: NOT_DIFFERENTIABLE,
  IsNaN: NOT_DIFFERENTIABLE,
  IsInf: NOT_DIFFERENTIABLE,
  Sign: NOT_DIFFERENTIABLE,
  Floor: NOT_DIFFERENTIABLE,
  Ceil: NOT_DIFFERENTIABLE,
  Round: NOT_DIFFERENTIABLE,
  RandomNormal: NOT_DIFFERENTIABLE,
  RandomNormalLike: NOT_DIFFERENTIABLE,
  RandomUniform: NOT_DIFFERENTIABLE,
  RandomUniformLike: NOT_DIFFERENTIABLE,
  Bernoulli: NOT_DIFFERENTIABLE,
};
