// Shared pieces of the model zoo: options, PyTorch-style initialisers and layer helpers over GraphBuilder.
import { type AttrValue, float, makeAttributes } from '../onnx/attributes.js';
import { GraphBuilder, makeModel, tensorValueInfo } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { type HostTensor, sizeOf } from '../tensor/host-tensor.js';
import { createRng, type Rng } from '../tensor/rng.js';

/** 'train': BatchNormalization in training mode and active Dropout; 'eval': inference BN, no Dropout. */
export type ModelMode = 'train' | 'eval';

/** Options every zoo builder takes; each model reads the ones that apply to it. */
export interface ModelOptions {
  /** Input shape without the batch: image [C, H, W] (default [1, 28, 28]); with `input: 'sequence'`, [T] tokens (transformer) or [T, F] features (gru, lstm). */
  inputShape?: number[];
  /** Number of classes, the size of the `logits` output (default 10). */
  classes?: number;
  /** Seed of the parameter initialisation (default 0); the same seed gives the same values in both modes. */
  seed?: number;
  /** 'train' or 'eval' graph (default 'eval'); both have exactly the same parameter names. */
  mode?: ModelMode;
  /** Dropout ratio in 'train' graphs (default per model; 0 puts no Dropout node). */
  dropout?: number;
  /** Width: hidden size, base channel count or model dimension, per model. */
  width?: number;
  /** Depth: encoder layers (transformer). */
  depth?: number;
  /** Attention heads (transformer); must divide `width`. */
  heads?: number;
  /** Vocabulary size of token inputs (transformer with `input: 'sequence'`). */
  vocab?: number;
  /** Sequence models only: 'image' (default) reads x float32 [batch, C, H, W] and treats each image row as one step; 'sequence' reads tokens or features. */
  input?: 'image' | 'sequence';
}

/** A zoo entry: what the model is and the options it is built with unless told otherwise. */
export interface ModelSpec {
  name: string;
  description: string;
  /** Default input shape without the batch dimension. */
  inputShape: number[];
  /** Default input shape with `input: 'sequence'` (sequence models only). */
  sequenceShape?: number[];
  /** The options `buildModel` fills in when they are not given. */
  defaults: Required<Pick<ModelOptions, 'inputShape' | 'classes' | 'seed' | 'mode' | 'dropout'>> & ModelOptions;
}

/** Options after the model's defaults were applied. */
export type ResolvedOptions = ModelSpec['defaults'];

export const COMMON_DEFAULTS = { inputShape: [1, 28, 28], classes: 10, seed: 0, mode: 'eval' as ModelMode, dropout: 0 };

/** How to fill a new parameter. */
export type Init = 'zeros' | 'ones' | { uniform: number } | { normal: number };

/**
 * The graph being built plus the seeded generator that initialises its parameters, with one helper per layer.
 * Helpers take PyTorch layouts (Conv weight [out, in, kH, kW], Linear weight [out, in]) and names.
 */
export class Net {
  readonly b = new GraphBuilder();
  readonly rng: Rng;
  readonly train: boolean;
  readonly dropoutRatio: number;
  private readonly newStats: string[] = [];
  private dropouts = 0;

  constructor(readonly opts: ResolvedOptions) {
    this.rng = createRng(opts.seed);
    this.train = opts.mode === 'train';
    this.dropoutRatio = opts.dropout;
    if (opts.mode !== 'train' && opts.mode !== 'eval') throw new Error(`model mode must be 'train' or 'eval', got '${String(opts.mode)}'`);
    if (!(opts.dropout >= 0 && opts.dropout < 1)) throw new RangeError(`dropout must be in [0, 1), got ${opts.dropout}`);
    if (!Number.isInteger(opts.classes) || opts.classes < 1) throw new RangeError(`classes must be a positive integer, got ${opts.classes}`);
  }

  /** A new float32 initializer filled by `init`, drawn from the model's generator in creation order. */
  param(name: string, dims: number[], init: Init): string {
    const n = sizeOf(dims);
    const data = new Float32Array(n);
    if (init === 'ones') data.fill(1);
    else if (typeof init === 'object' && 'uniform' in init) for (let i = 0; i < n; i++) data[i] = (2 * this.rng.uniform() - 1) * init.uniform;
    else if (typeof init === 'object' && 'normal' in init) for (let i = 0; i < n; i++) data[i] = this.rng.normal(0, init.normal);
    const t: HostTensor = { dtype: 'float32', dims, data };
    if (this.b.graph.initializers.has(name)) throw new Error(`parameter '${name}' defined twice`);
    return this.b.param(name, t);
  }

  op(opType: string, inputs: readonly string[], attrs?: Record<string, AttrValue | undefined>, hint?: string): string {
    return this.b.op(opType, inputs, attrs, hint);
  }

