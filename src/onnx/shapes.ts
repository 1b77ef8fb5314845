// Static type and shape inference over the Graph IR, with folding of small constant (shape) computations.
//
// Used by the reverse-mode differentiator to learn ranks, static sizes and element types, so that gradient
// rules can emit static reductions instead of dynamic shape arithmetic. Inference never throws: whatever
// cannot be worked out (unknown ops, inconsistent inputs) is left unknown.
import { type DType, type HostTensor, sizeOf, typedArrayFor } from '../tensor/host-tensor.js';
import { attrFloat, attrFloats, attrInt, attrInts, attrString, attrTensor, hasAttr } from './attributes.js';
import type { Dim } from './builder.js';
import type { Model, Node } from './ir.js';
import { type TensorProto, type TypeProto, toNumber } from './proto.js';
import { dtypeFromOnnx, tensorFromProto } from './tensor-proto.js';

/** What is known of a value: element type and shape (undefined = unknown rank; a null dim = unknown size). */
export interface ValueType {
  dtype?: DType;
  shape?: Dim[];
}

/** Small tensors (at most this many elements) have their values tracked and folded. */
const MAX_FOLD = 1024;

/** A small tensor of static shape whose elements are known numbers, symbols (a shape's `'batch'`) or unknown (null). */
interface KVal {
  dtype?: DType;
  dims: number[];
  data: Dim[];
}

const INT_TYPES = new Set<DType | undefined>(['int64', 'int32', 'int8', 'uint8']);
const FLOAT_TYPES = new Set<DType | undefined>(['float32', 'float64', 'float16']);

const isNum = (d: Dim | undefined): d is number => typeof d === 'number';
const allNum = (ds: readonly Dim[]): ds is number[] => ds.every(isNum);
const normAxis = (a: number, r: number): number => (a < 0 ? a + r : a);
const copyType = (t: ValueType | undefined): ValueType => ({ dtype: t?.dtype, shape: t?.shape ? [...t.shape] : undefined });

/** Product of dims: a number when all are numbers; a symbol times ones is that symbol; otherwise null. */
function prodDims(ds: readonly Dim[]): Dim {
  let n = 1;
  let sym: Dim | undefined;
  let unknown = false;
  for (const d of ds) {
    if (isNum(d)) n *= d;
    else if (typeof d === 'string' && sym === undefined) sym = d;
    else unknown = true;
  }
  if (n === 0) return 0;
  if (unknown) return null;
  if (sym === undefined) return n;
  return n === 1 ? sym : null;
}

/** Numpy broadcast of two dims. */
function bcastDim(a: Dim, b: Dim): Dim {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (isNum(a) && isNum(b)) return null; // contradiction: leave unknown
  if (isNum(a)) return a;
  if (isNum(b)) return b;
  return null;
}

function bcastShapes(shapes: readonly (readonly Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.length === 0 || shapes.some((s) => s === undefined)) return undefined;
  const r = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s!.length - r + i;
      if (j >= 0) d = bcastDim(d, s![j]);
    }
    out.push(d);
  }
  return out;
}

/** Merge two descriptions of the same dim, preferring the more specific. */
function mergeDim(a: Dim, b: Dim): Dim {
  if (isNum(a)) return a;
  if (isNum(b)) return b;
  return a ?? b;
}

function mergeType(inferred: ValueType, known: ValueType | undefined): ValueType {
  if (!known) return inferred;
  const dtype = inferred.dtype ?? known.dtype;
  let shape = inferred.shape;
  if (!shape) shape = known.shape ? [...known.shape] : undefined;
  else if (known.shape && known.shape.length === shape.length) shape = shape.map((d, i) => mergeDim(d, known.shape![i]));
  return { dtype, shape };
}

/** The type a TypeProto declares (tensor types only). */
function typeFromProto(tp: TypeProto | undefined): ValueType | undefined {
  const tt = tp?.tensorType;
  if (!tt) return undefined;
  const dtype = tt.elemType ? dtypeFromOnnx(tt.elemType) : undefined;
  const shape = tt.shape
    ? (tt.shape.dim ?? []).map((d): Dim => (d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : d.dimParam ? d.dimParam : null))
    : undefined;
  return { dtype, shape };
}

function tensorNumbers(t: HostTensor): number[] {
  const out: number[] = new Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = Number(t.data[i]);
  return out;
}

const I64_MAX = 2n ** 63n - 1n;

function tensorFromNumbers(dtype: DType, dims: number[], vals: number[]): HostTensor {
  const data = typedArrayFor(dtype, vals.length);
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    if (dtype === 'int64') {
      const b = Math.abs(v) >= 2 ** 63 ? (v < 0 ? -I64_MAX : I64_MAX) : BigInt(Math.trunc(v));
      (data as BigInt64Array)[i] = b;
    } else if (dtype === 'bool') (data as Uint8Array)[i] = v ? 1 : 0;
    else (data as unknown as number[])[i] = v;
  }
  return { dtype, dims: [...dims], data };
}

/** For each flat index of `out`, the flat index of the broadcast input of shape `inp`. */
function bcastIndex(out: readonly number[], inp: readonly number[]): number[] {
  const r = out.length;
  const pad = [...Array(r - inp.length).fill(1), ...inp];
  const strides: number[] = new Array(r).fill(0);
  let s = 1;
  for (let i = r - 1; i >= 0; i--) {
    strides[i] = pad[i] === 1 ? 0 : s;
    s *= pad[i];
  }
  const n = sizeOf(out);
  const idx: number[] = new Array(n);
  const ctr: number[] = new Array(r).fill(0);
  for (let k = 0; k < n; k++) {
    let f = 0;
    for (let i = 0; i < r; i++) f += ctr[i] * strides[i];
    idx[k] = f;
    for (let i = r - 1; i >= 0; i--) {
      if (++ctr[i] < out[i]) break;
      ctr[i] = 0;
    }
  }
  return idx;
}

/** Elementwise arithmetic on possibly symbolic elements. */
function arith(op: string, a: Dim, b: Dim, intType: boolean): Dim {
  if (isNum(a) && isNum(b)) {
    switch (op) {
      case 'Add':
        return a + b;
      case 'Sub':
        return a - b;
      case 'Mul':
        return a * b;
      case 'Div':
        return b === 0 ? null : intType ? Math.trunc(a / b) : a / b;
      case 'Mod':
        return b === 0 ? null : intType ? ((a % b) + b) % b : a % b;
      case 'Pow':
        return a ** b;
      case 'Max':
        return Math.max(a, b);
      case 'Min':
        return Math.min(a, b);
      case 'Equal':
        return a === b ? 1 : 0;
      case 'Less':
        return a < b ? 1 : 0;
      case 'Greater':
        return a > b ? 1 : 0;
      case 'LessOrEqual':
        return a <= b ? 1 : 0;
      case 'GreaterOrEqual':
        return a >= b ? 1 : 0;
      case 'And':
        return a && b ? 1 : 0;
      case 'Or':
        return a || b ? 1 : 0;
      case 'Xor':
        return !a !== !b ? 1 : 0;
      default:
        return null;
    }
  }
  // Symbolic elements are sizes: non-negative.
  switch (op) {
    case 'Add':
      return b === 0 ? a : a === 0 ? b : null;
    case 'Sub':
      return b === 0 ? a : null;
    case 'Mul':
      return b === 1 ? a : a === 1 ? b : a === 0 || b === 0 ? 0 : null;
    case 'Div':
      return b === 1 ? a : null;
    case 'Max':
    case 'Min':
      return a === b && a !== null ? a : null;
    case 'Equal':
      if (a === b && typeof a === 'string') return 1;
      if ((isNum(a) && a < 0 && typeof b === 'string') || (isNum(b) && b < 0 && typeof a === 'string')) return 0;
      return null;
    default:
      return null;
  }
}

