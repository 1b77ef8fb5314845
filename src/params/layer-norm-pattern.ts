// LayerNorm as exporters write it before opset 17 (no LayerNormalization op): the scale and shift parameters of
// (x - mean(x)) / sqrt(mean((x - mean(x))²) + ε) · γ + β.
import type { Graph, Node } from '../onnx/ir.js';

/**
 * The initializers that act as γ (scale) and β (shift) of a decomposed LayerNorm: a Div of Sub(x, ReduceMean(x)) by
 * Sqrt(Add(ReduceMean(Pow(that Sub, 2)), ε)), multiplied by γ, then β added (PyTorch's export of nn.LayerNorm at
 * opsets 11–16). Views of the parameters (Cast, Identity) are not followed.
 *
 * @example decomposedLayerNormParams(readModel('ln-opset13.onnx').graph) // Set { 'ln.weight', 'ln.bias' }
 */
export function decomposedLayerNormParams(g: Graph): Set<string> {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const op = (v: string | undefined, type: string) => {
    const n = v === undefined ? undefined : producer.get(v);
    return n && n.opType === type ? n : undefined;
  };
  const other = (n: Node, v: string) => (n.inputs[0] === v ? n.inputs[1] : n.inputs[0]);
  const out = new Set<string>();
  for (const div of g.nodes) {
    if (div.opType !== 'Div') continue;
    const sub = op(div.inputs[0], 'Sub');
    const mean = sub && op(sub.inputs[1], 'ReduceMean');
    if (!sub || !mean || mean.inputs[0] !== sub.inputs[0]) continue;
    const add = op(op(div.inputs[1], 'Sqrt')?.inputs[0], 'Add');
    const variance = add && (op(add.inputs[0], 'ReduceMean') ?? op(add.inputs[1], 'ReduceMean'));
    const pow = variance && op(variance.inputs[0], 'Pow');
    if (!pow || pow.inputs[0] !== sub.outputs[0]) continue;
    const mul = (consumers.get(div.outputs[0]) ?? []).find((n) => n.opType === 'Mul');
    const gamma = mul && other(mul, div.outputs[0]);
    if (!mul || !gamma || !g.initializers.has(gamma)) continue;
    out.add(gamma);
    const shift = (consumers.get(mul.outputs[0]) ?? []).find((n) => n.opType === 'Add');
    const beta = shift && other(shift, mul.outputs[0]);
    if (beta && g.initializers.has(beta)) out.add(beta);
  }
  return out;
}
