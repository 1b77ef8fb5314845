// What each parameter of any ONNX model is, worked out from the graph: the op consuming it and the input slot.
import { floatInitializers, type Graph, type Model, type Node } from '../onnx/ir.js';
import { sizeOf } from '../tensor/host-tensor.js';
import { decomposedLayerNormParams } from './layer-norm-pattern.js';

/** The role of a parameter. */
export type ParamKind = 'conv' | 'fc' | 'embedding' | 'attention' | 'batch-norm' | 'layer-norm' | 'bias' | 'recurrent' | 'other';

/** One float initializer, described. */
export interface ParamInfo {
  name: string;
  /** The layer it belongs to, as `layerOf` decides: `layer1.0.conv1` for `layer1.0.conv1.weight`; for a generated name such as `onnx::Conv_41`, the scope of the node using it (`c1` for `/c1/Conv`). */
  layer: string;
  kind: ParamKind;
  shape: number[];
  size: number;
  /** Index, in the graph's topologically sorted node list, of the node that consumes it (the one deciding its kind); -1 if unused. */
  order: number;
  /** False for BatchNormalization running statistics (buffers, not trained by gradient). */
  trainable: boolean;
}

/** Ops a parameter may pass through on its way to the op that uses it (views, casts, dequantization). */
const PARAM_VIEWS = new Set([
  'Identity',
  'Cast',
  'Transpose',
  'Reshape',
  'Unsqueeze',
  'Squeeze',
  'Flatten',
  'Expand',
  'DequantizeLinear',
  'Concat',
  'Slice',
  'Split',
]);
/** Ops between a Q/K/V projection and the attention MatMul (bias, head split, scaling). */
const HEAD_PATH = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Reshape',
  'Transpose',
  'Slice',
  'Split',
  'Squeeze',
  'Unsqueeze',
  'Identity',
  'Cast',
  'Concat',
  'Gather',
  'Dropout',
]);
/** Ops between the scores MatMul and the Softmax (scaling, masking). */
const SCORE_PATH = new Set(['Mul', 'Div', 'Add', 'Sub', 'Where', 'Cast', 'Reshape', 'Transpose', 'Identity', 'Slice']);
/** Ops between Softmax or the attention context and the next MatMul (dropout, head merge). */
const CONTEXT_PATH = new Set(['Dropout', 'Cast', 'Identity', 'Reshape', 'Transpose', 'Slice', 'Concat', 'Squeeze', 'Unsqueeze', 'Flatten']);
const MATMULS = new Set(['MatMul', 'Gemm', 'MatMulInteger', 'FusedMatMul']);

interface Use {
  node: number;
  slot: number;
}

class GraphIndex {
  readonly consumers = new Map<string, Use[]>();
  readonly producer = new Map<string, number>();

  constructor(readonly g: Graph) {
    g.nodes.forEach((n, k) => {
      n.inputs.forEach((i, slot) => {
        if (!i) return;
        const list = this.consumers.get(i);
        if (list) list.push({ node: k, slot });
        else this.consumers.set(i, [{ node: k, slot }]);
      });
      for (const o of n.outputs) if (o) this.producer.set(o, k);
    });
  }

  node(k: number): Node {
    return this.g.nodes[k];
  }

