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
import { type Model, type Node, cloneModel, onnxOpset } from '../onnx/ir.js';
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
 * @example const { model: fast } = lowerToNchwc(trainingGraph, 16); // then encode and run on the CPU provider
 */
export function lowerToNchwc(model: Model, block: number, opts: NchwcOptions = {}): NchwcLowering {
  const minFill = opts.minFill ?? 0.75;
  if (!(block >= 4 && (block & (block - 1)) === 0)) throw new Error(`NCHWc block size must be a power of two ≥ 4, got ${block}`);
  let opset: number;
  try {
    opset = onnxOpset(model);
  } catch {
    return { model, convs: 0, others: 0, reorders: 0 };
  }
  if (opset < 13 || model.opsetImports.some((o) => o.domain === NCHWC_DOMAIN)) return { model, convs: 0, others: 0, reorders: 0 };
  const g0 = model.graph;
  if (!g0.nodes.some((n) => n.opType === 'Conv' && (n.domain === '' || n.domain === 'ai.onnx') && !g0.initializers.has(n.inputs[1]))) {
    return { model, convs: 0, others: 0, reorders: 0 };
  }
  const types = inferTypes(model);
  const out = cloneModel(model);
  const g = out.graph;
  const shapeOf = (v: string) => types.get(v)?.shape;
  const dtypeOf = (v: string) => types.get(v)?.dtype;

  // Names in use, for fresh ones.
  const used = new Set<string>([...g.inputs.map((v) => v.name), ...g.initializers.keys()]);
  for (const n of g.nodes) {
    for (const o of n.outputs) used.add(o);
    if (n.name) used.add(n.name);
  }
  let counter = 0;
  const fresh = (hint: string) => {
    let s = `${hint}__nchwc${counter++}`;
    while (used.has(s)) s = `${hint}__nchwc${counter++}`;
    used.add(s);
    return s;
  };

  // Consumers of each value in the original graph (graph outputs count as a consumer that needs NCHW).
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  const graphOutputs = new Set(g.outputs.map((o) => o.name));
  const soleConsumer = (v: string): Node | undefined => {
    const cs = consumers.get(v);
    return !graphOutputs.has(v) && cs && cs.length === 1 ? cs[0] : undefined;
  };

  const nodes: Node[] = [];
  const emit = (opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, domain = '', outName?: string): string => {
    const o = outName ?? fresh(opType.toLowerCase());
    nodes.push({ opType, domain, name: fresh(`${opType}_node`), inputs, outputs: [o], attributes: makeAttributes(attrs) });
    return o;
  };
  const ints = (vals: number[]) => {
    const name = fresh('shape');
    g.initializers.set(name, { name, tensor: tensor('int64', [vals.length], BigInt64Array.from(vals.map(BigInt))) });
    return name;
  };
  const roundUp = (c: number) => Math.ceil(c / block) * block;

  const blocked = new Map<string, Blocked>(); // NCHW value name → its blocked twin
  const skip = new Set<Node>(); // original nodes folded into an earlier one
  const reorderedFilters = new Map<string, string>();
  const paddedBiases = new Map<string, string>();
  let convs = 0;
  let others = 0;

  const staticDims = (v: string, rank: number, fromAxis = 0): number[] | undefined => {
    const s = shapeOf(v);
    if (!s || s.length !== rank) return undefined;
    const d = s.slice(fromAxis);
    return d.every((x) => typeof x === 'number' && x > 0) ? (d as number[]) : undefined;
  };

  const filterFor = (w: string, M: number, C: number, kh: number, kw: number, blockInput: boolean): string => {
    const key = `${w}/${blockInput ? 'BiBo' : 'Bo'}`;
    const have = reorderedFilters.get(key);
    if (have) return have;
    const Mp = roundUp(M);
    const Ip = blockInput ? roundUp(C) : C;
    let src = w;
    if (Mp !== M || Ip !== C) src = emit('Pad', [w, ints([0, 0, 0, 0, Mp - M, Ip - C, 0, 0])], {}, '', fresh(`${w}_padded`));
    let r: string;
    if (blockInput) {
      // OIHW → [O/B, Bo, I/B, Bi, kh, kw] → [O/B, I/B, kh, kw, Bi, Bo]
      const split = emit('Reshape', [src, ints([Mp / block, block, Ip / block, block, kh, kw])]);
      const perm = emit('Transpose', [split], { perm: [0, 2, 4, 5, 3, 1] });
      r = emit('Reshape', [perm, ints([Mp, Ip, kh, kw])], {}, '', fresh(`${w}_nchwc`));
    } else {
      // OIHW → [O/B, Bo, I, kh, kw] → [O/B, I, kh, kw, Bo]
      const split = emit('Reshape', [src, ints([Mp / block, block, Ip, kh, kw])]);
      const perm = emit('Transpose', [split], { perm: [0, 2, 3, 4, 1] });
      r = emit('Reshape', [perm, ints([Mp, Ip, kh, kw])], {}, '', fresh(`${w}_nchwc`));
    }
    reorderedFilters.set(key, r);
    return r;
  };

  const biasFor = (b: string, M: number): string => {
    const Mp = roundUp(M);
    if (Mp === M) return b;
    const have = paddedBiases.get(b);
    if (have) return have;
    const r = emit('Pad', [b, ints([0, Mp - M])], {}, '', fresh(`${b}_padded`));
    paddedBiases.set(b, r);
    return r;
  };

  /** The blocked twin of an NCHW value with C channels, made by ReorderInput if none exists yet (C % 4 == 0). */
  const toBlocked = (v: string, C: number): Blocked | undefined => {
    const have = blocked.get(v);
    if (have) return have;
    if (C % 4 !== 0) return undefined;
    const b = { name: emit('ReorderInput', [v], {}, NCHWC_DOMAIN, fresh(`${v}_blocked`)), channels: C };
    blocked.set(v, b);
    return b;
  };

  /** Register `y` (an original NCHW value) as produced blocked by `yb`; its ReorderOutput comes later if needed. */
  const produce = (y: string, yb: string, channels: number) => blocked.set(y, { name: yb, channels });

  // Whether a value's NCHW form is read anyway (a graph output, or a reader that never runs blocked), and whether
  // it feeds a Conv or pool that may run blocked. A Relu, Add or pool moves into the blocked layout only if that
  // saves a reorder: when its input's NCHW form is read anyway and its output feeds nothing blocked, the standard
  // op on the NCHW input costs less than the blocked op plus a ReorderOutput of its result.
  const BLOCKABLE = new Set(['Conv', 'Relu', 'Add', ...POOLS]);
  const nchwRead = (v: string) => graphOutputs.has(v) || (consumers.get(v) ?? []).some((c) => !isStd(c) || !BLOCKABLE.has(c.opType));
  const feedsBlocked = (v: string) => (consumers.get(v) ?? []).some((c) => isStd(c) && (c.opType === 'Conv' || POOLS.has(c.opType)));
  const worthMoving = (n: Node) => !n.inputs.some((i) => i && nchwRead(i)) || feedsBlocked(n.outputs[0]);

  const dense = (b: Blocked | undefined) => (b && b.channels >= minFill * roundUp(b.channels) ? b : undefined);

  const passAttrs = (n: Node, names: string[]) => n.attributes.filter((a) => names.includes(a.name ?? ''));

  for (const n of g.nodes) {
    if (skip.has(n)) continue;
    const std = n.domain === '' || n.domain === 'ai.onnx';
    if (std && n.opType === 'Conv' && tryConv(n)) continue;
    if (std && (n.opType === 'Relu' || n.opType === 'Add') && tryElementwise(n)) continue;
    if (std && POOLS.has(n.opType) && tryPool(n)) continue;
    nodes.push(n);
  }

  function tryConv(n: Node): boolean {
    const [x, w, bias] = n.inputs;
    if (g.initializers.has(w) || dtypeOf(x) !== 'float32' || attrInt(n, 'group', 1) !== 1 || n.outputs.length !== 1) return false;
    const xs = staticDims(x, 4, 1);
    const ws = staticDims(w, 4);
    if (!xs || !ws) return false;
    const [C] = xs;
    const [M, Cw, kh, kw] = ws;
    if (Cw !== C) return false;
    const have = dense(blocked.get(x));
    // A 1×1 Conv is one GEMM, which the standard kernel runs as fast as NCHWc's; reordering its input in would cost
    // more than it saves (bench/nchwc-conv.ts: 8→16 1×1 stride 2, batch 64 of 16×16: 0.05 ms standard, 0.07 NCHWc).
    if (!have && kh * kw === 1) return false;
    let input: string;
    let blockInput: boolean;
    if (have) {
      input = have.name;
      blockInput = true;
    } else if (C < block) {
      input = x;
      blockInput = false;
    } else {
      const b = toBlocked(x, C);
      if (!b) return false;
      input = b.name;
      blockInput = true;
    }
    let y = n.outputs[0];
    // An inference-mode BatchNormalization that is the Conv's only reader folds into the filter and bias, as
    // onnxruntime's optimiser does for baked weights: W' = W·s, b' = (b − mean)·s + β, s = γ / √(var + ε).
    let filterSrc = w;
    let biasSrc: string | undefined = bias;
    const bn = soleConsumer(y);
    if (
      bn && isStd(bn) && bn.opType === 'BatchNormalization' && bn.inputs[0] === y && attrInt(bn, 'training_mode', 0) === 0 &&
      bn.outputs.length >= 1 && bn.outputs.slice(1).every((o) => !o) &&
      bn.inputs.slice(1, 5).every((v) => v && dtypeOf(v) === 'float32' && sameDims(shapeOf(v), [M]))
    ) {
      const [, gamma, beta, mean, variance] = bn.inputs;
      const eps = fresh('epsilon');
      g.initializers.set(eps, { name: eps, tensor: tensor('float32', [], Float32Array.of(attrFloat(bn, 'epsilon', 1e-5))) });
      const scale = emit('Div', [gamma, emit('Sqrt', [emit('Add', [variance, eps])])]);
      filterSrc = emit('Mul', [w, emit('Reshape', [scale, ints([M, 1, 1, 1])])], {}, '', fresh(`${w}_bnfolded`));
      biasSrc = emit('Add', [emit('Mul', [bias ? emit('Sub', [bias, mean]) : emit('Neg', [mean]), scale]), beta]);
      skip.add(bn);
      y = bn.outputs[0];
      others++;
    }
    const filter = filterFor(filterSrc, M, C, kh, kw, blockInput);
    const inputs = [input, filter];
    if (biasSrc) inputs.push(biasFor(biasSrc, M));
    const attrs = passAttrs(n, ['auto_pad', 'dilations', 'kernel_shape', 'pads', 'strides']);
    // Fusions: Conv → Add(other blocked) → Relu, or Conv → Relu.
    const next = soleConsumer(y);
    if (next && isStd(next) && next.opType === 'Add' && next.inputs.length === 2) {
      const other = next.inputs[0] === y ? next.inputs[1] : next.inputs[0];
      const ob = blocked.get(other);
      if (other !== y && ob && ob.channels === M && sameDims(shapeOf(other), shapeOf(next.outputs[0])) && sameDims(shapeOf(y), shapeOf(other))) {
        if (!biasSrc) inputs.push('');
        inputs.push(ob.name);
        skip.add(next);
        y = next.outputs[0];
        others++;
      }
    }
    const after = soleConsumer(y);
    if (after && isStd(after) && after.opType === 'Relu') {
      attrs.push(...makeAttributes({ activation: 'Relu' }));
      skip.add(after);
      y = after.outputs[0];
      others++;
    }
    const yb = fresh(`${y}_blocked`);
    nodes.push({ opType: 'Conv', domain: NCHWC_DOMAIN, name: fresh(`${n.name || 'conv'}_nchwc`), inputs, outputs: [yb], attributes: attrs });
    produce(y, yb, M);
    convs++;
    return true;
  }

  function tryElementwise(n: Node): boolean {
    const ins = n.inputs.map((i) => dense(blocked.get(i)));
    if (ins.some((b) => !b) || n.outputs.length !== 1 || !worthMoving(n)) return false;
    if (n.opType === 'Add') {
      if (ins[0]!.channels !== ins[1]!.channels || !sameDims(shapeOf(n.inputs[0]), shapeOf(n.inputs[1]))) return false;
    }
    const y = fresh(`${n.outputs[0]}_blocked`);
    nodes.push({ ...n, name: fresh(`${n.name || n.opType}_nchwc`), inputs: ins.map((b) => b!.name), outputs: [y], attributes: [...n.attributes] });
    produce(n.outputs[0], y, ins[0]!.channels);
    others++;
    return true;
  }

  function tryPool(n: Node): boolean {
    const b = dense(blocked.get(n.inputs[0]));
    if (!b || n.outputs.filter(Boolean).length !== 1 || n.outputs[0] === '' || !staticDims(n.inputs[0], 4, 1) || !worthMoving(n)) return false;
    if (n.opType === 'MaxPool' && attrInt(n, 'storage_order', 0) !== 0) return false;
    if (!n.opType.startsWith('Global')) {
      const dil = attrInts(n, 'dilations');
      if (n.opType === 'AveragePool' && dil && dil.some((d) => d !== 1)) return false;
    }
    const keep = n.opType.startsWith('Global')
      ? []
      : passAttrs(n, n.opType === 'MaxPool' ? ['auto_pad', 'kernel_shape', 'dilations', 'strides', 'pads', 'ceil_mode'] : ['auto_pad', 'kernel_shape', 'strides', 'pads', 'ceil_mode', 'count_include_pad']);
    if (attrString(n, 'auto_pad', 'NOTSET') !== 'NOTSET' && n.opType !== 'MaxPool' && n.opType !== 'AveragePool') return false;
    const yb = fresh(`${n.outputs[0]}_blocked`);
    nodes.push({ opType: n.opType, domain: NCHWC_DOMAIN, name: fresh(`${n.name || 'pool'}_nchwc`), inputs: [b.name], outputs: [yb], attributes: keep });
    produce(n.outputs[0], yb, b.channels);
    others++;
    return true;
  }

  // ReorderOutput for every blocked value a standard consumer or a graph output reads, right after its producer.
  const needed = new Set<string>(g.outputs.map((o) => o.name));
  // Every value a node reads by its NCHW name (blocked readers read the blocked twin); subgraphs (If/Loop/Scan
  // bodies) may read any outer value, so with those every blocked value is reordered back.
  for (const n of nodes) for (const i of n.inputs) needed.add(i);
  if (g.nodes.some((n) => n.attributes.some((a) => a.g || (a.graphs && a.graphs.length > 0)))) for (const v of blocked.keys()) needed.add(v);
  const producedBy = new Map<string, string>(); // blocked name → NCHW name
  for (const [v, b] of blocked) if (b.name !== v) producedBy.set(b.name, v);
  const final: Node[] = [];
  let reorders = 0;
  for (const n of nodes) {
    final.push(n);
    if (n.opType === 'ReorderInput' && n.domain === NCHWC_DOMAIN) reorders++;
    for (const o of n.outputs) {
      const v = producedBy.get(o);
      // A ReorderInput's source already exists in NCHW.
      if (v === undefined || n.opType === 'ReorderInput' || !needed.has(v)) continue;
      final.push({ opType: 'ReorderOutput', domain: NCHWC_DOMAIN, name: fresh('ReorderOutput_node'), inputs: [o], outputs: [v], attributes: makeAttributes({ channels: blocked.get(v)!.channels }) });
      reorders++;
    }
  }
  if (convs === 0) return { model, convs: 0, others: 0, reorders: 0 };
  g.nodes = final;
  out.opsetImports.push({ domain: NCHWC_DOMAIN, version: 1 });
  return { model: out, convs, others, reorders };
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
