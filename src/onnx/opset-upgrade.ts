// Opsets 11 and 12 (older PyTorch, tf2onnx/Keras) converted to opset 13, the opset the differentiator works in.
import { attrFloat, attrInt, attrInts, hasAttr, makeAttribute } from './attributes.js';
import { cloneModel, type Model, type Node, onnxOpset } from './ir.js';
import { type GraphProto, toNumber } from './proto.js';
import { inferTypes } from './shapes.js';

/** The ops whose attribute became an input at opset 13, with that attribute. */
const ATTR_TO_INPUT: Record<string, string> = { Squeeze: 'axes', Unsqueeze: 'axes', ReduceSum: 'axes', Split: 'split' };

/** The oldest opset scalpel converts, and the one it converts to. */
export const OLDEST_OPSET = 11;
export const TARGET_OPSET = 13;

export interface OpsetUpgrade {
  model: Model;
  from: number;
  to: number;
  /** What changed, by op: 'Squeeze ×2: axes attribute → input', … */
  changes: string[];
}

/**
 * Convert a model importing ONNX opset 11 or 12 to opset 13: the `axes` attributes of Squeeze, Unsqueeze and
 * ReduceSum and the `split` attribute of Split become inputs; Softmax, LogSoftmax and Hardmax, which took the 2-D
 * coercion of their input before 13, get it explicitly (Flatten, op on axis 1, Reshape back) unless the axis is the
 * last one, where both forms agree; Dropout's `ratio` becomes an input. Inside subgraphs (If, Loop, Scan) only the
 * attribute → input moves are made. Returns undefined for opset 13 and later;
 * throws below opset 11. Check the result against onnxruntime with `verifyUpgrade`.
 *
 * @example const up = upgradeOpset(readModel('keras-opset11.onnx')); up?.changes // ['Squeeze ×1: axes attribute → input']
 */