const UNARY_SAME = new Set([
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
  'Celu',
  'Sigmoid',
  'Tanh',
  'Softplus',
  'Softsign',
  'HardSigmoid',
  'HardSwish',
  'Gelu',
  'Mish',
  'ThresholdedRelu',
  'Shrink',
  'Identity',
  'Not',
  'Sign',
  'Floor',
  'Ceil',
  'Round',
  'Sin',
  'Cos',
  'Tan',
  'Asin',
  'Acos',
  'Atan',
  'Sinh',
  'Cosh',
  'Asinh',
  'Acosh',
  'Atanh',
  'BitwiseNot',
  'Clip',
  'Softmax',
  'LogSoftmax',
  'Hardmax',
  'CumSum',
  'Trilu',
  'LpNormalization',
  'InstanceNormalization',
  'GroupNormalization',
  'LRN',
  'MeanVarianceNormalization',
  'ReverseSequence',
  'Scatter',
  'ScatterElements',
  'ScatterND',
]);
const BINARY_SAME = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'BitShift', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor', 'PRelu']);
const VARIADIC = new Set(['Min', 'Max', 'Sum', 'Mean']);
const COMPARE = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);
const POOLS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const GLOBAL_POOLS = new Set(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool']);
const REDUCES = new Set([
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);

/** The default-domain ops whose output types `TypeEnv.inferNode` works out. */
export const INFERRED_OPS: ReadonlySet<string> = new Set([
  ...UNARY_SAME,
  ...BINARY_SAME,
  ...VARIADIC,
  ...COMPARE,
  ...POOLS,
  ...GLOBAL_POOLS,
  ...REDUCES,
  'IsNaN',
  'IsInf',
  'Dropout',
  'Where',
  'Cast',
  'CastLike',
  'MatMul',
  'MatMulInteger',
  'Gemm',
  'Conv',
  'ConvInteger',
  'ConvTranspose',
  'BatchNormalization',
  'LayerNormalization',
  'Flatten',
  'Reshape',
  'Transpose',
  'Squeeze',
  'Unsqueeze',
  'Concat',
  'Split',
  'Slice',
  'Gather',
  'GatherElements',
  'GatherND',
  'Expand',
  'Tile',
  'Pad',
  'ArgMax',
  'ArgMin',
  'Shape',
  'Size',
  'Constant',
  'ConstantOfShape',
  'Range',
  'NonZero',
  'OneHot',
  'TopK',
  'Einsum',
  'GRU',
  'LSTM',
  'RNN',
  'EyeLike',
  'Resize',
  'Upsample',
  'DepthToSpace',
  'SpaceToDepth',
  'Compress',
  'RandomNormalLike',
  'RandomUniformLike',
  'Bernoulli',
  'RandomNormal',
  'RandomUniform',
  'NegativeLogLikelihoodLoss',
  'SoftmaxCrossEntropyLoss',
  'QuantizeLinear',
  'DequantizeLinear',
  'Det',
]);

/** What every shape rule gets: the node, its op and inputs, and its first input's type. */
interface RuleArgs {
  node: Node;
  op: string;
  ins: string[];
  X: Dim[] | undefined;
  xt: DType | undefined;
  /** The first input's type (a fresh copy). */
  same: ValueType;
}
type ShapeRule = (env: TypeEnv, a: RuleArgs) => (ValueType | undefined)[] | undefined;

/** What every folding rule gets: the node, its op and inputs, its output's inferred type, and an elementwise folder. */
interface FoldArgs {
  node: Node;
  op: string;
  ins: string[];
  outT: ValueType | undefined;
  /** The output's shape when fully static. */
  outShape: number[] | undefined;
  elementwise: (f: (vals: Dim[]) => Dim, dtype: DType | undefined) => KVal | undefined;
}
type FoldRule = (env: TypeEnv, a: FoldArgs) => KVal | undefined;

function eachRule(ops: Iterable<string>, f: ShapeRule): Record<string, ShapeRule> {
  return Object.fromEntries([...ops].map((o) => [o, f]));
}

function eachFold(ops: Iterable<string>, f: FoldRule): Record<string, FoldRule> {
  return Object.fromEntries([...ops].map((o) => [o, f]));
}

/** One map from op-family tables; an op in two families is a bug. */
function ruleTable<F>(...families: Record<string, F>[]): ReadonlyMap<string, F> {
  const m = new Map<string, F>();
  for (const fam of families) {
    for (const [op, f] of Object.entries(fam)) {
      if (m.has(op)) throw new Error(`shape rules: ${op} is in two op families`);
      m.set(op, f);
    }
  }
  return m;
}

/** Known types and small constant values of a graph's values; grows as nodes are inferred. */
export class TypeEnv {
  readonly opset: number;
  types = new Map<string, ValueType>();
  /** Known values: initializers, Constant nodes, and small shape computations folded when all inputs are constant. */
  constants = new Map<string, HostTensor>();
  /** Partially known values of small tensors (elements may be symbolic or unknown). */
  private readonly vals = new Map<string, KVal>();
  /** Values computed by Constant nodes or folding (float values derived from parameters are not folded). */
  private readonly folded = new Set<string>();

  constructor(opset: number) {
    this.opset = opset;
  }

  get(name: string): ValueType | undefined {
    return name ? this.types.get(name) : undefined;
  }

  set(name: string, t: ValueType): void {
    this.types.set(name, copyType(t));
  }

  /** Infer the outputs of one node from what is known of its inputs (never throws for unknown ops). */
  inferNode(node: Node): void {
    let outs: (ValueType | undefined)[] | undefined;
    try {
      outs = this.rule(node);
    } catch {
      outs = undefined;
    }
    if (!outs) outs = this.fallback(node);
    node.outputs.forEach((o, i) => {
      if (o) this.setOut(o, outs![i] ?? {});
    });
    try {
      this.fold(node);
    } catch {
      /* folding is best-effort */
    }
  }

  // ---------------------------------------------------------------------------------------------- helpers

  private setOut(name: string, t: ValueType): void {
    this.types.set(name, mergeType(copyType(t), this.types.get(name)));
  }

  private shape(name: string | undefined): Dim[] | undefined {
    return name ? this.types.get(name)?.shape : undefined;
  }

  private dtype(name: string | undefined): DType | undefined {
    return name ? this.types.get(name)?.dtype : undefined;
  }

  /** The (small) value of `name`, with elements possibly symbolic or unknown. */
  private kval(name: string | undefined): KVal | undefined {
    if (!name) return undefined;
    const v = this.vals.get(name);
    if (v) return v;
    const c = this.constants.get(name);
    if (c && c.dtype !== 'float16' && c.data.length <= MAX_FOLD) {
      const kv: KVal = { dtype: c.dtype, dims: [...c.dims], data: tensorNumbers(c) };
      this.vals.set(name, kv);
      return kv;
    }
    return undefined;
  }

  /** Like kval, but a small value of static shape with nothing known of its elements yields unknown elements. */
  private kvalLoose(name: string | undefined): KVal | undefined {
    const v = this.kval(name);
    if (v || !name) return v;
    const t = this.types.get(name);
    if (t?.shape && allNum(t.shape) && sizeOf(t.shape) <= MAX_FOLD) {
      return { dtype: t.dtype, dims: [...t.shape], data: new Array(sizeOf(t.shape)).fill(null) };
    }
    return undefined;
  }

  /** The value of `name` as a list of numbers, when fully known. */
  private ints(name: string | undefined): number[] | undefined {
    const v = this.kval(name);
    return v && allNum(v.data) ? v.data : undefined;
  }

  /** The element count of a 1-D input whose values are unknown, from its static shape. */
  private len1d(name: string | undefined): number | undefined {
    const s = this.shape(name);
    return s && s.length === 1 && isNum(s[0]) ? s[0] : undefined;
  }

  /** Axes: an attribute before `inputSince`, the input at position `idx` from then on. undefined = not given; null = not known. */
  private axesOf(node: Node, inputSince: number, idx: number, attr = 'axes'): number[] | null | undefined {
    if (this.opset < inputSince) return attrInts(node, attr);
    const name = node.inputs[idx];
    if (!name) return undefined;
    return this.ints(name) ?? null;
  }

  private fallback(node: Node): (ValueType | undefined)[] {
    const dts = node.inputs.filter(Boolean).map((n) => this.dtype(n));
    const d = dts[0];
    const same = node.outputs.length === 1 && d !== undefined && FLOAT_TYPES.has(d) && dts.every((x) => x === d);
    return node.outputs.map(() => (same ? { dtype: d } : {}));
  }

  // ------------------------------------------------------------------------------------------- the rules

  private rule(node: Node): (ValueType | undefined)[] | undefined {
    if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
    const f = TypeEnv.RULES.get(node.opType);
    if (!f) return undefined;
    const ins = node.inputs;
    const x = this.types.get(ins[0] ?? '');
    const X = x?.shape;
    const xt = x?.dtype;
    return f(this, { node, op: node.opType, ins, X, xt, same: { dtype: xt, shape: X ? [...X] : undefined } });
  }

  private matmul(A: Dim[] | undefined, B: Dim[] | undefined): Dim[] | undefined {
    if (!A || !B || A.length === 0 || B.length === 0) return undefined;
    const a = A.length === 1 ? [1, A[0]] : A;
    const b = B.length === 1 ? [B[0], 1] : B;
    const batch = bcastShapes([a.slice(0, -2), b.slice(0, -2)])!;
    const out: Dim[] = [...batch];
    if (A.length > 1) out.push(a[a.length - 2]);
    if (B.length > 1) out.push(b[b.length - 1]);
    return out;
  }

  private gemm(node: Node): ValueType {
    const A = this.shape(node.inputs[0]);
    const B = this.shape(node.inputs[1]);
    const ta = attrInt(node, 'transA', 0) !== 0;
    const tb = attrInt(node, 'transB', 0) !== 0;
    const m = A && A.length === 2 ? A[ta ? 1 : 0] : null;
    let n: Dim = B && B.length === 2 ? B[tb ? 0 : 1] : null;
    const C = this.shape(node.inputs[2]);
    if (n === null && C && C.length >= 1 && isNum(C[C.length - 1]) && C[C.length - 1] !== 1) n = C[C.length - 1];
    return { dtype: this.dtype(node.inputs[0]), shape: [m, n] };
  }

  /** Spatial attributes shared by convolutions and pools. */
  private spatial(node: Node, n: number, kernel: number[]) {
    const strides = attrInts(node, 'strides') ?? new Array(n).fill(1);
    const dil = attrInts(node, 'dilations') ?? new Array(n).fill(1);
    const pads = attrInts(node, 'pads') ?? new Array(2 * n).fill(0);
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    return { kernel, strides, dil, pads, autoPad };
  }

  private convOut(inp: Dim, k: number, s: number, d: number, pb: number, pe: number, autoPad: string, ceil: boolean): Dim {
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return isNum(inp) ? Math.ceil(inp / s) : s === 1 ? inp : null;
    const keff = (k - 1) * d + 1;
    if (autoPad === 'VALID') pb = pe = 0;
    if (!isNum(inp)) return s === 1 && pb + pe + 1 === keff ? inp : null;
    const total = inp + pb + pe - keff;
    let out: number;
    if (ceil) {
      out = Math.ceil(total / s) + 1;
      if ((out - 1) * s >= inp + pb) out--;
    } else out = Math.floor(total / s) + 1;
    return out >= 0 ? out : null;
  }

  private conv(node: Node): Dim[] | undefined {
    const X = this.shape(node.inputs[0]);
    const W = this.shape(node.inputs[1]);
    const r = X?.length ?? W?.length;
    if (r === undefined || r < 2) return undefined;
    const n = r - 2;
    const ks = attrInts(node, 'kernel_shape') ?? (W && W.length === r && allNum(W.slice(2)) ? (W.slice(2) as number[]) : undefined);
    const out: Dim[] = [X ? X[0] : null, W && W.length === r ? W[0] : null];
    const sp = this.spatial(node, n, ks ?? []);
    for (let i = 0; i < n; i++) {
      if (!X || !ks) out.push(null);
      else out.push(this.convOut(X[2 + i], ks[i], sp.strides[i] ?? 1, sp.dil[i] ?? 1, sp.pads[i] ?? 0, sp.pads[i + n] ?? 0, sp.autoPad, false));
    }
    return out;
  }

  private convTranspose(node: Node): Dim[] | undefined {
    const X = this.shape(node.inputs[0]);
    const W = this.shape(node.inputs[1]);
    const r = X?.length ?? W?.length;
    if (r === undefined || r < 2) return undefined;
    const n = r - 2;
    const group = attrInt(node, 'group', 1);
    const ks = attrInts(node, 'kernel_shape') ?? (W && W.length === r && allNum(W.slice(2)) ? (W.slice(2) as number[]) : undefined);
    const m = W && W.length === r && isNum(W[1]) ? W[1] * group : null;
    const out: Dim[] = [X ? X[0] : null, m];
    const outShape = attrInts(node, 'output_shape');
    if (outShape) {
      const sp = outShape.length === r ? outShape.slice(2) : outShape;
      for (let i = 0; i < n; i++) out.push(sp[i] ?? null);
      return out;
    }
    const sp = this.spatial(node, n, ks ?? []);
    const op = attrInts(node, 'output_padding') ?? new Array(n).fill(0);
    for (let i = 0; i < n; i++) {
      const inp = X?.[2 + i];
      const s = sp.strides[i] ?? 1;
      if (!ks || inp === undefined) {
        out.push(null);
        continue;
      }
      if (sp.autoPad === 'SAME_UPPER' || sp.autoPad === 'SAME_LOWER') {
        out.push(isNum(inp) ? inp * s : s === 1 ? inp : null);
        continue;
      }
      const [pb, pe] = sp.autoPad === 'VALID' ? [0, 0] : [sp.pads[i] ?? 0, sp.pads[i + n] ?? 0];
      const extra = (op[i] ?? 0) + (ks[i] - 1) * (sp.dil[i] ?? 1) + 1 - pb - pe;
      out.push(isNum(inp) ? s * (inp - 1) + extra : s === 1 && extra === 1 ? inp : null);
    }
    return out;
  }

  private pool(node: Node): Dim[] | undefined {
    const X = this.shape(node.inputs[0]);
    if (!X || X.length < 2) return undefined;
    const n = X.length - 2;
    const ks = attrInts(node, 'kernel_shape');
    const sp = this.spatial(node, n, ks ?? []);
    const ceil = attrInt(node, 'ceil_mode', 0) !== 0;
    const out: Dim[] = [X[0], X[1]];
    for (let i = 0; i < n; i++) {
      if (!ks) out.push(null);
      else out.push(this.convOut(X[2 + i], ks[i], sp.strides[i] ?? 1, sp.dil[i] ?? 1, sp.pads[i] ?? 0, sp.pads[i + n] ?? 0, sp.autoPad, ceil));
    }
    return out;
  }

  private reshape(node: Node, X: Dim[] | undefined): Dim[] | undefined {
    const v = this.kval(node.inputs[1]);
    if (!v) {
      const k = this.len1d(node.inputs[1]);
      return k === undefined ? undefined : new Array(k).fill(null);
    }
    const allowzero = attrInt(node, 'allowzero', 0) !== 0;
    const out: Dim[] = v.data.map((d, i) => (d === 0 && !allowzero ? (X ? (X[i] ?? null) : null) : d));
    const neg = out.findIndex((d) => d === -1);
    if (neg >= 0) {
      out[neg] = null;
      if (X) {
        // Cancel what is known on both sides: numbers by division, symbols by name.
        const syms = new Map<string, number>();
        let inNum = 1;
        let ok = true;
        for (const d of X) {
          if (isNum(d)) inNum *= d;
          else if (typeof d === 'string') syms.set(d, (syms.get(d) ?? 0) + 1);
          else ok = false;
        }
        let outNum = 1;
        out.forEach((d, i) => {
          if (i === neg) return;
          if (isNum(d)) outNum *= d;
          else if (typeof d === 'string' && (syms.get(d) ?? 0) > 0) syms.set(d, syms.get(d)! - 1);
          else ok = false;
        });
        const left = [...syms.entries()].flatMap(([s, c]) => new Array<string>(c).fill(s));
        if (ok && outNum !== 0 && inNum % outNum === 0) {
          const q = inNum / outNum;
          if (left.length === 0) out[neg] = q;
          else if (left.length === 1 && q === 1) out[neg] = left[0];
        }
      }
    }
    return out.map((d) => (isNum(d) && d < 0 ? null : d));
  }

  private squeeze(node: Node, X: Dim[] | undefined): Dim[] | undefined {
    if (!X) return undefined;
    const axes = this.axesOf(node, 13, 1);
    if (axes === null) {
      const k = this.len1d(node.inputs[1]);
      return k === undefined ? undefined : new Array(X.length - k).fill(null);
    }
    if (axes === undefined || axes.length === 0) {
      if (!allNum(X)) return undefined;
      return X.filter((d) => d !== 1);
    }
    const ax = new Set(axes.map((a) => normAxis(a, X.length)));
    return X.filter((_, i) => !ax.has(i));
  }

  private split(node: Node, X: Dim[] | undefined, xt: DType | undefined): ValueType[] {
    const k = node.outputs.length;
    if (!X) return node.outputs.map(() => ({ dtype: xt }));
    const a = normAxis(attrInt(node, 'axis', 0), X.length);
    const d = X[a];
    let sizes: (number | null)[] | undefined;
    if (this.opset < 13) sizes = attrInts(node, 'split');
    else if (node.inputs[1]) sizes = this.ints(node.inputs[1]) ?? new Array(k).fill(null);
    if (!sizes) {
      const nOut = this.opset >= 18 && hasAttr(node, 'num_outputs') ? attrInt(node, 'num_outputs', k) : k;
      if (!isNum(d)) sizes = new Array(k).fill(null);
      else if (this.opset >= 18 && hasAttr(node, 'num_outputs')) {
        const c = Math.ceil(d / nOut);
        sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(c, d - c * i)));
      } else sizes = new Array(k).fill(d % k === 0 ? d / k : null);
    }
    return node.outputs.map((_, i) => ({ dtype: xt, shape: X.map((dd, j) => (j === a ? (sizes![i] ?? null) : dd)) }));
  }

  /** Start/end/step of a slice along one dim of size `dim`, or undefined. */
  private static sliceLen(dim: number, start: number, end: number, step: number): { start: number; len: number } | undefined {
    if (step === 0) return undefined;
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
      start = Math.min(Math.max(start, 0), dim);
      end = Math.min(Math.max(end, 0), dim);
    } else {
      start = Math.min(Math.max(start, 0), dim - 1);
      end = Math.min(Math.max(end, -1), dim - 1);
    }
    return { start, len: Math.max(0, Math.ceil((end - start) / step)) };
  }

  private sliceParams(node: Node, r: number): { axes: number[]; starts: number[]; ends: number[]; steps: number[] } | null | undefined {
    let starts: number[] | undefined;
    let ends: number[] | undefined;
    let axes: number[] | undefined;
    let steps: number[] | undefined;
    if (this.opset < 10) {
      starts = attrInts(node, 'starts');
      ends = attrInts(node, 'ends');
      axes = attrInts(node, 'axes');
    } else {
      starts = this.ints(node.inputs[1]);
      ends = this.ints(node.inputs[2]);
      if (node.inputs[3]) {
        axes = this.ints(node.inputs[3]);
        if (!axes) return null; // axes unknown: any dim may change
      }
      if (node.inputs[4]) steps = this.ints(node.inputs[4]);
    }
    if (!starts || !ends || (node.inputs[4] && !steps)) {
      if (axes) return { axes: axes.map((a) => normAxis(a, r)), starts: [], ends: [], steps: [] };
      return null;
    }
    axes = (axes ?? starts.map((_, i) => i)).map((a) => normAxis(a, r));
    return { axes, starts, ends, steps: steps ?? axes.map(() => 1) };
  }

  private slice(node: Node, X: Dim[] | undefined): Dim[] | undefined {
    if (!X) return undefined;
    const p = this.sliceParams(node, X.length);
    if (!p) return X.map(() => null);
    const out = [...X];
    p.axes.forEach((a, i) => {
      const d = X[a];
      if (p.starts.length === 0) {
        out[a] = null;
        return;
      }
      const [s, e, st] = [p.starts[i], p.ends[i], p.steps[i]];
      if (isNum(d)) out[a] = TypeEnv.sliceLen(d, s, e, st)?.len ?? null;
      else out[a] = s === 0 && st === 1 && e >= 2 ** 31 - 1 ? d : null;
    });
    return out;
  }

  private pad(node: Node, X: Dim[] | undefined): Dim[] | undefined {
    if (!X) return undefined;
    const r = X.length;
    const pads = this.opset < 11 ? attrInts(node, 'pads') : this.ints(node.inputs[1]);
    if (!pads) return X.map(() => null);
    let axes = X.map((_, i) => i);
    if (this.opset >= 18 && node.inputs[3]) {
      const a = this.ints(node.inputs[3]);
      if (!a) return X.map(() => null);
      axes = a.map((v) => normAxis(v, r));
    }
    const n = axes.length;
    if (pads.length !== 2 * n) return X.map(() => null);
    const out = [...X];
    axes.forEach((a, i) => {
      const d = X[a];
      const add = pads[i] + pads[i + n];
      out[a] = isNum(d) ? d + add : add === 0 ? d : null;
    });
    return out;
  }

  private reduce(node: Node, X: Dim[] | undefined): Dim[] | undefined {
    const since = node.opType === 'ReduceSum' ? 13 : 18;
    const keep = attrInt(node, 'keepdims', 1) !== 0;
    const noop = attrInt(node, 'noop_with_empty_axes', 0) !== 0;
    const axes = this.axesOf(node, since, 1);
    if (!X) return undefined;
    const r = X.length;
    if (axes === null) {
      if (keep) return X.map(() => null);
      const k = this.len1d(node.inputs[1]);
      return k === undefined ? undefined : new Array(r - k).fill(null);
    }
    if (axes === undefined || axes.length === 0) {
      if (noop && this.opset >= since) return [...X];
      return keep ? X.map(() => 1) : [];
    }
    const ax = new Set(axes.map((a) => normAxis(a, r)));
    return keep ? X.map((d, i) => (ax.has(i) ? 1 : d)) : X.filter((_, i) => !ax.has(i));
  }

  private shapeRange(node: Node, r: number): [number, number] {
    if (this.opset < 15) return [0, r];
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    return [clamp(attrInt(node, 'start', 0)), clamp(hasAttr(node, 'end') ? attrInt(node, 'end', r) : r)];
  }

  private constant(node: Node): ValueType {
    const a = node.attributes.find((x) => x.name && x.name !== 'sparse_value');
    const name = node.outputs[0];
    const keep = (t: HostTensor): ValueType => {
      if (name) {
        this.constants.set(name, t);
        this.folded.add(name);
      }
      return { dtype: t.dtype, shape: [...t.dims] };
    };
    switch (a?.name) {
      case 'value': {
        const t = a.t ? tensorFromProto(a.t) : undefined;
        if (t) return keep(t);
        return typeOfProto(a.t);
      }
      case 'value_float':
        return keep(tensorFromNumbers('float32', [], [attrFloat(node, 'value_float', 0)]));
      case 'value_floats': {
        const v = attrFloats(node, 'value_floats', []);
        return keep(tensorFromNumbers('float32', [v.length], v));
      }
      case 'value_int':
        return keep(tensorFromNumbers('int64', [], [attrInt(node, 'value_int', 0)]));
      case 'value_ints': {
        const v = attrInts(node, 'value_ints', []);
        return keep(tensorFromNumbers('int64', [v.length], v));
      }
      case 'value_string':
        return { shape: [] };
      case 'value_strings':
        return { shape: [a.strings?.length ?? 0] };
      default:
        return {};
    }
  }

  private einsum(node: Node): Dim[] | undefined {
    const eq = attrString(node, 'equation', '').replace(/\s/g, '');
    const [lhs, rhs] = eq.split('->');
    const terms = lhs.split(',');
    if (terms.length !== node.inputs.length) return undefined;
    const dims = new Map<string, Dim>();
    const counts = new Map<string, number>();
    let ell: Dim[] | undefined = [];
    for (let t = 0; t < terms.length; t++) {
      const S = this.shape(node.inputs[t]);
      if (!S) return undefined;
      const term = terms[t];
      const letters = term.replace('...', '');
      const e = term.indexOf('...');
      const nEll = S.length - letters.length;
      if (nEll < 0 || (e < 0 && nEll !== 0)) return undefined;
      let j = 0;
      for (let i = 0; i < term.length;) {
        if (term.startsWith('...', i)) {
          ell = bcastShapes([ell, S.slice(j, j + nEll)]);
          j += nEll;
          i += 3;
          continue;
        }
        const c = term[i++];
        const d = S[j++];
        dims.set(c, dims.has(c) ? bcastDim(dims.get(c)!, d) : d);
        counts.set(c, (counts.get(c) ?? 0) + 1);
      }
    }
    const outTerm =
      rhs ??
      (lhs.includes('...') ? '...' : '') +
        [...counts.entries()]
          .filter(([, n]) => n === 1)
          .map(([c]) => c)
          .sort()
          .join('');
    const out: Dim[] = [];
    for (let i = 0; i < outTerm.length;) {
      if (outTerm.startsWith('...', i)) {
        out.push(...(ell ?? []));
        i += 3;
        continue;
      }
      const c = outTerm[i++];
      if (!dims.has(c)) return undefined;
      out.push(dims.get(c)!);
    }
    return out;
  }

  private rnn(node: Node, X: Dim[] | undefined, xt: DType | undefined): ValueType[] {
    const dirs = attrString(node, 'direction', 'forward') === 'bidirectional' ? 2 : 1;
    const layout = attrInt(node, 'layout', 0);
    const gates = node.opType === 'LSTM' ? 4 : node.opType === 'GRU' ? 3 : 1;
    let h: Dim = attrInt(node, 'hidden_size') ?? null;
    const W = this.shape(node.inputs[1]);
    if (h === null && W && W.length === 3 && isNum(W[1])) h = W[1] / gates;
    const [seq, batch]: Dim[] = X && X.length === 3 ? (layout === 0 ? [X[0], X[1]] : [X[1], X[0]]) : [null, null];
    const Y: ValueType = { dtype: xt, shape: layout === 0 ? [seq, dirs, batch, h] : [batch, seq, dirs, h] };
    const Yh: ValueType = { dtype: xt, shape: layout === 0 ? [dirs, batch, h] : [batch, dirs, h] };
    return [Y, Yh, { ...Yh, shape: [...Yh.shape!] }];
  }

  private resize(node: Node, X: Dim[] | undefined): Dim[] | undefined {
    if (!X) return undefined;
    const r = X.length;
    let scales: number[] | undefined;
    let sizes: number[] | undefined;
    if (node.opType === 'Upsample' || this.opset < 11) {
      scales = this.opset >= 9 ? this.ints(node.inputs[1]) : attrFloats(node, 'scales', []);
    } else {
      const sc = this.ints(node.inputs[2]);
      const sz = this.ints(node.inputs[3]);
      if (sz && sz.length > 0) sizes = sz;
      else if (sc && sc.length > 0) scales = sc;
    }
    const axes = (this.opset >= 18 ? attrInts(node, 'axes') : undefined)?.map((a) => normAxis(a, r)) ?? X.map((_, i) => i);
    const out: Dim[] = [...X];
    if (sizes && sizes.length === axes.length) {
      axes.forEach((a, i) => (out[a] = sizes![i]));
      return out;
    }
    if (scales && scales.length === axes.length) {
      axes.forEach((a, i) => {
        const d = X[a];
        out[a] = isNum(d) ? Math.floor(d * scales![i] + 1e-9) : scales![i] === 1 ? d : null;
      });
      return out;
    }
    return X.map(() => null);
  }

  // --------------------------------------------------------------------------------------------- folding

  /** Work out the (small) values of a node's outputs from known input values. */
  private fold(node: Node): void {
    if (node.domain !== '' && node.domain !== 'ai.onnx') return;
    const op = node.opType;
    const ins = node.inputs;
    const outName = node.outputs[0];
    if (!outName || op === 'Constant') return;
    const outT = this.types.get(outName);
    const outShape = outT?.shape && allNum(outT.shape) ? outT.shape : undefined;
    // Float data of parameters is never folded: only shape and index arithmetic, and Constant-derived floats.
    const dataIns = op === 'Shape' || op === 'Size' ? [] : ins.filter(Boolean);
    if (dataIns.some((n) => !this.folded.has(n) && !INT_TYPES.has(this.dtype(n)) && this.dtype(n) !== 'bool' && this.constants.has(n))) return;

    const elementwise = (f: (vals: Dim[]) => Dim, dtype: DType | undefined): KVal | undefined => {
      const vs = ins.filter(Boolean).map((n) => this.kval(n));
      if (vs.some((v) => !v) || !outShape || sizeOf(outShape) > MAX_FOLD) return undefined;
      const idx = vs.map((v) => bcastIndex(outShape, v!.dims));
      const data = Array.from({ length: sizeOf(outShape) }, (_, k) => f(vs.map((v, j) => v!.data[idx[j][k]])));
      return { dtype, dims: [...outShape], data };
    };

    const f = TypeEnv.FOLDS.get(op);
    if (!f) return;
    const res = f(this, { node, op, ins, outT, outShape, elementwise });
    if (!res || res.data.length > MAX_FOLD || sizeOf(res.dims) !== res.data.length) return;
    if (res.data.length > 0 && res.data.every((d) => d === null)) return;
    this.vals.set(outName, res);
    this.folded.add(outName);
    this.setOut(outName, { dtype: res.dtype, shape: [...res.dims] });
    const dtype = res.dtype;
    if (dtype && dtype !== 'float16' && allNum(res.data)) this.constants.set(outName, tensorFromNumbers(dtype, res.dims, res.data));
  }

  /** Elementwise ops, casts and random fills: the shape of the (broadcast) inputs. */
  private static readonly ELEMENTWISE_RULES: Record<string, ShapeRule> = {
    ...eachRule(UNARY_SAME, (env, { same }) => [same]),
    ...eachRule(['IsNaN', 'IsInf'], (env, { X }) => [{ dtype: 'bool', shape: X }]),
    ...eachRule([...BINARY_SAME, ...VARIADIC], (env, { ins, xt }) => [
      { dtype: xt ?? env.dtype(ins[1]), shape: bcastShapes(ins.filter(Boolean).map((n) => env.shape(n))) },
    ]),
    ...eachRule(COMPARE, (env, { ins }) => [{ dtype: 'bool', shape: bcastShapes(ins.map((n) => env.shape(n))) }]),
    Dropout: (env, { node, op, ins, X, xt, same }) => {
      return [same, { dtype: 'bool', shape: X }];
    },
    Where: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: env.dtype(ins[1]) ?? env.dtype(ins[2]), shape: bcastShapes(ins.map((n) => env.shape(n))) }];
    },
    Cast: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: dtypeFromOnnx(attrInt(node, 'to', 0)), shape: X }];
    },
    CastLike: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: env.dtype(ins[1]), shape: X }];
    },
    QuantizeLinear: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: env.dtype(ins[2]) ?? 'uint8', shape: X }];
    },
    DequantizeLinear: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: 'float32', shape: X }];
    },
    ...eachRule(['RandomNormalLike', 'RandomUniformLike', 'Bernoulli'], (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: hasAttr(node, 'dtype') ? dtypeFromOnnx(attrInt(node, 'dtype', 1)) : xt, shape: X }];
    }),
    EyeLike: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: hasAttr(node, 'dtype') ? dtypeFromOnnx(attrInt(node, 'dtype', 1)) : xt, shape: X }];
    },
    ...eachRule(['RandomNormal', 'RandomUniform'], (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: dtypeFromOnnx(attrInt(node, 'dtype', 1)), shape: attrInts(node, 'shape') }];
    }),
  };

  /** Linear algebra, convolutions, pools, normalisations, recurrences, losses and reductions. */
  private static readonly NN_RULES: Record<string, ShapeRule> = {
    ...eachRule(['MatMul', 'MatMulInteger'], (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: op === 'MatMulInteger' ? 'int32' : xt, shape: env.matmul(X, env.shape(ins[1])) }];
    }),
    Gemm: (env, { node, op, ins, X, xt, same }) => {
      return [env.gemm(node)];
    },
    ...eachRule(['Conv', 'ConvInteger'], (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: op === 'ConvInteger' ? 'int32' : xt, shape: env.conv(node) }];
    }),
    ConvTranspose: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.convTranspose(node) }];
    },
    ...eachRule(['MaxPool', 'AveragePool', 'LpPool'], (env, { node, op, ins, X, xt, same }) => {
      const s = env.pool(node);
      return [
        { dtype: xt, shape: s },
        { dtype: 'int64', shape: s },
      ];
    }),
    ...eachRule(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'], (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: X ? X.map((d, i) => (i < 2 ? d : 1)) : undefined }];
    }),
    BatchNormalization: (env, { node, op, ins, X, xt, same }) => {
      const c: Dim[] | undefined = X && X.length >= 2 ? [X[1]] : env.shape(ins[1]);
      const stats = { dtype: env.opset >= 15 ? (env.dtype(ins[3]) ?? xt) : xt, shape: c };
      return [same, stats, stats, stats, stats];
    },
    LayerNormalization: (env, { node, op, ins, X, xt, same }) => {
      const stats: ValueType = { dtype: dtypeFromOnnx(attrInt(node, 'stash_type', 1)) };
      if (X) {
        const a = normAxis(attrInt(node, 'axis', -1), X.length);
        stats.shape = X.map((d, i) => (i < a ? d : 1));
      }
      return [same, stats, stats];
    },
    Det: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: X && X.length >= 2 ? X.slice(0, -2) : undefined }];
    },
    Einsum: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.einsum(node) }];
    },
    ...eachRule(['GRU', 'LSTM', 'RNN'], (env, { node, op, ins, X, xt, same }) => {
      return env.rnn(node, X, xt);
    }),
    ...eachRule(['Resize', 'Upsample'], (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.resize(node, X) }];
    }),
    ...eachRule(['NegativeLogLikelihoodLoss', 'SoftmaxCrossEntropyLoss'], (env, { node, op, ins, X, xt, same }) => {
      const red = attrString(node, 'reduction', 'mean');
      const T = env.shape(ins[1]);
      const loss: ValueType = { dtype: xt, shape: red === 'none' ? T : [] };
      return op === 'SoftmaxCrossEntropyLoss' ? [loss, same] : [loss];
    }),
    ...eachRule(REDUCES, (env, { node, X, xt }) => [{ dtype: xt, shape: env.reduce(node, X) }]),
  };

  /** Ops that move or reshape data without computing on it. */
  private static readonly LAYOUT_RULES: Record<string, ShapeRule> = {
    Flatten: (env, { node, op, ins, X, xt, same }) => {
      if (!X) return [{ dtype: xt, shape: [null, null] }];
      const a = normAxis(attrInt(node, 'axis', 1), X.length);
      return [{ dtype: xt, shape: [prodDims(X.slice(0, a)), prodDims(X.slice(a))] }];
    },
    Reshape: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.reshape(node, X) }];
    },
    Transpose: (env, { node, op, ins, X, xt, same }) => {
      if (!X) return [{ dtype: xt }];
      const perm = attrInts(node, 'perm') ?? X.map((_, i) => X.length - 1 - i);
      return [{ dtype: xt, shape: perm.map((p) => X[p] ?? null) }];
    },
    Squeeze: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.squeeze(node, X) }];
    },
    Unsqueeze: (env, { node, op, ins, X, xt, same }) => {
      const axes = env.axesOf(node, 13, 1);
      if (!X) return [{ dtype: xt }];
      if (!axes) {
        const k = env.len1d(ins[1]);
        return [{ dtype: xt, shape: k === undefined ? undefined : new Array(X.length + k).fill(null) }];
      }
      const r = X.length + axes.length;
      const ax = new Set(axes.map((a) => normAxis(a, r)));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < r; i++) out.push(ax.has(i) ? 1 : X[j++]);
      return [{ dtype: xt, shape: out }];
    },
    Concat: (env, { node, op, ins, X, xt, same }) => {
      const shapes = ins.filter(Boolean).map((n) => env.shape(n));
      const known = shapes.filter((s): s is Dim[] => s !== undefined);
      if (known.length === 0) return [{ dtype: xt }];
      const r = known[0].length;
      const a = normAxis(attrInt(node, 'axis', 0), r);
      const out: Dim[] = [];
      for (let i = 0; i < r; i++) {
        if (i === a) {
          out.push(shapes.every((s) => s !== undefined) ? prodSum(known.map((s) => s[a])) : null);
        } else {
          out.push(known.map((s) => s[i]).reduce(mergeDim));
        }
      }
      return [{ dtype: xt ?? ins.map((n) => env.dtype(n)).find(Boolean), shape: out }];
    },
    Split: (env, { node, op, ins, X, xt, same }) => {
      return env.split(node, X, xt);
    },
    Slice: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.slice(node, X) }];
    },
    Expand: (env, { node, op, ins, X, xt, same }) => {
      const v = env.kval(ins[1]);
      if (v) return [{ dtype: xt, shape: bcastShapes([X, v.data]) }];
      const k = env.len1d(ins[1]);
      return [{ dtype: xt, shape: k === undefined ? undefined : bcastShapes([X, new Array(k).fill(null)]) }];
    },
    Tile: (env, { node, op, ins, X, xt, same }) => {
      if (!X) return [{ dtype: xt }];
      const rep = env.kval(ins[1]);
      if (!rep || rep.data.length !== X.length) return [{ dtype: xt, shape: X.map(() => null) }];
      return [{ dtype: xt, shape: X.map((d, i) => arith('Mul', d, rep.data[i], true)) }];
    },
    Pad: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.pad(node, X) }];
    },
    ...eachRule(['DepthToSpace', 'SpaceToDepth'], (env, { node, op, ins, X, xt, same }) => {
      if (!X || X.length !== 4) return [{ dtype: xt, shape: X ? X.map(() => null) : undefined }];
      const b = attrInt(node, 'blocksize', 1);
      const bb = b * b;
      const [n, c, h, w] = X;
      if (op === 'DepthToSpace') {
        return [{ dtype: xt, shape: [n, isNum(c) ? c / bb : null, isNum(h) ? h * b : null, isNum(w) ? w * b : null] }];
      }
      return [{ dtype: xt, shape: [n, isNum(c) ? c * bb : null, isNum(h) ? h / b : null, isNum(w) ? w / b : null] }];
    }),
  };

  /** Gathers, arg-max/min, selections and one-hot. */
  private static readonly INDEXING_RULES: Record<string, ShapeRule> = {
    Gather: (env, { node, op, ins, X, xt, same }) => {
      const I = env.shape(ins[1]);
      if (!X || !I) return [{ dtype: xt }];
      const a = normAxis(attrInt(node, 'axis', 0), X.length);
      return [{ dtype: xt, shape: [...X.slice(0, a), ...I, ...X.slice(a + 1)] }];
    },
    GatherElements: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: xt, shape: env.shape(ins[1]) }];
    },
    GatherND: (env, { node, op, ins, X, xt, same }) => {
      const I = env.shape(ins[1]);
      const b = attrInt(node, 'batch_dims', 0);
      if (!X || !I || !isNum(I[I.length - 1])) return [{ dtype: xt }];
      return [{ dtype: xt, shape: [...I.slice(0, -1), ...X.slice(b + (I[I.length - 1] as number))] }];
    },
    ...eachRule(['ArgMax', 'ArgMin'], (env, { node, op, ins, X, xt, same }) => {
      if (!X) return [{ dtype: 'int64' }];
      const a = normAxis(attrInt(node, 'axis', 0), X.length);
      const keep = attrInt(node, 'keepdims', 1) !== 0;
      return [{ dtype: 'int64', shape: keep ? X.map((d, i) => (i === a ? 1 : d)) : X.filter((_, i) => i !== a) }];
    }),
    NonZero: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: 'int64', shape: [X ? X.length : null, null] }];
    },
    Compress: (env, { node, op, ins, X, xt, same }) => {
      if (!X) return [{ dtype: xt }];
      const c = env.ints(ins[1]);
      const flat = hasAttr(node, 'axis') ? undefined : prodDims(X);
      const a = hasAttr(node, 'axis') ? normAxis(attrInt(node, 'axis', 0), X.length) : -1;
      const len = a < 0 ? flat : X[a];
      const n = c && isNum(len) ? c.slice(0, len).filter((v) => v !== 0).length : null;
      if (a < 0) return [{ dtype: xt, shape: [n] }];
      return [{ dtype: xt, shape: X.map((d, i) => (i === a ? n : d)) }];
    },
    OneHot: (env, { node, op, ins, X, xt, same }) => {
      const I = env.shape(ins[0]);
      const vt = env.dtype(ins[2]);
      if (!I) return [{ dtype: vt }];
      const r = I.length + 1;
      const a = normAxis(attrInt(node, 'axis', -1), r);
      const depth = env.ints(ins[1]);
      const out = [...I];
      out.splice(a, 0, depth ? Math.trunc(depth[0]) : null);
      return [{ dtype: vt, shape: out }];
    },
    TopK: (env, { node, op, ins, X, xt, same }) => {
      if (!X) return [{ dtype: xt }, { dtype: 'int64' }];
      const a = normAxis(attrInt(node, 'axis', -1), X.length);
      const k = env.opset >= 10 ? (env.ints(ins[1])?.[0] ?? null) : attrInt(node, 'k', 0);
      const s = X.map((d, i) => (i === a ? k : d));
      return [
        { dtype: xt, shape: s },
        { dtype: 'int64', shape: [...s] },
      ];
    },
  };

  /** Ops whose outputs are (shape) values: Shape, Size, Constant, ConstantOfShape, Range. */
  private static readonly VALUE_RULES: Record<string, ShapeRule> = {
    Shape: (env, { node, op, ins, X, xt, same }) => {
      if (!X) return [{ dtype: 'int64', shape: [null] }];
      const [s, e] = env.shapeRange(node, X.length);
      return [{ dtype: 'int64', shape: [Math.max(0, e - s)] }];
    },
    Size: (env, { node, op, ins, X, xt, same }) => {
      return [{ dtype: 'int64', shape: [] }];
    },
    Constant: (env, { node, op, ins, X, xt, same }) => {
      return [env.constant(node)];
    },
    ConstantOfShape: (env, { node, op, ins, X, xt, same }) => {
      const attr = node.attributes.find((a) => a.name === 'value');
      const dtype = attr?.t ? dtypeFromOnnx(attr.t.dataType ?? 0) : 'float32';
      const v = env.kval(ins[0]);
      if (v) return [{ dtype, shape: [...v.data] }];
      const k = env.len1d(ins[0]);
      return [{ dtype, shape: k === undefined ? undefined : new Array(k).fill(null) }];
    },
    Range: (env, { node, op, ins, X, xt, same }) => {
      const [st, li, de] = [env.ints(ins[0]), env.ints(ins[1]), env.ints(ins[2])];
      const n = st && li && de && de[0] !== 0 ? Math.max(Math.ceil((li[0] - st[0]) / de[0]), 0) : null;
      return [{ dtype: xt, shape: [n] }];
    },
  };

  /** Every shape rule by op type (the families above never share an op). */
  private static readonly RULES: ReadonlyMap<string, ShapeRule> = ruleTable(
    TypeEnv.ELEMENTWISE_RULES,
    TypeEnv.NN_RULES,
    TypeEnv.LAYOUT_RULES,
    TypeEnv.INDEXING_RULES,
    TypeEnv.VALUE_RULES,
  );

  /** Shape values and reshapes of known values. */
  private static readonly SHAPE_FOLDS: Record<string, FoldRule> = {
    Shape: (env, { node, op, ins, outT, outShape, elementwise }) => {
      const X = env.shape(ins[0]);
      if (!X) return undefined;
      const [s, e] = env.shapeRange(node, X.length);
      const data = X.slice(s, Math.max(s, e));
      return { dtype: 'int64', dims: [data.length], data };
    },
    Size: (env, { node, op, ins, outT, outShape, elementwise }) => {
      const X = env.shape(ins[0]);
      if (!X) return undefined;
      return { dtype: 'int64', dims: [], data: [prodDims(X)] };
    },
    ...eachFold(['Identity', 'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'], (env, { node, op, ins, outT, outShape, elementwise }) => {
      const v = env.kval(ins[0]);
      if (!v || !outShape || sizeOf(outShape) !== v.data.length) return undefined;
      return { dtype: v.dtype, dims: [...outShape], data: v.data };
    }),
    Expand: (env, { node, op, ins, outT, outShape, elementwise }) => {
      const v = env.kval(ins[0]);
      if (!v || !outShape || sizeOf(outShape) > MAX_FOLD) return undefined;
      const idx = bcastIndex(outShape, v.dims);
      return { dtype: v.dtype, dims: [...outShape], data: idx.map((i) => v.data[i]) };
    },
    ConstantOfShape: (env, { node, op, ins, outT, outShape, elementwise }) => {
      if (!outShape || sizeOf(outShape) > MAX_FOLD) return undefined;
      const t = attrTensor(node, 'value');
      if (!t && hasAttr(node, 'value')) return undefined;
      const val = t && t.dtype !== 'float16' ? Number(t.data[0] ?? 0) : 0;
      return { dtype: t?.dtype ?? 'float32', dims: [...outShape], data: new Array(sizeOf(outShape)).fill(val) };
    },
    Range: (env, { node, op, ins, outT, outShape, elementwise }) => {
      const [st, li, de] = [env.ints(ins[0]), env.ints(ins[1]), env.ints(ins[2])];
      if (!st || !li || !de || de[0] === 0) return undefined;
      const n = Math.max(Math.ceil((li[0] - st[0]) / de[0]), 0);
      if (n > MAX_FOLD) return undefined;
      return { dtype: env.dtype(ins[0]), dims: [n], data: Array.from({ length: n }, (_, i) => st[0] + i * de[0]) };
    },
  };

  /** Casts of known values. */
  private static readonly CAST_FOLDS: Record<string, FoldRule> = {
    ...eachFold(['Cast', 'CastLike'], (env, { node, op, ins, outT, outShape, elementwise }) => {
      const v = env.kval(ins[0]);
      const to = outT?.dtype;
      if (!v || !to) return undefined;
      const conv = (d: Dim): Dim => {
        if (!isNum(d)) return to === 'bool' ? null : d;
        if (to === 'bool') return d ? 1 : 0;
        if (INT_TYPES.has(to)) return Number.isFinite(d) ? Math.trunc(d) : null;
        if (to === 'float32') return Math.fround(d);
        return d;
      };
      return { dtype: to, dims: [...v.dims], data: v.data.map(conv) };
    }),
  };

  /** Gather, Concat and Slice of (partly) known values. */
  private static readonly INDEXING_FOLDS: Record<string, FoldRule> = {
    Gather: (env, { node, op, ins, outT, outShape, elementwise }) => {
      const v = env.kvalLoose(ins[0]);
      const ix = env.kval(ins[1]);
      if (!v || !ix || !allNum(ix.data) || v.dims.length === 0) return undefined;
      const a = normAxis(attrInt(node, 'axis', 0), v.dims.length);
      const outer = sizeOf(v.dims.slice(0, a));
      const inner = sizeOf(v.dims.slice(a + 1));
      const n = v.dims[a];
      const data: Dim[] = [];
      for (let o = 0; o < outer; o++) {
        for (let i of ix.data) {
          if (i < 0) i += n;
          if (i < 0 || i >= n) return undefined;
          for (let j = 0; j < inner; j++) data.push(v.data[(o * n + i) * inner + j]);
        }
      }
      return { dtype: v.dtype, dims: [...v.dims.slice(0, a), ...ix.dims, ...v.dims.slice(a + 1)], data };
    },
    Concat: (env, { node, op, ins, outT, outShape, elementwise }) => {
      const vs = ins.filter(Boolean).map((n) => env.kvalLoose(n));
      if (vs.length === 0 || vs.some((v) => !v)) return undefined;
      const r = vs[0]!.dims.length;
      if (r === 0 || vs.some((v) => v!.dims.length !== r)) return undefined;
      const a = normAxis(attrInt(node, 'axis', 0), r);
      const outer = sizeOf(vs[0]!.dims.slice(0, a));
      const data: Dim[] = [];
      for (let o = 0; o < outer; o++) {
        for (const v of vs) {
          const blk = sizeOf(v!.dims.slice(a));
          for (let j = 0; j < blk; j++) data.push(v!.data[o * blk + j]);
        }
      }
      const dims = [...vs[0]!.dims];
      dims[a] = vs.reduce((s, v) => s + v!.dims[a], 0);
      return { dtype: vs.find((v) => v!.dtype)?.dtype, dims, data };
    },
    Slice: (env, { node, op, ins, outT, outShape, elementwise }) => {
      const v = env.kvalLoose(ins[0]);
      if (!v || v.dims.length === 0) return undefined;
      const p = env.sliceParams(node, v.dims.length);
      if (!p || p.starts.length === 0) return undefined;
      const r = v.dims.length;
      const start = new Array(r).fill(0);
      const step = new Array(r).fill(1);
      const len = [...v.dims];
      for (let i = 0; i < p.axes.length; i++) {
        const sl = TypeEnv.sliceLen(v.dims[p.axes[i]], p.starts[i], p.ends[i], p.steps[i]);
        if (!sl) return undefined;
        start[p.axes[i]] = sl.start;
        step[p.axes[i]] = p.steps[i];
        len[p.axes[i]] = sl.len;
      }
      const strides = new Array(r).fill(1);
      for (let i = r - 2; i >= 0; i--) strides[i] = strides[i + 1] * v.dims[i + 1];
      const n = sizeOf(len);
      const data: Dim[] = [];
      const ctr = new Array(r).fill(0);
      for (let k = 0; k < n; k++) {
        let f = 0;
        for (let i = 0; i < r; i++) f += (start[i] + ctr[i] * step[i]) * strides[i];
        data.push(v.data[f]);
        for (let i = r - 1; i >= 0; i--) {
          if (++ctr[i] < len[i]) break;
          ctr[i] = 0;
        }
      }
      return { dtype: v.dtype, dims: len, data };
    },
  };

  /** Elementwise arithmetic, comparisons and reductions of known values. */
  private static readonly ARITH_FOLDS: Record<string, FoldRule> = {
    Where: (env, { node, op, ins, outT, outShape, elementwise }) => {
      return elementwise(([c, a, b]) => (isNum(c) ? (c ? a : b) : a === b ? a : null), outT?.dtype);
    },
    ...eachFold(['Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Not', 'Sign'], (env, { node, op, ins, outT, outShape, elementwise }) => {
      const f: Record<string, (x: number) => number> = {
        Neg: (x) => -x,
        Abs: Math.abs,
        Sqrt: Math.sqrt,
        Reciprocal: (x) => 1 / x,
        Floor: Math.floor,
        Ceil: Math.ceil,
        Not: (x) => (x ? 0 : 1),
        Sign: Math.sign,
      };
      const keepSym = op === 'Abs';
      return elementwise(([x]) => (isNum(x) ? f[op](x) : keepSym ? x : null), outT?.dtype);
    }),
    ...eachFold(['ReduceProd', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceMean'], (env, { node, op, ins, outT, outShape, elementwise }) => {
      const v = env.kval(ins[0]);
      if (!v || !outShape || sizeOf(outShape) !== 1 || v.data.length === 0) return undefined;
      let acc: Dim;
      if (op === 'ReduceProd') acc = prodDims(v.data);
      else if (!allNum(v.data)) acc = v.data.length === 1 ? v.data[0] : null;
      else if (op === 'ReduceSum') acc = v.data.reduce((s, x) => s + x, 0);
      else if (op === 'ReduceMean') acc = v.data.reduce((s, x) => s + x, 0) / v.data.length;
      else acc = op === 'ReduceMax' ? Math.max(...v.data) : Math.min(...v.data);
      return { dtype: v.dtype, dims: [...outShape], data: [acc] };
    }),
    ...eachFold([...BINARY_SAME, ...VARIADIC, ...COMPARE], (env, { op, ins, outT, elementwise }) => {
      if (op === 'PRelu' || op.startsWith('Bitwise') || op === 'BitShift' || op === 'Mean') return undefined;
      const intType = INT_TYPES.has(env.dtype(ins[0]));
      const name = op === 'Sum' ? 'Add' : op;
      return elementwise((vals) => vals.reduce((a, b) => arith(name, a, b, intType)), outT?.dtype);
    }),
  };

  /** Every folding rule by op type. */
  private static readonly FOLDS: ReadonlyMap<string, FoldRule> = ruleTable(
    TypeEnv.SHAPE_FOLDS,
    TypeEnv.CAST_FOLDS,
    TypeEnv.INDEXING_FOLDS,
    TypeEnv.ARITH_FOLDS,
  );
}

