// What a gradient rule sees: its forward node's inputs and outputs, their gradients, and an emitter.
import type { AttrValue } from '../onnx/attributes.js';
import { attrFloat, attrInt, attrInts, attrString, hasAttr } from '../onnx/attributes.js';
import type { Dim, GraphBuilder } from '../onnx/builder.js';
import type { Node } from '../onnx/ir.js';
import type { TypeEnv, ValueType } from '../onnx/shapes.js';
import type { DType } from '../tensor/host-tensor.js';

export type Attrs = Record<string, AttrValue | undefined>;

/** The emitter that rules and the differentiator share: appends nodes and keeps types known. */
export class Emitter {
  constructor(
    readonly b: GraphBuilder,
    readonly env: TypeEnv,
  ) {}

  get opset(): number {
    return this.env.opset;
  }

  /** Append a node with one output: `op('Mul', a, b)`, or with attributes last: `op('Transpose', x, { perm: [1, 0] })`. */
  op(opType: string, ...args: (string | Attrs)[]): string {
    const last = args[args.length - 1];
    const attrs = typeof last === 'object' ? (args.pop() as Attrs) : undefined;
    return this.opN(opType, args as string[], 1, attrs)[0];
  }

  /** Append a node with `n` outputs. */
  opN(opType: string, inputs: readonly string[], n: number, attrs?: Attrs): string[] {
    const outs = this.b.opN(opType, inputs, n, attrs, `${opType}_grad`.toLowerCase());
    this.env.inferNode(this.b.graph.nodes[this.b.graph.nodes.length - 1]);
    return outs;
  }

  private track(name: string): string {
    this.env.inferNode(this.b.graph.nodes[this.b.graph.nodes.length - 1]);
    return name;
  }

  type(name: string): ValueType | undefined {
    return this.env.get(name);
  }

  /** The static shape of a value, when known. */
  shape(name: string): Dim[] | undefined {
    return this.env.get(name)?.shape;
  }

  rank(name: string): number | undefined {
    return this.env.get(name)?.shape?.length;
  }

  dtype(name: string): DType {
    return this.env.get(name)?.dtype ?? 'float32';
  }

  /** A scalar constant of the same float type as `like`. */
  scalar(v: number, like: string): string {
    const dt = this.dtype(like);
    return this.track(this.b.constant(v, dt === 'float64' ? 'float64' : 'float32', 'c'));
  }

  /** A 1-D int64 constant. */
  ints(values: readonly number[]): string {
    return this.track(this.b.ints(values, 'ints'));
  }

  /** ReduceSum over `axes` (opset-13 form: axes as an input). An empty list is the identity. */
  reduceSum(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    return this.op('ReduceSum', x, this.ints(axes), { keepdims: keepdims ? 1 : 0 });
  }

