// Losses fused onto a model's output, built from primitive ops so the differentiator needs no loss rules.
import { GraphBuilder, tensorValueInfo } from '../onnx/builder.js';
import { cloneModel, type Model, onnxOpset } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shapes.js';

export type LossKind = 'cross-entropy' | 'kl' | 'mse';

export interface LossOptions {
  /** 'cross-entropy' (softmax, mean over the batch, integer labels), 'kl' (KL(target ‖ model) of softmax distributions, for distillation) or 'mse'. */
  kind: LossKind;
  /** The model output the loss is taken of (default: the first). */
  output?: string;
  /** Name of the new graph input holding labels (int64 [batch]) or target logits/values (float). Default 'y' for labels, 'target' otherwise. */
  target?: string;
  /** Name of the scalar loss output (default 'loss'). */
  lossName?: string;
  /** Temperature for 'kl' (default 1). */
  temperature?: number;
  /**
   * Cross-entropy over every position of logits [batch, …, classes] with labels [batch, …], labels equal to this
   * value ignored, the mean taken over the others (PyTorch's `ignore_index`, -100 there). Set by default when the
   * output has more than two dims (a language model's [batch, sequence, vocabulary]).
   */
  ignoreIndex?: number;
}

export interface ModelWithLoss {
  model: Model;
  loss: string;
  target: string;
  output: string;
}

function shapeOf(model: Model, name: string) {
  try {
    return inferTypes(model).get(name)?.shape;
  } catch {
    return undefined; // shape inference is best effort here: an unknown rank keeps the classifier's [batch] labels
  }
}

/**
 * Append a scalar loss to a model: a new graph input for the target and a new output `loss`.
 * The model's own outputs are kept.
 *
 * @example const { model } = withLoss(readModel('lenet.onnx'), { kind: 'cross-entropy' });
 */
export function withLoss(input: Model, opts: LossOptions): ModelWithLoss {
  const model = cloneModel(input);
  const g = model.graph;
  const output = opts.output ?? g.outputs[0]?.name;
  if (!output || !g.outputs.some((o) => o.name === output)) {
    throw new Error(`model has no output '${opts.output ?? '(first output)'}' to put a loss on`);
  }
  const b = new GraphBuilder(g);
  const target = opts.target ?? (opts.kind === 'cross-entropy' ? 'y' : 'target');
  if (g.inputs.some((v) => v.name === target)) throw new Error(`model already has an input named '${target}'; pick another target name`);
  onnxOpset(model);
  // ReduceMean over all axes: no axes given works the same at every opset.
  const meanAll = (x: string) => b.op('ReduceMean', [x], { keepdims: 0 });
  const lastAxisSum = (x: string) => b.op('ReduceSum', [x, b.ints([-1])], { keepdims: 0 });
  let loss: string;
  const outShape = opts.kind === 'cross-entropy' ? shapeOf(input, output) : undefined;
  if (opts.kind === 'cross-entropy' && (opts.ignoreIndex !== undefined || (outShape !== undefined && outShape.length > 2))) {
    // Per-position cross-entropy, positions labelled ignoreIndex masked out: Σ valid·nll / max(Σ valid, 1).
    b.input(target, 'int64', outShape ? outShape.slice(0, -1) : undefined);
    const ignore = b.constant(opts.ignoreIndex ?? -100, 'int64');
    const validBool = b.op('Not', [b.op('Equal', [target, ignore])]);
    const safe = b.op('Where', [validBool, target, b.constant(0, 'int64')]);
    const valid = b.op('Cast', [validBool], { to: 1 });
    const logp = b.op('LogSoftmax', [output], { axis: -1 });
    const classes = b.op('Gather', [b.op('Shape', [output]), b.ints([-1])]);
    const onehot = b.op('OneHot', [safe, classes, b.constant([0, 1], 'float32')], { axis: -1 });
    const nll = b.op('Neg', [lastAxisSum(b.op('Mul', [onehot, logp]))]);
    const count = b.op('Max', [b.op('ReduceSum', [valid], { keepdims: 0 }), b.constant(1)]);
    loss = b.op('Div', [b.op('ReduceSum', [b.op('Mul', [nll, valid])], { keepdims: 0 }), count]);
  } else if (opts.kind === 'cross-entropy') {
    b.input(target, 'int64', ['batch']);
    const logp = b.op('LogSoftmax', [output], { axis: -1 });
    const classes = b.op('Gather', [b.op('Shape', [output]), b.ints([-1])]);
    const onehot = b.op('OneHot', [target, classes, b.constant([0, 1], 'float32')], { axis: -1 });
    loss = b.op('Neg', [meanAll(lastAxisSum(b.op('Mul', [onehot, logp])))]);
  } else if (opts.kind === 'kl') {
    // The target has the output's shape; declaring it lets gradient rules that need a rank (negative axes) see one.
    b.input(target, 'float32', inferTypes(input).get(output)?.shape);
    const t = opts.temperature ?? 1;
    const scale = (x: string) => (t === 1 ? x : b.op('Div', [x, b.constant(t)]));
    const logq = b.op('LogSoftmax', [scale(output)], { axis: -1 });
    const logp = b.op('LogSoftmax', [scale(target)], { axis: -1 });
    const p = b.op('Exp', [logp]);
    loss = meanAll(lastAxisSum(b.op('Mul', [p, b.op('Sub', [logp, logq])])));
    if (t !== 1) loss = b.op('Mul', [loss, b.constant(t * t)]);
  } else {
    b.input(target, 'float32');
    const d = b.op('Sub', [output, target]);
    loss = meanAll(b.op('Mul', [d, d]));
  }
  const lossName = opts.lossName ?? 'loss';
  b.graph.nodes.push({ opType: 'Identity', domain: '', name: b.fresh('loss_node'), inputs: [loss], outputs: [lossName], attributes: [] });
  g.outputs.push(tensorValueInfo(lossName, 'float32', []));
  return { model, loss: lossName, target, output };
}