export function upgradeOpset(model: Model, source = 'model'): OpsetUpgrade | undefined {
  const from = onnxOpset(model);
  if (from >= TARGET_OPSET) return undefined;
  if (from < OLDEST_OPSET) {
    throw new Error(
      `${source} imports ONNX opset ${from}; scalpel reads opsets ${OLDEST_OPSET} and later. Re-export it at opset ${TARGET_OPSET} or later ` +
        `(torch.onnx.export(..., opset_version=${TARGET_OPSET}); tf2onnx --opset ${TARGET_OPSET}) or convert it with ` +
        `onnx.version_converter.convert_version(model, ${TARGET_OPSET})`,
    );
  }
  const out = cloneModel(model);
  const g = out.graph;
  const env = inferTypes(model);
  const counts = new Map<string, number>();
  const note = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1);
  const names = new Set<string>([...g.initializers.keys(), ...g.inputs.map((v) => v.name), ...g.nodes.flatMap((n) => n.outputs)]);
  let k = 0;
  const fresh = (base: string) => {
    let n: string;
    do n = `${base}_opset13_${k++}`;
    while (names.has(n));
    names.add(n);
    return n;
  };
  const int64s = (vals: number[]) => {
    const name = fresh('axes');
    g.initializers.set(name, { name, tensor: { dtype: 'int64', dims: [vals.length], data: BigInt64Array.from(vals.map(BigInt)) } });
    return name;
  };
  const without = (n: Node, attr: string) => n.attributes.filter((a) => a.name !== attr);

  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (n.domain && n.domain !== 'ai.onnx') {
      nodes.push(n);
      continue;
    }
    switch (n.opType) {
      case 'Squeeze':
      case 'Unsqueeze':
      case 'ReduceSum':
        if (hasAttr(n, 'axes')) {
          nodes.push({ ...n, inputs: [n.inputs[0], int64s(attrInts(n, 'axes', []))], attributes: without(n, 'axes') });
          note(`${n.opType}: axes attribute → input`);
        } else nodes.push(n);
        break;
      case 'Split':
        if (hasAttr(n, 'split')) {
          nodes.push({ ...n, inputs: [n.inputs[0], int64s(attrInts(n, 'split', []))], attributes: without(n, 'split') });
          note('Split: split attribute → input');
        } else nodes.push(n);
        break;
      case 'Dropout':
        if (hasAttr(n, 'ratio')) {
          const name = fresh('ratio');
          g.initializers.set(name, { name, tensor: { dtype: 'float32', dims: [], data: Float32Array.of(attrFloat(n, 'ratio', 0.5)) } });
          nodes.push({ ...n, inputs: [n.inputs[0], name], attributes: without(n, 'ratio') });
          note('Dropout: ratio attribute → input');
        } else nodes.push(n);
        break;
      case 'Softmax':
      case 'LogSoftmax':
      case 'Hardmax': {
        const rank = env.get(n.inputs[0])?.shape?.length;
        if (rank === undefined)
          throw new Error(`${source}: cannot convert ${n.opType} node '${n.name || n.outputs[0]}' to opset ${TARGET_OPSET}: the rank of its input is unknown`);
        const axis0 = attrInt(n, 'axis', 1);
        const axis = axis0 < 0 ? axis0 + rank : axis0;
        if (axis === rank - 1) {
          nodes.push({ ...n, attributes: [...without(n, 'axis'), makeAttribute('axis', axis)] });
          note(`${n.opType}: axis ${axis} of rank ${rank}, unchanged`);
        } else {
          // Before 13 the op worked on the input flattened to 2-D at `axis`; make that explicit.
          const flat = fresh(`${n.outputs[0]}_flat`);
          const shape = fresh(`${n.outputs[0]}_shape`);
          const y2 = fresh(`${n.outputs[0]}_2d`);
          const axisAttr = (v: number) => makeAttribute('axis', v);
          nodes.push({
            opType: 'Flatten',
            domain: '',
            name: fresh(`${n.name || n.opType}_flatten`),
            inputs: [n.inputs[0]],
            outputs: [flat],
            attributes: [axisAttr(axis)],
          });
          nodes.push({ ...n, inputs: [flat], outputs: [y2], attributes: [...without(n, 'axis'), axisAttr(1)] });
          nodes.push({ opType: 'Shape', domain: '', name: fresh(`${n.name || n.opType}_shape`), inputs: [n.inputs[0]], outputs: [shape], attributes: [] });
          nodes.push({
            opType: 'Reshape',
            domain: '',
            name: fresh(`${n.name || n.opType}_reshape`),
            inputs: [y2, shape],
            outputs: [n.outputs[0]],
            attributes: [],
          });
          note(`${n.opType}: 2-D coercion at axis ${axis} → Flatten, ${n.opType}, Reshape`);
        }
        break;
      }
      default:
        nodes.push(n);
    }
  }
  // Subgraphs (If, Loop, Scan bodies): the same attribute → input moves, with the new inputs as outer initializers
  // (visible inside). Softmax-like ops there keep their form; the check against onnxruntime catches a difference.
  const convertSubgraph = (sg: GraphProto): GraphProto => ({
    ...sg,
    node: (sg.node ?? []).map((np) => {
      const attrs = (np.attribute ?? []).map((a) => (a.g ? { ...a, g: convertSubgraph(a.g) } : a.graphs ? { ...a, graphs: a.graphs.map(convertSubgraph) } : a));
      const moved = (np.domain ?? '') === '' ? ATTR_TO_INPUT[np.opType ?? ''] : undefined;
      const attr = moved && attrs.find((a) => a.name === moved);
      if (!moved || !attr) return { ...np, attribute: attrs };
      note(`${np.opType} in a subgraph: ${moved} attribute → input`);
      const vals = (attr.ints ?? []).map(toNumber);
      return { ...np, input: [(np.input ?? [])[0], int64s(vals)], attribute: attrs.filter((a) => a !== attr) };
    }),
  });
  for (const n of nodes) {
    if (n.attributes.some((a) => a.g || a.graphs)) {
      n.attributes = n.attributes.map((a) => (a.g ? { ...a, g: convertSubgraph(a.g) } : a.graphs ? { ...a, graphs: a.graphs.map(convertSubgraph) } : a));
    }
  }
  g.nodes = nodes;
  out.opsetImports = out.opsetImports.map((o) => (o.domain === '' || o.domain === 'ai.onnx' ? { ...o, version: TARGET_OPSET } : o));
  if (out.irVersion < 7) out.irVersion = 7;
  return { model: out, from, to: TARGET_OPSET, changes: [...counts].map(([what, c]) => `${what.split(':')[0]} ×${c}:${what.slice(what.indexOf(':') + 1)}`) };
}