  /** The uses of a parameter, looking through view ops (only through their data input). */
  paramUses(name: string): Use[] {
    const out: Use[] = [];
    const seen = new Set<string>([name]);
    const queue = [name];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const u of this.consumers.get(v) ?? []) {
        const n = this.node(u.node);
        if (PARAM_VIEWS.has(n.opType) && (u.slot === 0 || n.opType === 'Concat')) {
          for (const o of n.outputs)
            if (o && !seen.has(o)) {
              seen.add(o);
              queue.push(o);
            }
        } else out.push(u);
      }
    }
    return out.sort((a, b) => a.node - b.node || a.slot - b.slot);
  }

  /** Whether a value is (a view of) an initializer or a Constant. */
  isParamLike(v: string, depth = 8): boolean {
    if (this.g.initializers.has(v)) return true;
    const k = this.producer.get(v);
    if (k === undefined || depth === 0) return false;
    const n = this.node(k);
    if (n.opType === 'Constant') return true;
    return PARAM_VIEWS.has(n.opType) && !!n.inputs[0] && this.isParamLike(n.inputs[0], depth - 1);
  }

  /** Whether walking back from `v` through `through` ops reaches a node of type `target` within `depth` nodes. */
  backReaches(v: string, target: (n: Node) => boolean, through: Set<string>, depth: number): boolean {
    const k = this.producer.get(v);
    if (k === undefined || depth === 0) return false;
    const n = this.node(k);
    if (target(n)) return true;
    if (!through.has(n.opType)) return false;
    return n.inputs.some((i) => i && !this.isParamLike(i) && this.backReaches(i, target, through, depth - 1));
  }

  /** Nodes reached forward from `v` through `through` ops within `depth` steps (the first non-`through` node on each path). */
  forwardFrontier(v: string, through: Set<string>, depth: number): number[] {
    const found: number[] = [];
    const seen = new Set<string>([v]);
    let level = [v];
    for (let d = 0; d < depth && level.length > 0; d++) {
      const next: string[] = [];
      for (const x of level) {
        for (const u of this.consumers.get(x) ?? []) {
          const n = this.node(u.node);
          if (through.has(n.opType)) {
            for (const o of n.outputs)
              if (o && !seen.has(o)) {
                seen.add(o);
                next.push(o);
              }
          } else if (!found.includes(u.node)) found.push(u.node);
        }
      }
      level = next;
    }
    return found;
  }

  /** A MatMul of two activations (no parameter operand): the QKᵀ or attention·V product. */
  isActivationMatMul(n: Node): boolean {
    return (n.opType === 'MatMul' || n.opType === 'Einsum') && n.inputs.length >= 2 && n.inputs.every((i) => i && !this.isParamLike(i));
  }

  /** Whether the output of node `k` is a Q, K or V projection (reaches softmax(QKᵀ) or softmax(·)·V). */
  feedsAttention(k: number): boolean {
    const out = this.node(k).outputs[0];
    if (!out) return false;
    const isSoftmax = (n: Node) => n.opType === 'Softmax';
    for (const m of this.forwardFrontier(out, HEAD_PATH, 12)) {
      const mm = this.node(m);
      if (!this.isActivationMatMul(mm)) continue;
      if (this.forwardFrontier(mm.outputs[0], SCORE_PATH, 6).some((j) => isSoftmax(this.node(j)))) return true;
      if (mm.inputs.some((i) => this.backReaches(i, isSoftmax, CONTEXT_PATH, 6))) return true;
    }
    return false;
  }

  /** Whether node `k` projects an attention context (its input comes from softmax(·)·V): an output projection. */
  readsAttention(k: number): boolean {
    const n = this.node(k);
    const isContext = (m: Node) => this.isActivationMatMul(m) && m.inputs.some((i) => this.backReaches(i, (s) => s.opType === 'Softmax', CONTEXT_PATH, 6));
    return n.inputs.some((i) => i && !this.isParamLike(i) && this.backReaches(i, isContext, CONTEXT_PATH, 8));
  }

  /** Whether `v` is an embedding lookup (a Gather of a parameter), possibly through views. */
  isEmbedding(v: string): boolean {
    return this.backReaches(v, (n) => n.opType === 'Gather' && !!n.inputs[0] && this.isParamLike(n.inputs[0]), PARAM_VIEWS, 6);
  }
}

function classify(ix: GraphIndex, use: Use, dims: readonly number[]): { kind: ParamKind; trainable: boolean } {
  const n = ix.node(use.node);
  const s = use.slot;
  const yes = (kind: ParamKind) => ({ kind, trainable: true });
  switch (n.opType) {
    case 'Conv':
    case 'ConvTranspose':
    case 'ConvInteger':
      return yes(s === 1 ? 'conv' : s === 2 ? 'bias' : 'other');
    case 'Gemm':
    case 'MatMul':
    case 'MatMulInteger':
    case 'FusedMatMul':
      if (s === 2 && n.opType === 'Gemm') return yes('bias');
      if (s > 1) return yes('other');
      return yes(ix.feedsAttention(use.node) || ix.readsAttention(use.node) ? 'attention' : 'fc');
    case 'Einsum':
      return yes(ix.feedsAttention(use.node) ? 'attention' : 'fc');
    case 'Gather':
      return yes(s === 0 ? 'embedding' : 'other');
    case 'BatchNormalization':
      return s >= 1 && s <= 4 ? { kind: 'batch-norm', trainable: s <= 2 } : yes('other');
    case 'LayerNormalization':
    case 'SimplifiedLayerNormalization':
    case 'SkipLayerNormalization':
    case 'RMSNormalization':
      return yes(s >= 1 ? 'layer-norm' : 'other');
    case 'GRU':
    case 'LSTM':
    case 'RNN':
      return yes(s >= 1 && s !== 4 ? 'recurrent' : 'other');
    case 'Add':
    case 'Sub': {
      const other = n.inputs[1 - s];
      if (s > 1 || !other) return yes('other');
      // A table with two or more non-unit dims added to a sequence is a learned position embedding.
      if (ix.isEmbedding(other) || dims.filter((d) => d !== 1).length >= 2) return yes('embedding');
      const k = ix.producer.get(other);
      const p = k === undefined ? undefined : ix.node(k);
      if (p && (MATMULS.has(p.opType) || p.opType === 'Conv' || p.opType === 'ConvTranspose' || p.opType === 'Einsum')) return yes('bias');
      return yes('other');
    }
    default:
      return yes('other');
  }
}

