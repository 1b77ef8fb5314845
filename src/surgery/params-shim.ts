// TEMPORARY: the params/ layer contract (issue 8) until it lands on main; delete after `git merge main`.
import { floatInitializers, type Model } from '../onnx/ir.js';

export { parseSelector, selectParams, formatSelector, type ParamSelector } from '../corruption/select.js';

export class FlatParams {
  readonly offsets: number[];
  readonly k: number;
  private constructor(readonly names: string[], readonly sizes: number[]) {
    this.offsets = [0];
    for (const s of sizes) this.offsets.push(this.offsets.at(-1)! + s);
    this.k = this.offsets.at(-1)!;
  }
  static of(model: Model, names: readonly string[]): FlatParams {
    return new FlatParams([...names], names.map((n) => model.graph.initializers.get(n)!.tensor!.data.length));
  }
  values(model: Model): Float32Array[] {
    return this.names.map((n) => model.graph.initializers.get(n)!.tensor!.data as Float32Array);
  }
  locate(i: number): { tensor: number; offset: number } {
    let t = 0;
    while (this.offsets[t + 1] <= i) t++;
    return { tensor: t, offset: i - this.offsets[t] };
  }
  split(indices: ArrayLike<number>): Uint32Array[] {
    const out: number[][] = this.names.map(() => []);
    for (let j = 0; j < indices.length; j++) {
      const { tensor, offset } = this.locate(indices[j]);
      out[tensor].push(offset);
    }
    return out.map((o) => Uint32Array.from(o));
  }
  topN(values: readonly Float32Array[], n: number): Uint32Array {
    const abs = new Float32Array(this.k);
    values.forEach((v, t) => { for (let i = 0; i < v.length; i++) abs[this.offsets[t] + i] = Math.abs(v[i]); });
    const idx = Uint32Array.from({ length: this.k }, (_, i) => i);
    idx.sort((a, b) => abs[b] - abs[a] || a - b);
    return idx.slice(0, n).sort();
  }
}

export interface TensorDelta { name: string; indices: Uint32Array; before: Float32Array; after: Float32Array }
export interface SparseDelta { baseHash: string; tensors: TensorDelta[]; metadata: Record<string, string> }

export function deltaBetween(base: Model, edited: Model): SparseDelta {
  const tensors: TensorDelta[] = [];
  for (const init of floatInitializers(base.graph)) {
    const a = init.tensor!.data as Float32Array;
    const b = edited.graph.initializers.get(init.name)!.tensor!.data as Float32Array;
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    const idx: number[] = [];
    for (let i = 0; i < a.length; i++) if (ua[i] !== ub[i]) idx.push(i);
    if (idx.length) tensors.push({ name: init.name, indices: Uint32Array.from(idx), before: Float32Array.from(idx, (i) => a[i]), after: Float32Array.from(idx, (i) => b[i]) });
  }
  return { baseHash: '', tensors, metadata: {} };
}

export function changedCount(d: SparseDelta): number {
  return d.tensors.reduce((a, t) => a + t.indices.length, 0);
}