/** Sum of dims along a concatenation axis. */
function prodSum(ds: readonly Dim[]): Dim {
  if (allNum(ds)) return ds.reduce((a, b) => a + b, 0);
  const nonZero = ds.filter((d) => d !== 0);
  return nonZero.length === 1 ? nonZero[0] : null;
}

function typeOfProto(t: TensorProto | undefined): ValueType {
  if (!t) return {};
  return { dtype: dtypeFromOnnx(t.dataType ?? 0), shape: (t.dims ?? []).map(toNumber) };
}

/** Infer the types of every value of a model: seeded from its inputs, initializers and declared value infos. */
export function inferTypes(model: Model): TypeEnv {
  const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  const env = new TypeEnv(imp?.version ?? 18);
  const g = model.graph;
  for (const vi of [...g.valueInfo, ...g.outputs, ...g.inputs]) {
    const t = typeFromProto(vi.type);
    if (t) env.types.set(vi.name, mergeType(t, env.types.get(vi.name)));
  }
  for (const init of g.initializers.values()) {
    if (init.tensor) {
      env.types.set(init.name, { dtype: init.tensor.dtype, shape: [...init.tensor.dims] });
      env.constants.set(init.name, init.tensor);
    } else if (init.opaque) {
      env.types.set(init.name, typeOfProto(init.opaque));
    }
  }
  for (const n of g.nodes) env.inferNode(n);
  return env;
}
