// Progressive ablation: the smallest share of a layer's top-ranked weights whose zeroing fixes an error.
import type { Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile, type Executable, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { dataInput } from '../tasks/classifier.js';
import type { LancetLayer } from './layers.js';
import { argmax } from '../tasks/run.js';

/** 'coarse-to-fine': 1e-6, 2e-6, …, 9e-6, 1e-5, … up to 1, then the next decade's steps below the first fix; 'binary': bisection on the count. */
export type AblationSearch = 'coarse-to-fine' | 'binary';

/**
 * A classifier with one layer's weight fed as an input (every other weight baked as an initializer, so onnxruntime
 * pre-packs them): predictions for many edited versions of that one weight from one session.
 *
 * @example
 * const ab = await LayerEditor.create(model, findLayer(model, 'fc2'));
 * const pred = await ab.predict(batch, editedWeights);
 */
export class LayerEditor {
  private constructor(
    private readonly exe: Executable,
    private readonly input: string,
    private readonly output: string,
    readonly layer: LancetLayer,
    /** The weight's original values (do not modify). */
    readonly original: Float32Array,
  ) {}

  static async create(model: Model, layer: LancetLayer, runtime?: RuntimeOptions): Promise<LayerEditor> {
    const { model: promoted, values } = promoteToInputs(model, [layer.param]);
    const w = values.get(layer.param)!;
    if (w.dtype !== 'float32') throw new Error(`layer '${layer.name}': weight '${layer.param}' is ${w.dtype}; locate works on float32 weights`);
    const exe = await compile(promoted, runtime);
    return new LayerEditor(exe, dataInput(promoted, values), promoted.graph.outputs[0].name, layer, w.data as Float32Array);
  }

  /** Logits of a batch with the weight set to `w` (default: its original values). */
  async logits(x: HostTensor, w: Float32Array = this.original): Promise<HostTensor> {
    const out = await this.exe.run({ [this.input]: x, [this.layer.param]: { dtype: 'float32', dims: this.layer.shape, data: w } }, [this.output]);
    return out[this.output];
  }

  /** Predicted classes of a batch with the weight set to `w`. */
  async predict(x: HostTensor, w: Float32Array = this.original): Promise<Int32Array> {
    const z = await this.logits(x, w);
    return argmax(z.data as Float32Array, z.dims[1]);
  }
}

/** The result of one pair's search. */
export interface AblationResult {
  /** Weights zeroed at the smallest fixing ratio (0 when none fixes the pair). */
  count: number;
  /** count / layer size, or null when zeroing the whole ranking does not fix the pair. */
  ratio: number | null;
  /** Forward passes the search took. */
  evaluations: number;
}

/**
 * The ratios the coarse-to-fine search tries first (as counts ⌈r·size⌉): r = d·10^e (d = 1…9, e = −6…−1) and 1.
 *
 * @example coarseGrid().slice(0, 2); // [{ ratio: 1e-6, decade: 1e-6 }, { ratio: 2e-6, decade: 1e-6 }]
 */
export function coarseGrid(): { ratio: number; decade: number }[] {
  const out: { ratio: number; decade: number }[] = [];
  for (let e = -6; e <= -1; e++) for (let d = 1; d <= 9; d++) out.push({ ratio: d * 10 ** e, decade: 10 ** e });
  out.push({ ratio: 1, decade: 1 });
  return out;
}

const countOf = (ratio: number, size: number) => Math.min(size, Math.max(1, Math.ceil(ratio * size - 1e-9)));

/**
 * Find the fewest top-ranked weights whose zeroing fixes one pair. `fixes(count)` answers whether zeroing the first
 * `count` weights of the ranking fixes it (it is called with increasing counts by the coarse-to-fine search).
 * Coarse-to-fine keeps the first fixing count of the scan and then scans the steps of the next decade below it;
 * binary search assumes the answer is monotone in the count.
 *
 * @example const r = await searchRatio(84 * 120, (n) => fixesWith(n), 'coarse-to-fine');
 */
export async function searchRatio(size: number, fixes: (count: number) => Promise<boolean>, search: AblationSearch): Promise<AblationResult> {
  let evaluations = 0;
  const memo = new Map<number, boolean>();
  const test = async (n: number) => {
    let v = memo.get(n);
    if (v === undefined) {
      v = await fixes(n);
      evaluations++;
      memo.set(n, v);
    }
    return v;
  };
  const done = (count: number): AblationResult => ({ count, ratio: count > 0 ? count / size : null, evaluations });
  if (search === 'binary') {
    if (!(await test(size))) return done(0);
    let lo = 0;
    let hi = size;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (await test(mid)) hi = mid;
      else lo = mid;
    }
    return done(hi);
  }
  let prev = 0;
  let prevRatio = 0;
  for (const { ratio } of coarseGrid()) {
    const n = countOf(ratio, size);
    if (n <= prev) continue;
    if (!(await test(n))) {
      prev = n;
      prevRatio = ratio;
      continue;
    }
    // Refine between the last ratio that failed and this one, in tenths of the gap (the next decade down).
    const step = (ratio - prevRatio) / 10;
    for (let r = prevRatio + step; r < ratio - step / 2; r += step) {
      const m = countOf(r, size);
      if (m <= prev || m >= n) continue;
      if (await test(m)) return done(m);
    }
    return done(n);
  }
  return done(0);
}

/** Indices of a layer's weights by importance, largest first (ties by index). */
export function rankByImportance(iv: Float32Array): Uint32Array {
  const n = iv.length;
  const order = new Uint32Array(n);
  if (n >= 2 ** 21) {
    for (let i = 0; i < n; i++) order[i] = i;
    return order.sort((a, b) => iv[b] - iv[a] || a - b);
  }
  // A native numeric sort of exact float64 keys (the value's bits, then the index reversed): a comparator sort of
  // a 48,000-weight layer cost ~40 ms a pair.
  const bits = new Uint32Array(iv.buffer, iv.byteOffset, n);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (iv[i] > 0 ? bits[i] : 0) * 2 ** 21 + (2 ** 21 - 1 - i);
  keys.sort();
  for (let k = 0; k < n; k++) order[k] = 2 ** 21 - 1 - (keys[n - 1 - k] % 2 ** 21);
  return order;
}

/** A copy of `w` with the entries `order[0..count)` set to zero. */
export function zeroTop(w: Float32Array, order: Uint32Array, count: number): Float32Array {
  const out = w.slice();
  for (let i = 0; i < count; i++) out[order[i]] = 0;
  return out;
}