  /** ReduceMean over `axes`, in the form the graph's opset takes (attribute before 18, input from 18). */
  reduceMean(x: string, axes: readonly number[], keepdims: boolean): string {
    if (axes.length === 0) return x;
    if (this.opset >= 18) return this.op('ReduceMean', x, this.ints(axes), { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceMean', x, { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  unsqueeze(x: string, axes: readonly number[]): string {
    return axes.length === 0 ? x : this.op('Unsqueeze', x, this.ints(axes));
  }

  squeeze(x: string, axes: readonly number[]): string {
    return axes.length === 0 ? x : this.op('Squeeze', x, this.ints(axes));
  }

  /** Zeros with the shape and float type of `like`. */
  zerosLike(like: string): string {
    return this.filledLike(like, 0);
  }

  onesLike(like: string): string {
    return this.filledLike(like, 1);
  }

  private filledLike(like: string, v: number): string {
    const shape = this.shape(like);
    if (shape && shape.length === 0) return this.scalar(v, like);
    return this.op('Expand', this.scalar(v, like), this.op('Shape', like));
  }

  /**
   * Sum `x` down to the shape of `like`, undoing numpy broadcasting. Static when both shapes are
   * known; otherwise computes the reduced axes at run time.
   */
  unbroadcast(x: string, like: string): string {
    const xs = this.shape(x);
    const ls = this.shape(like);
    if (xs && ls) {
      const lead = xs.length - ls.length;
      const axes: number[] = [];
      let staticOk = lead >= 0;
      for (let i = 0; staticOk && i < xs.length; i++) {
        const ld = i < lead ? undefined : ls[i - lead];
        if (ld === undefined) axes.push(i);
        else if (ld === 1 && xs[i] !== 1) {
          if (xs[i] === null) staticOk = false;
          else axes.push(i);
        } else if (ld !== xs[i] && !(typeof ld === 'number' && typeof xs[i] === 'number' && ld === xs[i])) {
          if (ld === null || xs[i] === null || typeof ld === 'string' || typeof xs[i] === 'string') {
            // Symbolic vs symbolic with different names, or unknown: cannot decide statically.
            if (!(typeof ld === 'string' && typeof xs[i] === 'string')) staticOk = false;
          }
        }
      }
      if (staticOk) {
        if (axes.length === 0) return x;
        const summed = this.reduceSum(x, axes, true);
        return lead > 0
          ? this.squeeze(
              summed,
              Array.from({ length: lead }, (_, i) => i),
            )
          : summed;
      }
    }
    // Dynamic: reduce every axis where the shapes differ (leading axes padded with 0 always differ).
    const sx = this.op('Shape', x);
    const sl = this.op('Shape', like);
    const rankDiff = this.op('Sub', this.op('Size', sx), this.op('Size', sl));
    const pad = this.op('ConstantOfShape', this.op('Reshape', rankDiff, this.ints([1])), {
      value: { dtype: 'int64', dims: [1], data: new BigInt64Array([0n]) },
    });
    const padded = this.op('Concat', pad, sl, { axis: 0 });
    const differ = this.op('Not', this.op('Equal', sx, padded));
    const axes = this.op('Reshape', this.op('NonZero', differ), this.ints([-1]));
    const summed = this.op('ReduceSum', x, axes, { keepdims: 1, noop_with_empty_axes: 1 });
    return this.op('Reshape', summed, sl);
  }
}

/** The context one gradient rule runs in (names after onnxruntime's gradient builders). */
export class GradContext extends Emitter {
  constructor(
    b: GraphBuilder,
    env: TypeEnv,
    readonly node: Node,
    private readonly outGrads: (string | undefined)[],
    private readonly needed: boolean[],
    readonly inGrads: (string | undefined)[],
  ) {
    super(b, env);
  }

  /** Forward input i ('' when the optional input is absent). */
  I(i: number): string {
    return this.node.inputs[i] ?? '';
  }

  /** Forward output i. */
  O(i: number): string {
    return this.node.outputs[i] ?? '';
  }

  /** Gradient flowing into output i (zeros when nothing downstream uses it). */
  GO(i: number): string {
    const g = this.outGrads[i];
    if (g) return g;
    const z = this.zerosLike(this.O(i));
    this.outGrads[i] = z;
    return z;
  }

  hasGO(i: number): boolean {
    return this.outGrads[i] !== undefined;
  }

  /** Whether input i needs a gradient (it depends on a value being differentiated). */
  needs(i: number): boolean {
    return this.needed[i] ?? false;
  }

  /** Set the gradient of input i. */
  setGI(i: number, grad: string): void {
    this.inGrads[i] = grad;
  }

  attrInt(name: string, dflt: number): number {
    return attrInt(this.node, name, dflt);
  }

  attrInts(name: string, dflt: number[]): number[] {
    return attrInts(this.node, name, dflt);
  }

  attrFloat(name: string, dflt: number): number {
    return attrFloat(this.node, name, dflt);
  }

  attrString(name: string, dflt: string): string {
    return attrString(this.node, name, dflt);
  }

  hasAttr(name: string): boolean {
    return hasAttr(this.node, name);
  }

  /** Normalise a possibly negative axis against the rank of value `of`; throws when the rank is unknown. */
  axis(axis: number, of: string): number {
    if (axis >= 0) return axis;
    const r = this.rank(of);
    if (r === undefined) throw new Error(`${this.node.opType} node '${this.node.name}': negative axis needs the rank of '${of}', which is unknown`);
    return axis + r;
  }
}

/** A gradient rule: emits nodes computing the gradients of the node's inputs. */
export type GradRule = (g: GradContext) => void;
