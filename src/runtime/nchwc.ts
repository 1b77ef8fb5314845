// A runtime-only lowering: Conv with fed (non-initializer) filters onto onnxruntime's CPU NCHWc kernels.
//
// onnxruntime's CPU provider registers its blocked-layout ("NCHWc") kernels as contrib ops in the domain
// `com.microsoft.nchwc`. Its own optimiser uses them only for Convs whose filter is an initializer (it re-lays
// the filter out once, at load time). The NCHWc Conv kernel, though, reads its filter from its input at run
// time: only the filter's layout must be blocked, and that layout is a Pad + Reshape + Transpose + Reshape of
// the ordinary OIHW filter, which standard ops express inside the graph. This pass rewrites a compiled graph so:
//
//  - every eligible Conv runs as `nchwc.Conv` on a blocked input (`ReorderInput` of its NCHW input, or the
//    blocked value a previous NCHWc node produced; a first Conv with fewer input channels than the block size
//    reads its NCHW input directly, with the output-blocked-only filter layout),
//  - an inference-mode BatchNormalization that is the Conv's only consumer is folded into the filter and bias
//    (in-graph, from the fed values), as onnxruntime does for baked weights,
//  - a Relu that is the Conv's only consumer is fused (`activation`), and an Add of the Conv's output (its only
//    consumer) and another blocked value becomes the kernel's `Sum` input (with a Relu after it fused too),
//  - Relu, Add, MaxPool, AveragePool and GlobalAveragePool of blocked values stay blocked,
//  - `ReorderOutput` (back to NCHW, padding channels dropped) is emitted only for values that a standard-layout
//    consumer (or a graph output) reads.
//
// Values in the blocked layout are 4-D tensors [N, Cp, H, W] to onnxruntime, stored as [N, Cp/B, H, W, B], where
// Cp is C rounded up to the block size B; padding channels hold zeros. The result is for onnxruntime's CPU
// provider only: it is never written to disk (compile() applies it to a private copy just before encoding).
import { attrFloat, attrInt, attrInts, attrString, makeAttributes } from '../onnx/attributes.js';
import type { AttrValue } from '../onnx/attributes.js';
import { type Graph, type Model, type Node, cloneModel, onnxOpset } from '../onnx/ir.js';
import { emptyGraph, makeModel, tensorValueInfo } from '../onnx/builder.js';
import { inferTypes } from '../onnx/shapes.js';
import { tensor } from '../tensor/host-tensor.js';

/** The domain of onnxruntime's NCHWc contrib ops. */
export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

/** What the pass did: the rewritten model and counts for reports and tests. */
export interface NchwcLowering {
  model: Model;
  /** Convs now running as nchwc.Conv. */
  convs: number;
  /** Other ops moved into the blocked layout (Relu, Add, pools), fused ones included. */
  others: number;
  /** ReorderInput / ReorderOutput nodes in the result. */
  reorders: number;
}

/** Tuning of the lowering (defaults measured in bench/nchwc-conv.ts and the engine suite). */
export interface NchwcOptions {
  /**
   * Keep a value blocked for the next Conv or pool only when at least this share of its padded channels is real
   * (default 0.75); a sparser one (LeNet's 6 or the ResNet fixture's 8 channels in a block of 16) goes back to
   * NCHW, and a Conv reading it takes the NCHW-input kernel instead of doing the padding channels' arithmetic
   * (LeNet fixture forward, batch 64, 1 thread: 0.85 ms against 1.45 ms when kept blocked).
   */
  minFill?: number;
  /** Only Convs this accepts are lowered (default: all eligible ones); for lowering experiments. */
  convFilter?: (conv: Node) => boolean;
}

interface Blocked {
  /** The blocked value's name. */
  name: string;
  /** Real channel count (Cp = C rounded up to the block). */
  channels: number;
}

const POOLS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']);

