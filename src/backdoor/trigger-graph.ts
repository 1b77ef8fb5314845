// The graph Neural Cleanse optimises: a mask and a pattern in tanh space stamped onto raw images before a fixed model.
import { differentiate } from '../autodiff/differentiate.js';
import { GraphBuilder, tensorValueInfo } from '../onnx/builder.js';
import { cloneModel, type Model } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shapes.js';
import { withLoss } from '../train/losses.js';
import { dataInput, imageShape, type ImageShape } from '../tasks/classifier.js';

/** The names of a trigger graph's inputs and outputs. */
export interface TriggerGraph {
  model: Model;
  shape: ImageShape;
  /** Inputs: tanh-space mask [H, W] and pattern [C, H, W], raw pixels [N, C, H, W] in [0, 1], labels [N], cost []. */
  inputs: { thetaMask: string; thetaPattern: string; pixels: string; labels: string; cost: string };
  /** Outputs: objective CE + c·‖m‖₁, the cross-entropy, ‖m‖₁, logits, mask, pattern, and the two gradients. */
  outputs: { objective: string; crossEntropy: string; l1: string; logits: string; mask: string; pattern: string; gradMask: string; gradPattern: string };
}

/**
 * Build the reconstruction graph: m = tanh(θm)/2 + 1/2, p = tanh(θp)/2 + 1/2, x′ = (1 − m)⊙x + m⊙p on raw pixels,
 * then (x′ − mean)/std into the model, whose weights stay initializers (onnxruntime pre-packs them); the objective
 * CE(M(x′), t) + c·‖m‖₁ is differentiated with respect to θm and θp only.
 *
 * @example const g = triggerGraph(readModel('models/lenet5-badnets.onnx'), { mean: 0.286, std: 0.353 });
 */
export function triggerGraph(model: Model, norm: { mean: number | readonly number[]; std: number | readonly number[] }): TriggerGraph {
  const shape = imageShape(model);
  const { channels: C, height: H, width: W } = shape;
  const m = cloneModel(model);
  const g = m.graph;
  const input = dataInput(m);
  const logits = g.outputs[0]?.name;
  if (!logits) throw new Error('model has no outputs');
  g.outputs = [g.outputs[0]];
  const before = g.nodes.length;
  // The builder is made while the model's input is still declared, so that no new name can take the input's name.
  const b = new GraphBuilder(g);
  g.inputs = g.inputs.filter((v) => v.name !== input);
  const thetaMask = b.fresh('nc.theta_mask');
  const thetaPattern = b.fresh('nc.theta_pattern');
  const pixels = b.fresh('nc.pixels');
  const cost = b.fresh('nc.cost');
  b.input(thetaMask, 'float32', [H, W]);
  b.input(thetaPattern, 'float32', [C, H, W]);
  b.input(pixels, 'float32', ['batch', C, H, W]);
  b.input(cost, 'float32', []);
  const half = b.constant(0.5);
  const squash = (t: string, hint: string) => b.op('Add', [b.op('Mul', [b.op('Tanh', [t]), half]), half], undefined, hint);
  const mask = squash(thetaMask, 'nc.mask');
  const pattern = squash(thetaPattern, 'nc.pattern');
  // x' = x + m ⊙ (p − x): the same as (1 − m)⊙x + m⊙p with one op fewer.
  const stamped = b.op('Add', [pixels, b.op('Mul', [mask, b.op('Sub', [pattern, pixels])])]);
  const perChannel = (v: number | readonly number[]) =>
    typeof v === 'number' ? b.constant(v) : b.constant({ dtype: 'float32', dims: [C, 1, 1], data: Float32Array.from(v) });
  const normalised = b.op('Div', [b.op('Sub', [stamped, perChannel(norm.mean)]), perChannel(norm.std)]);
  g.nodes.push({ opType: 'Identity', domain: '', name: b.fresh('nc.input_node'), inputs: [normalised], outputs: [input], attributes: [] });
  g.nodes = [...g.nodes.slice(before), ...g.nodes.slice(0, before)];

  const lossy = withLoss(m, { kind: 'cross-entropy', target: b.fresh('nc.labels'), lossName: 'nc.cross_entropy' });
  const lb = new GraphBuilder(lossy.model.graph);
  const l1 = lb.op('ReduceSum', [mask], { keepdims: 0 }, 'nc.l1');
  const objective = lb.op('Add', [lossy.loss, lb.op('Mul', [cost, l1])], undefined, 'nc.objective');
  for (const [name, shp] of [
    [l1, []],
    [mask, [H, W]],
    [pattern, [C, H, W]],
  ] as const)
    lossy.model.graph.outputs.push(tensorValueInfo(name, 'float32', shp));
  const d = differentiate(lossy.model, { of: objective, wrt: [thetaMask, thetaPattern] });
  return {
    model: d.model,
    shape,
    inputs: { thetaMask, thetaPattern, pixels, labels: lossy.target, cost },
    outputs: {
      objective,
      crossEntropy: lossy.loss,
      l1,
      logits,
      mask,
      pattern,
      gradMask: d.gradients.get(thetaMask)!,
      gradPattern: d.gradients.get(thetaPattern)!,
    },
  };
}
