// What a graph declares about its values: element types, shapes, and the inputs a caller must feed.
import type { Dim } from './builder.js';
import type { Model, ValueInfo } from './ir.js';
import { toNumber } from './proto.js';
import { dtypeFromOnnx } from './tensor-proto.js';
import type { DType } from '../tensor/host-tensor.js';

/** Element type and shape declared by a value info (`shape` undefined when the rank is unknown). */
export interface DeclaredType {
  /** Element type, or the ONNX type number when scalpel does not compute with it, or undefined when not declared. */
  dtype?: DType | `onnx:${number}`;
  /** Dims: sizes, symbolic names (`'batch'`) or null for unknown. */
  shape?: Dim[];
}

/**
 * The declared element type and shape of a graph input, output or value info.
 *
 * @example declaredType(model.graph.inputs[0]) // { dtype: 'float32', shape: ['batch', 1, 28, 28] }
 */
export function declaredType(v: ValueInfo): DeclaredType {
  const tt = v.type?.tensorType;
  if (!tt) return {};
  const elem = tt.elemType ?? 0;
  const dtype = elem ? (dtypeFromOnnx(elem) ?? (`onnx:${elem}` as const)) : undefined;
  const shape = tt.shape
    ? (tt.shape.dim ?? []).map((d): Dim => (d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : d.dimParam ? d.dimParam : null))
    : undefined;
  return { dtype, shape };
}

/** A shape as text: `[batch, 1, 28, 28]`, unknown dims as `?`, unknown rank as `[...]`. */
export function formatShape(shape: readonly Dim[] | undefined): string {
  if (!shape) return '[...]';
  return `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** The graph inputs a caller must feed: inputs that are not also initializers. */
export function feedInputs(model: Model): ValueInfo[] {
  return model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name));
}