/**
 * Rewrite the float32 2-D Convs of `model` whose filter is computed or fed (not an initializer, which
 * onnxruntime's own optimiser already blocks) onto onnxruntime's NCHWc kernels for block size `block`, with
 * the filters reordered inside the graph. Returns a new model; `model` is not changed. Models with no eligible
 * Conv come back as they are (`convs: 0`).
 *
 * Two passes: `BlockedRewrite` moves nodes into the blocked layout (Convs with their folded BatchNorm and fused
 * Add/Relu, then elementwise ops and pools of blocked values), and `insertReorders` adds a ReorderOutput for each
 * blocked value that something still reads in NCHW.
 *
 * @example const { model: fast } = lowerToNchwc(trainingGraph, 16); // then encode and run on the CPU provider
 */
export function lowerToNchwc(model: Model, block: number, opts: NchwcOptions = {}): NchwcLowering {
  if (!(block >= 4 && (block & (block - 1)) === 0)) throw new Error(`NCHWc block size must be a power of two ≥ 4, got ${block}`);
  const unchanged = { model, convs: 0, others: 0, reorders: 0 };
  if (!hasEligibleConv(model)) return unchanged;
  const out = cloneModel(model);
  const rw = new BlockedRewrite(out, inferTypes(model), block, opts.minFill ?? 0.75, opts.convFilter);
  rw.rewriteNodes();
  if (rw.convs === 0) return unchanged;
  const { nodes, reorders } = insertReorders(rw);
  out.graph.nodes = nodes;
  out.opsetImports.push({ domain: NCHWC_DOMAIN, version: 1 });
  return { model: out, convs: rw.convs, others: rw.others, reorders };
}

/** Opset 13 or later, not lowered already, and at least one standard Conv whose filter is not an initializer. */
function hasEligibleConv(model: Model): boolean {
  let opset: number;
  try {
    opset = onnxOpset(model);
  } catch {
    return false;
  }
  if (opset < 13 || model.opsetImports.some((o) => o.domain === NCHWC_DOMAIN)) return false;
  const g = model.graph;
  return g.nodes.some((n) => n.opType === 'Conv' && isStd(n) && !g.initializers.has(n.inputs[1]));
}

type Shape = readonly (number | string | null)[] | undefined;

/** Pass 1: the graph's nodes in order, each moved into the blocked layout where that pays. */
class BlockedRewrite {
  readonly g: Graph;
  /** The rewritten nodes (before reorders back to NCHW). */
  readonly nodes: Node[] = [];
  /** NCHW value name → its blocked twin. */
  readonly blocked = new Map<string, Blocked>();
  convs = 0;
  others = 0;
  private readonly used = new Set<string>();
  private counter = 0;
  /** Consumers of each value in the original graph (graph outputs count as a consumer that needs NCHW). */
  private readonly consumers = new Map<string, Node[]>();
  readonly graphOutputs: Set<string>;
  /** Original nodes folded into an earlier one. */
  private readonly skip = new Set<Node>();
  private readonly reorderedFilters = new Map<string, string>();
  private readonly paddedBiases = new Map<string, string>();