/** Exporter-generated parameter names (`onnx::Conv_41`, `/c1/Constant_output_0`, `123`) that say nothing of a layer. */
function isGeneratedName(name: string): boolean {
  return /[:/]/.test(name) || !/[A-Za-z]/.test(name);
}

/** `/layer1/conv1/Conv` (PyTorch's scoped node names) → `layer1.conv1`; an unscoped name as it is; no name → `Conv#7`. */
function nodeScope(n: Node, index: number): string {
  if (!n.name) return `${n.opType}#${index}`;
  if (n.name.startsWith('/')) {
    const parts = n.name.split('/').filter(Boolean);
    if (parts.length > 1) return parts.slice(0, -1).join('.');
  }
  return n.name;
}

/**
 * The layer a parameter belongs to: the one rule every command (inspect, params, diff, inject, locate) names layers
 * by. A dotted name gives the part before its last dot (`layer1.0.conv1.weight` → `layer1.0.conv1`). A name the
 * exporter generated (`onnx::Conv_41`, as PyTorch names a Conv whose BatchNorm it folded in) gives the scope of the
 * node that uses the parameter (`/c1/Conv` → `c1`), so that a weight and its bias share one layer; any other name is
 * its own layer.
 *
 * @param user the node that uses the parameter (looking through views), and its index in the graph
 * @example layerOf('onnx::Conv_41', { node: { opType: 'Conv', name: '/c1/Conv', … }, index: 0 }) // 'c1'
 */
export function layerOf(name: string, user?: { node: Node; index: number }): string {
  const dot = name.lastIndexOf('.');
  if (dot > 0 && !isGeneratedName(name.slice(0, dot))) return name.slice(0, dot);
  if (isGeneratedName(name) && user) return nodeScope(user.node, user.index);
  return name;
}

/**
 * Describe every float initializer of a model: its layer, its kind (from the op and input slot that consume it),
 * shape, size and position in the graph. Works on any ONNX model, PyTorch exports included: parameters are
 * followed through view ops (Transpose, Reshape, Cast, …) to the op that uses them; Q/K/V projections whose
 * outputs reach softmax(QKᵀ) or softmax(·)·V, and output projections of softmax(·)·V, are 'attention'; an
 * initializer added to an embedding lookup, or any added table with two or more non-unit dimensions (learned
 * positions), is 'embedding'; one with a single non-unit dimension added to a MatMul/Gemm/Conv
 * output is 'bias'.
 *
 * @example
 * for (const p of describeParams(buildModel('lenet5'))) console.log(p.name, p.kind); // conv1.weight conv, conv1.bias bias, …
 */
export function describeParams(model: Model): ParamInfo[] {
  const g = model.graph;
  const ix = new GraphIndex(g);
  const layerNorm = decomposedLayerNormParams(g); // LayerNorm written out in elementary ops (opsets before 17)
  return floatInitializers(g).map((init) => {
    const uses = ix.paramUses(init.name);
    let chosen: { kind: ParamKind; trainable: boolean; order: number } = {
      kind: layerNorm.has(init.name) ? 'layer-norm' : 'other',
      trainable: true,
      order: uses[0]?.node ?? -1,
    };
    for (const u of layerNorm.has(init.name) ? [] : uses) {
      const c = classify(ix, u, init.tensor!.dims);
      if (c.kind !== 'other') {
        chosen = { ...c, order: u.node };
        break;
      }
    }
    const shape = [...init.tensor!.dims];
    const user = chosen.order >= 0 ? { node: g.nodes[chosen.order], index: chosen.order } : undefined;
    return {
      name: init.name,
      layer: layerOf(init.name, user),
      kind: chosen.kind,
      shape,
      size: sizeOf(shape),
      order: chosen.order,
      trainable: chosen.trainable,
    };
  });
}

/**
 * Count a model's float parameters (elements); `trainable: true` leaves out BatchNormalization running statistics.
 *
 * @example countParams(buildModel('lenet5')); // 61706
 */
export function countParams(model: Model, opts: { trainable?: boolean } = {}): number {
  return describeParams(model)
    .filter((p) => !opts.trainable || p.trainable)
    .reduce((a, p) => a + p.size, 0);
}