  /** A node with one output named from `hint` and further outputs named exactly `exact` (they must be unused). */
  node(opType: string, inputs: readonly string[], hint: string, exact: readonly string[], attrs?: Record<string, AttrValue | undefined>): string[] {
    const outs = [this.b.fresh(hint)];
    for (const o of exact) {
      if (this.b.fresh(o) !== o) throw new Error(`value name '${o}' is already used`);
      outs.push(o);
    }
    this.b.graph.nodes.push({ opType, domain: '', name: this.b.fresh(`${hint}_node`), inputs: [...inputs], outputs: outs, attributes: makeAttributes(attrs) });
    return outs;
  }

  ints(values: readonly number[]): string {
    return this.b.ints(values);
  }

  scalar(v: number): string {
    return this.b.constant(v);
  }

  /**
   * 2-D convolution, PyTorch `nn.Conv2d`. Weight init: PyTorch's default (kaiming-uniform, a=√5: U(±1/√fan_in)),
   * or `init: 'kaiming-fan-out'` for torchvision's ResNet/VGG (normal, std √(2/fan_out)). Bias U(±1/√fan_in).
   */
  conv(name: string, x: string, cin: number, cout: number, k: number, o: { stride?: number; pad?: number; bias?: boolean; init?: 'default' | 'kaiming-fan-out' } = {}): string {
    const fanIn = cin * k * k;
    const wInit: Init = o.init === 'kaiming-fan-out' ? { normal: Math.sqrt(2 / (cout * k * k)) } : { uniform: 1 / Math.sqrt(fanIn) };
    const w = this.param(`${name}.weight`, [cout, cin, k, k], wInit);
    const inputs = [x, w];
    if (o.bias ?? true) inputs.push(this.param(`${name}.bias`, [cout], { uniform: 1 / Math.sqrt(fanIn) }));
    const pad = o.pad ?? 0;
    const stride = o.stride ?? 1;
    return this.op('Conv', inputs, { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride] }, name);
  }

  /**
   * BatchNormalization over channels (axis 1), PyTorch `nn.BatchNorm2d`/`1d` (eps 1e-5, momentum 0.1 = ONNX 0.9).
   * Train graphs compute batch statistics and expose the updated running stats as outputs `<name>.running_mean:new`
   * and `<name>.running_var:new` (onnxruntime updates the variance with the biased batch variance, PyTorch with the
   * unbiased one).
   * NOTE: keep those outputs as graph outputs: onnxruntime 1.30 computes wrong, run-to-run varying results for a
   * training-mode BatchNormalization whose statistics outputs are pruned.
   */
  batchNorm(name: string, x: string, c: number): string {
    const inputs = [
      x,
      this.param(`${name}.weight`, [c], 'ones'),
      this.param(`${name}.bias`, [c], 'zeros'),
      this.param(`${name}.running_mean`, [c], 'zeros'),
      this.param(`${name}.running_var`, [c], 'ones'),
    ];
    const attrs = { epsilon: float(1e-5), momentum: float(0.9) };
    if (!this.train) return this.op('BatchNormalization', inputs, attrs, name);
    const mean = `${name}.running_mean:new`;
    const variance = `${name}.running_var:new`;
    const [y] = this.node('BatchNormalization', inputs, name, [mean, variance], { ...attrs, training_mode: 1 });
    this.newStats.push(mean, variance);
    return y;
  }

  /**
   * Fully connected layer, PyTorch `nn.Linear` (weight [out, in], init U(±1/√in) for weight and bias).
   * Rank-2 inputs use Gemm(transB=1); higher ranks MatMul by the transposed weight plus the bias, as PyTorch exports.
   */
  linear(name: string, x: string, fin: number, fout: number, o: { bias?: boolean; rank?: number; hint?: string } = {}): string {
    const bound = 1 / Math.sqrt(fin);
    const w = this.param(`${name}.weight`, [fout, fin], { uniform: bound });
    const bias = (o.bias ?? true) ? this.param(`${name}.bias`, [fout], { uniform: bound }) : undefined;
    if ((o.rank ?? 2) === 2) return this.op('Gemm', bias ? [x, w, bias] : [x, w], { transB: 1 }, o.hint ?? name);
    const y = this.op('MatMul', [x, this.op('Transpose', [w], { perm: [1, 0] }, `${name}.weight_t`)], undefined, bias ? `${name}.matmul` : (o.hint ?? name));
    return bias ? this.op('Add', [y, bias], undefined, o.hint ?? name) : y;
  }

  /** LayerNormalization over the last axis, PyTorch `nn.LayerNorm` (eps 1e-5; weight 1, bias 0). */
  layerNorm(name: string, x: string, d: number): string {
    const w = this.param(`${name}.weight`, [d], 'ones');
    const bias = this.param(`${name}.bias`, [d], 'zeros');
    return this.op('LayerNormalization', [x, w, bias], { axis: -1, epsilon: float(1e-5) }, name);
  }

  relu(x: string): string {
    return this.op('Relu', [x]);
  }

  /** GELU (exact): x · 0.5 · (1 + erf(x / √2)), from primitive ops. */
  gelu(x: string): string {
    const e = this.op('Erf', [this.op('Mul', [x, this.scalar(Math.SQRT1_2)])]);
    return this.op('Mul', [this.op('Mul', [x, this.scalar(0.5)]), this.op('Add', [e, this.scalar(1)])], undefined, 'gelu');
  }

  maxPool(x: string, k: number, stride = k): string {
    return this.op('MaxPool', [x], { kernel_shape: [k, k], strides: [stride, stride] }, 'maxpool');
  }

  flatten(x: string): string {
    return this.op('Flatten', [x], { axis: 1 }, 'flatten');
  }

  globalAvgPool(x: string): string {
    return this.op('GlobalAveragePool', [x], undefined, 'gap');
  }

  /**
   * Dropout in train graphs: x · mask / (1 - ratio), the mask drawn by a Dropout node with training_mode true
   * (ratio from the options, a fixed per-node seed so a session replays the same sequence of masks). Nothing in
   * eval graphs or when the ratio is 0.
   * NOTE: onnxruntime's EliminateDropout optimisation deletes a Dropout node whose mask output is unused, even in
   * training mode; using the mask keeps it, and leaves only Mul/Cast on the differentiated path.
   */
  dropout(x: string): string {
    if (!this.train || this.dropoutRatio === 0) return x;
    const seed = ((this.opts.seed * 1009 + ++this.dropouts * 7919) >>> 0) % 2147483647;
    const training = this.b.constant({ dtype: 'bool', dims: [], data: Uint8Array.of(1) }, 'float32', 'training');
    const [, mask] = this.b.opN('Dropout', [x, this.scalar(this.dropoutRatio), training], 2, { seed }, 'dropout');
    const keep = this.op('Cast', [mask], { to: 1 }, 'dropout_keep');
    return this.op('Mul', [x, this.op('Mul', [keep, this.scalar(1 / (1 - this.dropoutRatio))])], undefined, 'dropout');
  }

  /** The image input 'x' float32 ['batch', C, H, W]. */
  imageInput(): string {
    const s = this.opts.inputShape;
    if (s.length !== 3 || !s.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`image models take inputShape [C, H, W], got [${s.join(', ')}]`);
    return this.b.input('x', 'float32', ['batch', ...s]);
  }

  /**
   * The input of a recurrent model as time-major float32 [T, batch, F]: from 'x' float32 ['batch', T, F] with
   * `input: 'sequence'`, or from an image 'x' float32 ['batch', C, H, W] read row by row (T = H, F = C·W).
   */
  timeMajorInput(): { x: string; steps: number; features: number } {
    const s = this.opts.inputShape;
    if ((this.opts.input ?? 'image') === 'sequence') {
      if (s.length !== 2) throw new Error(`recurrent models with input 'sequence' take inputShape [T, F], got [${s.join(', ')}]`);
      const x = this.b.input('x', 'float32', ['batch', s[0], s[1]]);
      return { x: this.op('Transpose', [x], { perm: [1, 0, 2] }, 'steps'), steps: s[0], features: s[1] };
    }
    const img = this.imageInput();
    const [c, h, w] = s;
    const rows = this.op('Transpose', [img], { perm: [2, 0, 1, 3] }, 'rows');
    return { x: this.op('Reshape', [rows, this.ints([h, 0, c * w])], undefined, 'steps'), steps: h, features: c * w };
  }

  /** Close the graph: `logits` (float32 ['batch', classes]) first, then the updated BN statistics of train graphs. */
  finish(logits: string, graphName: string): Model {
    if (logits !== 'logits') throw new Error(`the last layer must produce the value 'logits', got '${logits}'`);
    const g = this.b.graph;
    g.name = graphName;
    g.outputs.push(tensorValueInfo('logits', 'float32', ['batch', this.opts.classes]));
    for (const s of this.newStats) g.outputs.push(tensorValueInfo(s, 'float32', [g.initializers.get(s.slice(0, s.indexOf(':')))!.tensor!.dims[0]]));
    return makeModel(g, 17);
  }
}

/** Spatial size after a k×k window with this stride and padding. */
export function outSize(n: number, k: number, stride = 1, pad = 0): number {
  return Math.floor((n + 2 * pad - k) / stride) + 1;
}