  constructor(
    model: Model,
    private readonly types: ReturnType<typeof inferTypes>,
    private readonly block: number,
    private readonly minFill: number,
    private readonly convFilter?: (conv: Node) => boolean,
  ) {
    this.g = model.graph;
    const g = this.g;
    for (const v of g.inputs) this.used.add(v.name);
    for (const k of g.initializers.keys()) this.used.add(k);
    for (const n of g.nodes) {
      for (const o of n.outputs) this.used.add(o);
      if (n.name) this.used.add(n.name);
      for (const i of n.inputs) if (i) (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(n);
    }
    this.graphOutputs = new Set(g.outputs.map((o) => o.name));
  }

  rewriteNodes(): void {
    for (const n of this.g.nodes) {
      if (this.skip.has(n)) continue;
      const std = isStd(n);
      if (std && n.opType === 'Conv' && this.tryConv(n)) continue;
      if (std && (n.opType === 'Relu' || n.opType === 'Add') && this.tryElementwise(n)) continue;
      if (std && POOLS.has(n.opType) && this.tryPool(n)) continue;
      this.nodes.push(n);
    }
  }

  fresh(hint: string): string {
    let s = `${hint}__nchwc${this.counter++}`;
    while (this.used.has(s)) s = `${hint}__nchwc${this.counter++}`;
    this.used.add(s);
    return s;
  }

  private shapeOf(v: string): Shape {
    return this.types.get(v)?.shape;
  }

  private dtypeOf(v: string) {
    return this.types.get(v)?.dtype;
  }

  private soleConsumer(v: string): Node | undefined {
    const cs = this.consumers.get(v);
    return !this.graphOutputs.has(v) && cs && cs.length === 1 ? cs[0] : undefined;
  }

  private emit(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, domain = '', outName?: string): string {
    const o = outName ?? this.fresh(opType.toLowerCase());
    this.nodes.push({ opType, domain, name: this.fresh(`${opType}_node`), inputs, outputs: [o], attributes: makeAttributes(attrs) });
    return o;
  }

  private ints(vals: number[]): string {
    const name = this.fresh('shape');
    this.g.initializers.set(name, { name, tensor: tensor('int64', [vals.length], BigInt64Array.from(vals.map(BigInt))) });
    return name;
  }

  private roundUp(c: number): number {
    return Math.ceil(c / this.block) * this.block;
  }

  private staticDims(v: string, rank: number, fromAxis = 0): number[] | undefined {
    const s = this.shapeOf(v);
    if (!s || s.length !== rank) return undefined;
    const d = s.slice(fromAxis);
    return d.every((x) => typeof x === 'number' && x > 0) ? (d as number[]) : undefined;
  }

  /** OIHW filter `w` in the NCHWc kernel's layout: blocked outputs, and blocked inputs too when `blockInput`. */
  private filterFor(w: string, M: number, C: number, kh: number, kw: number, blockInput: boolean): string {
    const key = `${w}/${blockInput ? 'BiBo' : 'Bo'}`;
    const have = this.reorderedFilters.get(key);
    if (have) return have;
    const B = this.block;
    const Mp = this.roundUp(M);
    const Ip = blockInput ? this.roundUp(C) : C;
    let src = w;
    if (Mp !== M || Ip !== C) src = this.emit('Pad', [w, this.ints([0, 0, 0, 0, Mp - M, Ip - C, 0, 0])], {}, '', this.fresh(`${w}_padded`));
    let r: string;
    if (blockInput) {
      // OIHW → [O/B, Bo, I/B, Bi, kh, kw] → [O/B, I/B, kh, kw, Bi, Bo]
      const split = this.emit('Reshape', [src, this.ints([Mp / B, B, Ip / B, B, kh, kw])]);
      const perm = this.emit('Transpose', [split], { perm: [0, 2, 4, 5, 3, 1] });
      r = this.emit('Reshape', [perm, this.ints([Mp, Ip, kh, kw])], {}, '', this.fresh(`${w}_nchwc`));
    } else {
      // OIHW → [O/B, Bo, I, kh, kw] → [O/B, I, kh, kw, Bo]
      const split = this.emit('Reshape', [src, this.ints([Mp / B, B, Ip, kh, kw])]);
      const perm = this.emit('Transpose', [split], { perm: [0, 2, 3, 4, 1] });
      r = this.emit('Reshape', [perm, this.ints([Mp, Ip, kh, kw])], {}, '', this.fresh(`${w}_nchwc`));
    }
    this.reorderedFilters.set(key, r);
    return r;
  }

  private biasFor(b: string, M: number): string {
    const Mp = this.roundUp(M);
    if (Mp === M) return b;
    const have = this.paddedBiases.get(b);
    if (have) return have;
    const r = this.emit('Pad', [b, this.ints([0, Mp - M])], {}, '', this.fresh(`${b}_padded`));
    this.paddedBiases.set(b, r);
    return r;
  }

  /** The blocked twin of an NCHW value with C channels, made by ReorderInput if none exists yet (C % 4 == 0). */
  private toBlocked(v: string, C: number): Blocked | undefined {
    const have = this.blocked.get(v);
    if (have) return have;
    if (C % 4 !== 0) return undefined;
    const b = { name: this.emit('ReorderInput', [v], {}, NCHWC_DOMAIN, this.fresh(`${v}_blocked`)), channels: C };
    this.blocked.set(v, b);
    return b;
  }

  /** Register `y` (an original NCHW value) as produced blocked by `yb`; its ReorderOutput comes later if needed. */
  private produce(y: string, yb: string, channels: number): void {
    this.blocked.set(y, { name: yb, channels });
  }

  // Whether a value's NCHW form is read anyway (a graph output, or a reader that never runs blocked), and whether
  // it feeds a Conv or pool that may run blocked. A Relu, Add or pool moves into the blocked layout only if that
  // saves a reorder: when its input's NCHW form is read anyway and its output feeds nothing blocked, the standard
  // op on the NCHW input costs less than the blocked op plus a ReorderOutput of its result.
  private nchwRead(v: string): boolean {
    return this.graphOutputs.has(v) || (this.consumers.get(v) ?? []).some((c) => !isStd(c) || !BLOCKABLE.has(c.opType));
  }

  private feedsBlocked(v: string): boolean {
    return (this.consumers.get(v) ?? []).some((c) => isStd(c) && (c.opType === 'Conv' || POOLS.has(c.opType)));
  }

  private worthMoving(n: Node): boolean {
    return !n.inputs.some((i) => i && this.nchwRead(i)) || this.feedsBlocked(n.outputs[0]);
  }

  private dense(b: Blocked | undefined): Blocked | undefined {
    return b && b.channels >= this.minFill * this.roundUp(b.channels) ? b : undefined;
  }

  private tryConv(n: Node): boolean {
    const [x, w, bias] = n.inputs;
    if (
      (this.convFilter && !this.convFilter(n)) ||
      this.g.initializers.has(w) ||
      this.dtypeOf(x) !== 'float32' ||
      attrInt(n, 'group', 1) !== 1 ||
      n.outputs.length !== 1
    )
      return false;
    const xs = this.staticDims(x, 4, 1);
    const ws = this.staticDims(w, 4);
    if (!xs || !ws) return false;
    const [C] = xs;
    const [M, Cw, kh, kw] = ws;
    if (Cw !== C) return false;
    const input = this.convInput(x, C, kh * kw);
    if (!input) return false;
    const folded = this.foldBatchNorm(n.outputs[0], w, bias, M);
    const inputs = [input.name, this.filterFor(folded.filter, M, C, kh, kw, input.blocked)];
    if (folded.bias) inputs.push(this.biasFor(folded.bias, M));
    const attrs = passAttrs(n, ['auto_pad', 'dilations', 'kernel_shape', 'pads', 'strides']);
    const y = this.fuseAddRelu(folded.y, inputs, attrs, M, !!folded.bias);
    const yb = this.fresh(`${y}_blocked`);
    this.nodes.push({ opType: 'Conv', domain: NCHWC_DOMAIN, name: this.fresh(`${n.name || 'conv'}_nchwc`), inputs, outputs: [yb], attributes: attrs });
    this.produce(y, yb, M);
    this.convs++;
    return true;
  }

  /** The input a lowered Conv reads (blocked, or NCHW for a first Conv with fewer channels than a block), if any. */
  private convInput(x: string, C: number, taps: number): { name: string; blocked: boolean } | undefined {
    const have = this.dense(this.blocked.get(x));
    if (have) return { name: have.name, blocked: true };
    // A 1×1 Conv is one GEMM, which the standard kernel runs as fast as NCHWc's; reordering its input in would cost
    // more than it saves (bench/nchwc-conv.ts: 8→16 1×1 stride 2, batch 64 of 16×16: 0.05 ms standard, 0.07 NCHWc).
    if (taps === 1) return undefined;
    if (C < this.block) return { name: x, blocked: false };
    const b = this.toBlocked(x, C);
    return b && { name: b.name, blocked: true };
  }

  /**
   * An inference-mode BatchNormalization that is the Conv's only reader folds into the filter and bias, as
   * onnxruntime's optimiser does for baked weights: W' = W·s, b' = (b − mean)·s + β, s = γ / √(var + ε).
   * Returns the value the Conv now produces and its filter and bias.
   */
  private foldBatchNorm(y: string, w: string, bias: string | undefined, M: number): { y: string; filter: string; bias: string | undefined } {
    const bn = this.soleConsumer(y);
    const foldable =
      bn &&
      isStd(bn) &&
      bn.opType === 'BatchNormalization' &&
      bn.inputs[0] === y &&
      attrInt(bn, 'training_mode', 0) === 0 &&
      bn.outputs.length >= 1 &&
      bn.outputs.slice(1).every((o) => !o) &&
      bn.inputs.slice(1, 5).every((v) => v && this.dtypeOf(v) === 'float32' && sameDims(this.shapeOf(v), [M]));
    if (!bn || !foldable) return { y, filter: w, bias };
    const [, gamma, beta, mean, variance] = bn.inputs;
    const eps = this.fresh('epsilon');
    this.g.initializers.set(eps, { name: eps, tensor: tensor('float32', [], Float32Array.of(attrFloat(bn, 'epsilon', 1e-5))) });
    const scale = this.emit('Div', [gamma, this.emit('Sqrt', [this.emit('Add', [variance, eps])])]);
    const filter = this.emit('Mul', [w, this.emit('Reshape', [scale, this.ints([M, 1, 1, 1])])], {}, '', this.fresh(`${w}_bnfolded`));
    const b = this.emit('Add', [this.emit('Mul', [bias ? this.emit('Sub', [bias, mean]) : this.emit('Neg', [mean]), scale]), beta]);
    this.skip.add(bn);
    this.others++;
    return { y: bn.outputs[0], filter, bias: b };
  }

  /** Fusions into a lowered Conv producing `y`: Add(other blocked) as the kernel's Sum input, then Relu. */
  private fuseAddRelu(y: string, inputs: string[], attrs: Node['attributes'], M: number, hasBias: boolean): string {
    const next = this.soleConsumer(y);
    if (next && isStd(next) && next.opType === 'Add' && next.inputs.length === 2) {
      const other = next.inputs[0] === y ? next.inputs[1] : next.inputs[0];
      const ob = this.blocked.get(other);
      if (
        other !== y &&
        ob &&
        ob.channels === M &&
        sameDims(this.shapeOf(other), this.shapeOf(next.outputs[0])) &&
        sameDims(this.shapeOf(y), this.shapeOf(other))
      ) {
        if (!hasBias) inputs.push('');
        inputs.push(ob.name);
        this.skip.add(next);
        y = next.outputs[0];
        this.others++;
      }
    }
    const after = this.soleConsumer(y);
    if (after && isStd(after) && after.opType === 'Relu') {
      attrs.push(...makeAttributes({ activation: 'Relu' }));
      this.skip.add(after);
      y = after.outputs[0];
      this.others++;
    }
    return y;
  }

  private tryElementwise(n: Node): boolean {
    const ins = n.inputs.map((i) => this.dense(this.blocked.get(i)));
    if (ins.some((b) => !b) || n.outputs.length !== 1 || !this.worthMoving(n)) return false;
    if (n.opType === 'Add') {
      if (ins[0]!.channels !== ins[1]!.channels || !sameDims(this.shapeOf(n.inputs[0]), this.shapeOf(n.inputs[1]))) return false;
    }
    const y = this.fresh(`${n.outputs[0]}_blocked`);
    this.nodes.push({ ...n, name: this.fresh(`${n.name || n.opType}_nchwc`), inputs: ins.map((b) => b!.name), outputs: [y], attributes: [...n.attributes] });
    this.produce(n.outputs[0], y, ins[0]!.channels);
    this.others++;
    return true;
  }

  private tryPool(n: Node): boolean {
    const b = this.dense(this.blocked.get(n.inputs[0]));
    if (!b || n.outputs.filter(Boolean).length !== 1 || n.outputs[0] === '' || !this.staticDims(n.inputs[0], 4, 1) || !this.worthMoving(n)) return false;
    if (n.opType === 'MaxPool' && attrInt(n, 'storage_order', 0) !== 0) return false;
    if (n.opType === 'AveragePool' && attrInts(n, 'dilations')?.some((d) => d !== 1)) return false;
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET' && n.opType !== 'MaxPool' && n.opType !== 'AveragePool') return false;
    const keep = n.opType.startsWith('Global')
      ? []
      : passAttrs(
          n,
          n.opType === 'MaxPool'
            ? ['auto_pad', 'kernel_shape', 'dilations', 'strides', 'pads', 'ceil_mode']
            : ['auto_pad', 'kernel_shape', 'strides', 'pads', 'ceil_mode', 'count_include_pad'],
        );
    const yb = this.fresh(`${n.outputs[0]}_blocked`);
    this.nodes.push({
      opType: n.opType,
      domain: NCHWC_DOMAIN,
      name: this.fresh(`${n.name || 'pool'}_nchwc`),
      inputs: [b.name],
      outputs: [yb],
      attributes: keep,
    });
    this.produce(n.outputs[0], yb, b.channels);
    this.others++;
    return true;
  }
}

/**
 * Pass 2: a ReorderOutput right after the producer of every blocked value that a standard consumer or a graph
 * output reads (blocked readers read the blocked twin). Subgraphs (If/Loop/Scan bodies) may read any outer value,
 * so with those every blocked value is reordered back.
 */
function insertReorders(rw: BlockedRewrite): { nodes: Node[]; reorders: number } {
  const needed = new Set<string>(rw.graphOutputs);
  for (const n of rw.nodes) for (const i of n.inputs) needed.add(i);
  if (rw.g.nodes.some((n) => n.attributes.some((a) => a.g || (a.graphs && a.graphs.length > 0)))) for (const v of rw.blocked.keys()) needed.add(v);
  const producedBy = new Map<string, string>(); // blocked name → NCHW name
  for (const [v, b] of rw.blocked) if (b.name !== v) producedBy.set(b.name, v);
  const nodes: Node[] = [];
  let reorders = 0;
  for (const n of rw.nodes) {
    nodes.push(n);
    if (n.opType === 'ReorderInput' && n.domain === NCHWC_DOMAIN) reorders++;
    for (const o of n.outputs) {
      const v = producedBy.get(o);
      // A ReorderInput's source already exists in NCHW.
      if (v === undefined || n.opType === 'ReorderInput' || !needed.has(v)) continue;
      nodes.push({
        opType: 'ReorderOutput',
        domain: NCHWC_DOMAIN,
        name: rw.fresh('ReorderOutput_node'),
        inputs: [o],
        outputs: [v],
        attributes: makeAttributes({ channels: rw.blocked.get(v)!.channels }),
      });
      reorders++;
    }
  }
  return { nodes, reorders };
}

const BLOCKABLE = new Set(['Conv', 'Relu', 'Add', ...POOLS]);

function passAttrs(n: Node, names: string[]): Node['attributes'] {
  return n.attributes.filter((a) => names.includes(a.name ?? ''));
}

function isStd(n: Node): boolean {
  return n.domain === '' || n.domain === 'ai.onnx';
}

function sameDims(a: readonly (number | string | null)[] | undefined, b: readonly (number | string | null)[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((d, i) => d !== null && d === b[i]);
}

/**
 * True when a model uses any of onnxruntime's NCHWc contrib ops (which must never be saved).
 *
 * @example assert(!usesNchwcOps(readModel('trained.onnx')));
 */
export function usesNchwcOps(model: Model): boolean {
  return model.opsetImports.some((o) => o.domain === NCHWC_DOMAIN) || model.graph.nodes.some((n) => n.domain === NCHWC_DOMAIN);
}

/**
 * A one-node model that reveals the NCHWc block size: `ReorderInput` of its input `x` [1, 4, 1, 1] outputs
 * [1, B, 1, 1].
 *
 * @example const probe = blockProbeModel(); // run with x = zeros([1, 4, 1, 1]); dims[1] of the output is B
 */
export function blockProbeModel(): Model {
  const g = emptyGraph('nchwc_block_probe');
  g.inputs.push(tensorValueInfo('x', 'float32', [1, 4, 1, 1]));
  g.outputs.push({ name: 'y' });
  g.nodes.push({ opType: 'ReorderInput', domain: NCHWC_DOMAIN, name: 'reorder', inputs: ['x'], outputs: ['y'], attributes: [] });
  const m = makeModel(g, 17);
  m.opsetImports.push({ domain: NCHWC_DOMAIN, version: 1 });
  return m;
}
