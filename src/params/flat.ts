// A flat view over a list of parameter tensors: global index i ↔ (tensor, offset), gather/scatter, dot, top-n.
import type { Model } from '../onnx/ir.js';
import { topN } from './top-n.js';

/**
 * The concatenation of some float32 parameters as one vector of length k, without copying them: tensor t holds
 * the global indices offsets[t] … offsets[t+1] − 1. Every method that names "the n-th selected parameter" uses it.
 *
 * @example
 * const flat = FlatParams.of(model, ['fc1.weight', 'fc1.bias']);
 * flat.locate(flat.sizes[0]); // { tensor: 1, offset: 0 }
 * const biggest = flat.topN(flat.values(model), 100); // the 100 largest |w|, as global indices
 */
export class FlatParams {
  readonly offsets: number[];
  readonly k: number;

  constructor(
    readonly names: readonly string[],
    readonly sizes: readonly number[],
  ) {
    if (names.length !== sizes.length) throw new Error(`FlatParams: ${names.length} names but ${sizes.length} sizes`);
    this.offsets = [0];
    for (const s of sizes) this.offsets.push(this.offsets[this.offsets.length - 1] + s);
    this.k = this.offsets[this.offsets.length - 1];
  }

  /** A view over unnamed tensors of these sizes (named by their position). */
  static ofSizes(sizes: readonly number[]): FlatParams {
    return new FlatParams(
      sizes.map((_, i) => String(i)),
      sizes,
    );
  }

  /** The view over `names`, float32 initializers of `model`, in the order given. */
  static of(model: Model, names: readonly string[]): FlatParams {
    if (new Set(names).size !== names.length) throw new Error('a parameter is listed twice');
    const sizes = names.map((n) => {
      const t = model.graph.initializers.get(n)?.tensor;
      if (!t) throw new Error(`'${n}' is not a parameter (initializer) of the model`);
      if (t.dtype !== 'float32') throw new Error(`parameter '${n}' is ${t.dtype}; only float32 parameters can be edited`);
      return t.data.length;
    });
    return new FlatParams(names, sizes);
  }

  /** The tensors' data in `model` (views into the model: do not modify). */
  values(model: Model): Float32Array[] {
    return this.names.map((n) => {
      const t = model.graph.initializers.get(n)?.tensor;
      if (!t || t.dtype !== 'float32' || t.data.length !== this.sizes[this.names.indexOf(n)])
        throw new Error(`the model has no float32 parameter '${n}' of the expected size`);
      return t.data as Float32Array;
    });
  }

  /** The tensor holding global index `i`, and the offset inside it. */
  locate(i: number): { tensor: number; offset: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.k) throw new RangeError(`index ${i} is outside the ${this.k} parameters`);
    let lo = 0;
    let hi = this.sizes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.offsets[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return { tensor: lo, offset: i - this.offsets[lo] };
  }

  /**
   * Call `fn(tensor, offset, j)` for each of the ascending global `indices` (j is the position in `indices`).
   * The one walk from global indices to tensors; throws on indices out of order or out of range.
   */
  forEach(indices: ArrayLike<number>, fn: (tensor: number, offset: number, j: number) => void): void {
    let t = 0;
    let prev = -1;
    for (let j = 0; j < indices.length; j++) {
      const g = indices[j];
      if (g <= prev) throw new RangeError(`indices must ascend without repeats (${prev} then ${g})`);
      if (g >= this.k) throw new RangeError(`index ${g} is outside the ${this.k} parameters`);
      prev = g;
      while (g >= this.offsets[t + 1]) t++;
      fn(t, g - this.offsets[t], j);
    }
  }

  /** Ascending global indices split by tensor, as offsets inside each tensor. */
  split(indices: ArrayLike<number>): Uint32Array[] {
    const counts = new Array<number>(this.sizes.length).fill(0);
    this.forEach(indices, (t) => counts[t]++);
    const out = counts.map((c) => new Uint32Array(c));
    const fill = counts.map(() => 0);
    this.forEach(indices, (t, o) => (out[t][fill[t]++] = o));
    return out;
  }

  /** Per-tensor offsets back to ascending global indices. */
  join(perTensor: readonly ArrayLike<number>[]): Uint32Array {
    let n = 0;
    for (const p of perTensor) n += p.length;
    const out = new Uint32Array(n);
    let w = 0;
    perTensor.forEach((p, t) => {
      for (let j = 0; j < p.length; j++) out[w++] = this.offsets[t] + p[j];
    });
    return out;
  }

  /** The values at the ascending global `indices`. */
  gather(values: readonly Float32Array[], indices: ArrayLike<number>): Float32Array {
    const out = new Float32Array(indices.length);
    this.forEach(indices, (t, o, j) => (out[j] = values[t][o]));
    return out;
  }

  /** values[indices[j]] = src[j]. */
  scatter(values: Float32Array[], indices: ArrayLike<number>, src: ArrayLike<number>): void {
    if (src.length !== indices.length) throw new Error(`scatter: ${indices.length} indices but ${src.length} values`);
    this.forEach(indices, (t, o, j) => (values[t][o] = src[j]));
  }

  /** aᵀb over every entry, or over the ascending global `indices` only (float64 accumulation). */
  dot(a: readonly Float32Array[], b: readonly Float32Array[], indices?: ArrayLike<number>): number {
    let s = 0;
    if (indices) {
      this.forEach(indices, (t, o) => (s += a[t][o] * b[t][o]));
      return s;
    }
    a.forEach((x, t) => {
      const y = b[t];
      for (let j = 0; j < x.length; j++) s += x[j] * y[j];
    });
    return s;
  }

  /** Global indices of the `n` entries of largest |v|, ascending (O(k); see topN). */
  topN(values: readonly Float32Array[], n: number): Uint32Array {
    return topN([...values], n);
  }
}
