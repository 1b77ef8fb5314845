// Gradient-based and random corruption of a model's parameters, evaluated on a dataset with one session.
import { differentiate } from '../autodiff/differentiate.js';
import { batches, type Batch, type Dataset, firstRows, padRows } from '../data/batches.js';
import { fixedBatch } from '../onnx/batch-dim.js';
import { describeParams } from '../params/describe.js';
import { applyDelta, deltaFromCorruption } from '../params/delta.js';
import { FlatParams } from '../params/flat.js';
import { floatInitializers, type Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile, compileUncached, type Executable, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { Rng } from '../tensor/rng.js';
import { dataInput } from '../tasks/classifier.js';
import { withLoss } from '../train/losses.js';
import { withParams } from '../params/with-params.js';
import { ClassificationMeter } from '../tasks/classification-metrics.js';
import { type Corruption, type CorruptionSpec, worstCorruption } from './closed-form.js';

/** Options shared by gradientOf and the evaluator. */
export interface CorruptOptions {
  /** Examples per onnxruntime run (default 200 for evaluation, 250 for gradients). */
  batchSize?: number;
  /** Use only the first this many examples (default: all). */
  maxExamples?: number;
  runtime?: RuntimeOptions;
  /** Called after each batch with the examples done. */
  onProgress?: (done: number, total: number) => void;
}

/** Options of CorruptionEvaluator.create. */
export interface EvaluatorOptions extends CorruptOptions {
  /** Number of classes (default: the model's output width). */
  classes?: number;
  /**
   * How to evaluate corruptions of Conv/BatchNormalization parameters: 'inputs' (fed to a shared session),
   * 'bake' (a one-off session with the corrupted values as initializers) or 'auto' (default: whichever was faster).
   */
  strategy?: 'auto' | 'inputs' | 'bake';
}

/** Loss and accuracy of a classifier on a dataset. */
export interface EvalResult {
  /** Mean softmax cross-entropy (accumulated in float64 from the logits). */
  loss: number;
  accuracy: number;
  examples: number;
}

/** The mean loss gradient over a dataset, one array per parameter. */
export interface DatasetGradient {
  names: string[];
  gradients: Float32Array[];
  /** Mean loss at the current parameters over the same examples. */
  loss: number;
  examples: number;
}

function firstExamples(data: Dataset, max: number | undefined): Dataset {
  const n = data.x.dims[0];
  if (max === undefined || max >= n) return data;
  if (!Number.isInteger(max) || max < 1) throw new Error(`maxExamples must be a whole number ≥ 1, got ${max}`);
  const slice = (t: HostTensor): HostTensor => {
    const row = t.data.length / t.dims[0];
    return { dtype: t.dtype, dims: [max, ...t.dims.slice(1)], data: t.data.subarray(0, max * row) as HostTensor['data'] };
  };
  return { x: slice(data.x), y: slice(data.y) };
}

function checkFloat32(model: Model, names: readonly string[]): void {
  const floats = new Map(floatInitializers(model.graph).map((i) => [i.name, i]));
  for (const n of names) {
    const t = floats.get(n)?.tensor;
    if (!t) throw new Error(`'${n}' is not a floating-point parameter of the model`);
    if (t.dtype !== 'float32') throw new Error(`parameter '${n}' is ${t.dtype}; corruption works on float32 parameters`);
  }
}

/**
 * The gradient of the mean cross-entropy over a dataset with respect to some parameters (the v = ∇L of
 * gradient-based corruption): one differentiated graph, run batch by batch, each batch's gradient weighted by
 * its size. NaN or infinite gradients are an error.
 *
 * @example
 * const g = await gradientOf(model, trainSet, { params: ['conv1.weight'], maxExamples: 1000 });
 */
export async function gradientOf(model: Model, data: Dataset, opts: CorruptOptions & { params: readonly string[] }): Promise<DatasetGradient> {
  const names = [...opts.params];
  checkFloat32(model, names);
  // A graph that hard-codes its batch size B takes whole batches of B: the gradient is taken over the largest
  // multiple of B examples (a padded row would count in the batch's mean loss).
  const fixed = fixedBatch(model);
  let d = firstExamples(data, opts.maxExamples);
  if (fixed !== undefined) {
    if (d.x.dims[0] < fixed) throw new Error(`the model fixes its batch size at ${fixed}; the gradient needs at least ${fixed} examples, got ${d.x.dims[0]}`);
    d = firstExamples(d, Math.floor(d.x.dims[0] / fixed) * fixed);
  }
  const total = d.x.dims[0];
  if (total === 0) throw new Error('no examples to take the gradient over');
  const lossy = withLoss(model, { kind: 'cross-entropy', target: 'y' });
  const { model: promoted, values } = promoteToInputs(lossy.model, names);
  const input = dataInput(promoted, values);
  const { model: graph, gradients: outputs } = differentiate(promoted, { of: lossy.loss, wrt: names, keepOutputs: false });
  // A session of its own, released at the end: a cached one would keep onnxruntime's buffers for every gradient
  // (the size of the model) alive for as long as it stays cached.
  const exe = await compileUncached(graph, opts.runtime);
  const feeds: Record<string, HostTensor> = Object.fromEntries(values);
  // Σ_batches m·g in float32, straight into the result (one copy of the parameters' size; a float64 sum and a
  // float32 result were three): the rounding of a few batch sums stays far below float32 gradient noise.
  const gradients = names.map((n) => new Float32Array(values.get(n)!.data.length));
  const outNames = [lossy.loss, ...names.map((n) => outputs.get(n)!)];
  let lossSum = 0;
  let done = 0;
  try {
    for (const b of batches(d, fixed ?? opts.batchSize ?? 250)) {
      const m = b.x.dims[0];
      const res = await exe.run({ ...feeds, [input]: b.x, [lossy.target]: b.y }, outNames);
      lossSum += Number(res[lossy.loss].data[0]) * m;
      names.forEach((n, i) => {
        const g = res[outputs.get(n)!].data as Float32Array;
        const s = gradients[i];
        for (let j = 0; j < g.length; j++) s[j] += g[j] * m;
      });
      done += m;
      opts.onProgress?.(done, total);
    }
  } finally {
    await exe.release();
  }
  gradients.forEach((g, i) => {
    for (let j = 0; j < g.length; j++) {
      g[j] /= total;
      if (!Number.isFinite(g[j])) throw new Error(`the loss gradient of '${names[i]}' is not finite (element ${j}); the model or data produce NaN/Inf`);
    }
  });
  return { names, gradients, loss: lossSum / total, examples: total };
}

/** Most sessions an evaluator compiles for different sets of touched Conv parameters before it falls back to one. */
const MAX_SESSIONS = 8;
/** Ops whose parameters onnxruntime pre-packs or fuses only when they are initializers (Conv+BatchNorm fusion too). */
const PREPACKED = new Set(['Conv', 'ConvTranspose', 'BatchNormalization']);

/**
 * Evaluates a classifier with some of its parameters changed, many times, without recompiling: the parameters are
 * graph inputs of a session, the data is cut into batches once, and a corruption is written into scratch copies of
 * the parameters (only the changed entries when it is sparse) and undone after the run.
 *
 * NOTE: onnxruntime runs Conv in its fast NCHWc form (and folds BatchNormalization into it) only when the Conv's
 * weight and bias (and the BatchNormalization's parameters) are initializers; fed as inputs they cost about a third
 * more on LeNet-5 and twice as much on ResNet-20, while Gemm/MatMul parameters fed as inputs cost nothing
 * measurable. So those parameters stay initializers unless a corruption touches them. A corruption that does touch
 * them is evaluated either with them fed as inputs (one session per set of touched ones, compiled on first use, at
 * most 8, then one with every parameter an input) or baked into a one-off session; `strategy: 'auto'` times both
 * and keeps the faster; with batches of 200 baking wins on LeNet-5 and ResNet-20 alike (a fresh session's first
 * runs are slow in proportion to the batch: with batches of 1,000 feeding won on LeNet-5).
 *
 * @example
 * const ev = await CorruptionEvaluator.create(model, ['fc1.weight'], testSet);
 * const base = await ev.evaluate();
 * const hit = await ev.evaluate(worstCorruption(grad.gradients, { eps: 1e-3, p: Infinity, n: 100 }));
 */
export class CorruptionEvaluator {
  /** Element count of each parameter, and their total k. */
  readonly sizes: readonly number[];
  readonly k: number;
  /** The flat view over the parameters (global index ↔ tensor, offset). */
  readonly flat: FlatParams;
  private readonly scratch: HostTensor[] = [];
  private readonly feeds: Record<string, HostTensor> = {};
  private readonly sessions = new Map<string, Promise<Executable>>();
  private dirty = false;
  /** Last wall time (ms) of an evaluation touching Conv/BatchNormalization parameters, by touched set and by how. */
  private readonly timing = new Map<string, { inputs?: number; bake?: number }>();

  private constructor(
    private readonly model: Model,
    readonly names: string[],
    /** The parameters' original values (not to be modified). */
    readonly original: Float32Array[],
    /** Which parameters feed Conv or BatchNormalization (kept as initializers unless touched). */
    private readonly heavy: boolean[],
    private readonly input: string,
    private readonly output: string,
    private readonly batchList: Batch[],
    readonly examples: number,
    readonly classes: number | undefined,
    private readonly runtime: RuntimeOptions | undefined,
    private readonly strategy: 'auto' | 'inputs' | 'bake',
  ) {
    this.flat = new FlatParams(
      names,
      original.map((o) => o.length),
    );
    this.sizes = this.flat.sizes;
    this.k = this.flat.k;
  }

  /**
   * Build the evaluator: cut `data` into batches and compile the session for the unchanged model.
   *
   * @param params names of float32 initializers to corrupt
   */
  static async create(model: Model, params: readonly string[], data: Dataset, opts: EvaluatorOptions = {}): Promise<CorruptionEvaluator> {
    const names = [...params];
    if (new Set(names).size !== names.length) throw new Error('a parameter is listed twice');
    checkFloat32(model, names);
    const d = firstExamples(data, opts.maxExamples);
    if (d.x.dims[0] === 0) throw new Error('no examples to evaluate on');
    const { model: promoted, values } = promoteToInputs(model, names);
    const input = dataInput(promoted, values);
    const output = promoted.graph.outputs[0].name;
    const consumer = new Map(describeParams(model).map((p) => [p.name, model.graph.nodes[p.order]?.opType]));
    const heavy = names.map((n) => PREPACKED.has(consumer.get(n) ?? ''));
    // A graph that hard-codes its batch size runs at that size; the last batch is padded once, here, and the
    // padding's logits are dropped before measuring.
    const fixed = fixedBatch(model);
    const list = [...batches(d, fixed ?? opts.batchSize ?? 200)].map((b) =>
      fixed !== undefined && b.x.dims[0] < fixed ? { x: padRows(b.x, fixed), y: b.y } : b,
    );
    const original = names.map((n) => values.get(n)!.data as Float32Array);
    const ev = new CorruptionEvaluator(model, names, original, heavy, input, output, list, d.x.dims[0], opts.classes, opts.runtime, opts.strategy ?? 'auto');
    names.forEach((n, i) => {
      const v = values.get(n)!;
      const t: HostTensor = { dtype: 'float32', dims: [...v.dims], data: original[i].slice() };
      ev.scratch.push(t);
      ev.feeds[n] = t;
    });
    await ev.session(heavy.map(() => false));
    return ev;
  }

  /** The session in which the parameters marked in `touched` (and every cheap one) are inputs. */
  private session(touched: boolean[]): Promise<Executable> {
    const key = this.sessionKey(touched);
    let exe = this.sessions.get(key);
    if (!exe) {
      exe = compile(promoteToInputs(this.model, key === '' ? [] : key.split('\0')).model, this.runtime);
      this.sessions.set(key, exe);
    }
    return exe;
  }

  /** The parameters fed as inputs for a corruption touching `touched`, joined: the session (and timing) key. */
  private sessionKey(touched: boolean[]): string {
    const key = this.names.filter((_, i) => !this.heavy[i] || touched[i]).join('\0');
    return !this.sessions.has(key) && this.sessions.size >= MAX_SESSIONS ? this.names.join('\0') : key;
  }

  /** Which parameters a corruption changes (every one with a nonzero delta). */
  private touched(deltas: Float32Array[], sparse: Uint32Array | undefined): boolean[] {
    const out = this.names.map(() => false);
    if (sparse) {
      this.flat.forEach(sparse, (t, o) => {
        if (deltas[t][o] !== 0) out[t] = true;
      });
      return out;
    }
    deltas.forEach((d, i) => {
      if (!this.heavy[i]) return;
      for (let j = 0; j < d.length; j++) {
        if (d[j] !== 0) {
          out[i] = true;
          return;
        }
      }
    });
    return out;
  }

  /** Loss and accuracy with `corruption` added to the parameters (none: the unchanged model). */
  async evaluate(corruption?: Pick<Corruption, 'deltas'> & { indices?: Uint32Array }, onProgress?: (done: number, total: number) => void): Promise<EvalResult> {
    const sparse = corruption?.indices && corruption.indices.length * 8 < this.k ? corruption.indices : undefined;
    if (corruption) {
      if (corruption.deltas.length !== this.names.length)
        throw new Error(`corruption has ${corruption.deltas.length} tensors, the evaluator ${this.names.length}`);
      corruption.deltas.forEach((d, i) => {
        if (d.length !== this.sizes[i]) throw new Error(`corruption of '${this.names[i]}' has ${d.length} values, the parameter ${this.sizes[i]}`);
      });
    }
    const touched = corruption ? this.touched(corruption.deltas, sparse) : this.names.map(() => false);
    const heavyTouched = touched.some((t, i) => t && this.heavy[i]);
    const key = heavyTouched ? this.sessionKey(touched) : '';
    const how = heavyTouched ? this.pick(key) : 'inputs';
    if (this.dirty && (!corruption || sparse)) this.restoreAll();
    if (corruption && sparse) this.applySparse(corruption.deltas, sparse, false);
    else if (corruption) this.applyDense(corruption.deltas);
    try {
      if (how === 'inputs') {
        const exe = await this.session(touched);
        const t0 = performance.now();
        const r = await this.run(exe, onProgress);
        if (heavyTouched) this.timing.set(key, { ...this.timing.get(key), inputs: performance.now() - t0 });
        return r;
      }
      const t0 = performance.now();
      const exe = await this.bakedSession();
      try {
        return await this.run(exe, onProgress);
      } finally {
        await exe.release();
        this.timing.set(key, { ...this.timing.get(key), bake: performance.now() - t0 });
      }
    } finally {
      if (corruption && sparse) this.applySparse(corruption.deltas, sparse, true);
    }
  }

  /**
   * How to evaluate a corruption that touches Conv/BatchNormalization parameters: feed them as inputs (a slower
   * forward), or bake the corrupted values into a session of their own (compile and warm-up costs, then full speed).
   * 'auto' tries each once per set of touched parameters, then bakes while baking was last at least 10% faster.
   */
  private pick(key: string): 'inputs' | 'bake' {
    if (this.strategy !== 'auto') return this.strategy;
    const { inputs, bake } = this.timing.get(key) ?? {};
    if (inputs === undefined) return 'inputs';
    if (bake === undefined) return 'bake';
    return bake < 0.9 * inputs ? 'bake' : 'inputs';
  }

  /**
   * A one-off session with every parameter's current value baked in as an initializer, so that onnxruntime
   * pre-packs the Gemm weights too (feeding them cost LeNet-5 about 4% at two threads).
   */
  private bakedSession(): Promise<Executable> {
    const baked = new Map(this.names.map((n, i) => [n, this.scratch[i]]));
    // compileUncached encodes the model before it returns, so the scratch buffers may change afterwards.
    return compileUncached(withParams(this.model, baked), this.runtime);
  }

  private async run(exe: Executable, onProgress?: (done: number, total: number) => void): Promise<EvalResult> {
    let meter: ClassificationMeter | undefined;
    let done = 0;
    for (const b of this.batchList) {
      const real = b.y.dims[0];
      let logits = (await exe.run({ ...this.feeds, [this.input]: b.x }, [this.output]))[this.output];
      if (b.x.dims[0] > real) logits = firstRows(logits, real);
      meter ??= new ClassificationMeter(this.classes ?? logits.dims[1]);
      meter.add(logits, b.y);
      done += real;
      onProgress?.(done, this.examples);
    }
    const r = meter!.report();
    return { loss: r.loss, accuracy: r.accuracy, examples: r.examples };
  }

  private restoreAll(): void {
    this.scratch.forEach((t, i) => (t.data as Float32Array).set(this.original[i]));
    this.dirty = false;
  }

  private applyDense(deltas: Float32Array[]): void {
    deltas.forEach((d, i) => {
      const w = this.original[i];
      const s = this.scratch[i].data as Float32Array;
      for (let j = 0; j < d.length; j++) s[j] = w[j] + d[j];
    });
    this.dirty = true;
  }

  /** Write w + δ at the given global indices (or restore w there). */
  private applySparse(deltas: Float32Array[], indices: Uint32Array, restore: boolean): void {
    this.flat.forEach(indices, (t, o) => {
      (this.scratch[t].data as Float32Array)[o] = restore ? this.original[t][o] : this.original[t][o] + deltas[t][o];
    });
  }
}

/**
 * One call: the loss and accuracy of `model` on `data` with `deltas` (one per named parameter) added.
 * For many corruptions of the same model build one CorruptionEvaluator instead.
 *
 * @example const r = await evaluateCorrupted(model, testSet, ['fc1.weight'], [delta]);
 */
export async function evaluateCorrupted(
  model: Model,
  data: Dataset,
  params: readonly string[],
  deltas: Float32Array[],
  opts: CorruptOptions = {},
): Promise<EvalResult> {
  const ev = await CorruptionEvaluator.create(model, params, data, opts);
  return ev.evaluate({ deltas }, opts.onProgress);
}

/**
 * Fill `out` with independent N(0, 1) samples (polar Box–Muller on the generator's 32-bit outputs).
 *
 * @example fillNormal(new Float32Array(10), new Rng(1));
 */
export function fillNormal(out: Float32Array | Float64Array, rng: Rng): void {
  const n = out.length;
  let i = 0;
  while (i < n) {
    let u: number;
    let v: number;
    let s: number;
    do {
      u = rng.nextUint32() * 4.656612873077393e-10 - 1; // [−1, 1)
      v = rng.nextUint32() * 4.656612873077393e-10 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    out[i++] = u * f;
    if (i < n) out[i++] = v * f;
  }
}

/**
 * Random corruption (Algorithm 1 of the paper): r ~ N(0, I) over all k selected parameters, then the closed form of
 * Proposition 1 applied to r (h = top_n(r)), so that it lies in the same set S as the gradient-based corruption.
 * For p = 2 and n = k it is uniform on the sphere ||a||₂ = ε. `firstOrder` is ε||h||_q of r, which says nothing
 * about the loss; the first-order loss change of a random corruption is aᵀg (see {@link dotDeltas}).
 *
 * @example const a = randomCorruption([61706], { eps: 1e-3, p: 2, n: 61706 }, new Rng(0));
 */
export function randomCorruption(sizes: readonly number[], spec: CorruptionSpec, rng: Rng): Corruption {
  const r = sizes.map((s) => new Float32Array(s));
  for (const t of r) fillNormal(t, rng);
  return worstCorruption(r, spec);
}

/**
 * aᵀg over all tensors (float64 accumulation): the first-order estimate of the loss change of corruption a when g is
 * the loss gradient.
 *
 * @example dotDeltas(a.deltas, grad.gradients);
 */
export function dotDeltas(a: Float32Array[], g: Float32Array[], indices?: Uint32Array): number {
  return FlatParams.ofSizes(a.map((t) => t.length)).dot(a, g, indices);
}

/**
 * A copy of `model` with `deltas` added to the named parameters (for writing a corrupted model to disk).
 *
 * @example writeModel(corruptModel(model, ['fc1.weight'], [delta]), 'corrupted.onnx');
 */
export function corruptModel(model: Model, params: readonly string[], deltas: Float32Array[]): Model {
  return applyDelta(model, deltaFromCorruption(model, params, deltas));
}
