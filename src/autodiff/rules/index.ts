// The registry: one gradient rule per ONNX op, and the ops whose outputs carry no gradient.
import type { GradRule } from '../grad-context.js';
import { Add } from './Add.js';
import { MatMul } from './MatMul.js';
import { Mul } from './Mul.js';
import { Relu } from './Relu.js';
import { Sub } from './Sub.js';
// <imports: elementwise>
// <imports: nn>
// <imports: tensor>
// <imports: recurrent>

/** Marks an op whose outputs are integer, boolean or shape values: gradients stop there. */
export const NOT_DIFFERENTIABLE = 'not-differentiable' as const;

export const RULES: Record<string, GradRule | typeof NOT_DIFFERENTIABLE> = {
  Add,
  Sub,
  Mul,
  MatMul,
  Relu,
  // <rules: elementwise>
  // <rules: nn>
  // <rules: tensor>
  // <rules: recurrent>

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
