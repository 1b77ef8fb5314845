// The layers AI-Lancet can locate in: a weight tensor, the node that consumes it, and that node's output.
import { describeParams } from '../params/describe.js';
import type { Model } from '../onnx/ir.js';

/** A layer whose weights can be located: its weight parameter and the feature map it produces. */
export interface LancetLayer {
  /** The layer's name (the weight's name up to its last '.'). */
  name: string;
  /** The weight initializer (Conv / Gemm / MatMul weight; the bias is left alone). */
  param: string;
  shape: number[];
  size: number;
  /** The value whose differential features are weighed: the output of the node that consumes the weight. */
  output: string;
}

/**
 * Every layer with a conv or fully-connected weight, in graph order.
 *
 * @example lancetLayers(readModel('models/lenet5-fashion.onnx')).map((l) => l.name); // ['conv1', 'conv2', 'fc1', 'fc2', 'fc3']
 */
export function lancetLayers(model: Model): LancetLayer[] {
  const out: LancetLayer[] = [];
  for (const p of describeParams(model)) {
    if ((p.kind !== 'conv' && p.kind !== 'fc') || p.shape.length < 2 || p.order < 0 || !p.trainable) continue;
    const node = model.graph.nodes[p.order];
    const output = node?.outputs[0];
    if (!output) continue;
    out.push({ name: p.layer, param: p.name, shape: p.shape, size: p.size, output });
  }
  return out.sort((a, b) => orderOf(model, a) - orderOf(model, b));
}

function orderOf(model: Model, l: LancetLayer): number {
  return model.graph.nodes.findIndex((n) => n.outputs.includes(l.output));
}

/**
 * The layer named `name` (a layer name such as 'fc2', or its weight's full name). Throws, naming the layers that
 * exist, when there is none or it has no conv/fc weight.
 *
 * @example findLayer(model, 'fc2').param; // 'fc2.weight'
 */
export function findLayer(model: Model, name: string): LancetLayer {
  const layers = lancetLayers(model);
  const hit = layers.find((l) => l.name === name || l.param === name);
  if (hit) return hit;
  const names = layers.map((l) => l.name).join(', ') || 'none';
  throw new Error(`layer '${name}' does not exist in the model or has no conv/fully-connected weights (layers with weights: ${names})`);
}
