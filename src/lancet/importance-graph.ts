// The second-order graph of AI-Lancet's importance values: IV(w) = |∂‖EIf‖₂/∂w| for one layer's weights.
import { differentiate } from '../autodiff/differentiate.js';
import { GraphBuilder } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { dataInput } from '../tasks/classifier.js';
import type { LancetLayer } from './layers.js';

/** How the differential features are weighted. */
export type Weighting = 'authors' | 'paper';

export interface ImportanceOptions {
  /**
   * 'authors' (default, the authors' code): EIf = df ⊙ (g / max g + 0.5), g = |∂CE(M(x), y)/∂f|; 'paper': EIf =
   * α·df + G(∂s/∂f ⊙ df) with s the wrong class's score and G scaling its argument to df's largest magnitude.
   */
  weighting?: Weighting;
  /** α of the paper's weighting (default 1). */
  alpha?: number;
}

/** The built graph and the names a caller feeds and reads. */
export interface ImportanceGraph {
  model: Model;
  /** Data input: the pair stacked as a batch of two, [x (shows the error), x′ (without it)]. */
  input: string;
  /** Float [2, classes] input: in row 0 the one-hot of the true label ('authors') or of the wrong class ('paper'), zeros in row 1. */
  onehot: string;
  /** Output: ‖EIf‖₂ (a scalar). */
  norm: string;
  /** Output: ∂‖EIf‖₂/∂W, the layer weight's shape (IV is its absolute value). */
  gradient: string;
  /** The layer's weight, a graph input fed with its values (the other parameters stay initializers). */
  weight: string;
}

/**
 * Build IV's graph for one layer. With f = F(x), f′ = F(x′) the layer's output and df = f − f′,
 * g = |∂CE(M(x), y_true)/∂f| (a gradient graph), EIf = df ⊙ (g / max g + 0.5) (the authors' weighting), and
 * the result is ∂‖EIf‖₂/∂W, the gradient graph of a graph that contains a gradient graph: g depends on W too and
 * is differentiated through, not held constant. Only W is a graph input; every other weight stays an initializer.
 *
 * @example
 * const ig = importanceGraph(model, findLayer(model, 'fc2'));
 * const out = await (await compile(ig.model)).run({ [ig.input]: pair, [ig.onehot]: hot, [ig.weight]: w });
 */
export function importanceGraph(model: Model, layer: LancetLayer, opts: ImportanceOptions = {}): ImportanceGraph {
  const paper = opts.weighting === 'paper';
  const { model: promoted, values } = promoteToInputs(model, [layer.param]);
  const input = dataInput(promoted, values);
  const logits = promoted.graph.outputs[0].name;
  const b0 = new GraphBuilder(promoted.graph);
  const onehot = b0.input(b0.fresh('onehot'), 'float32', [2, null]);
  // The authors': CE(M(x), y) (one-hot of the true label); the paper's: s, the wrong class's score (its one-hot).
  const scalar = paper
    ? b0.op('ReduceSum', [b0.op('Mul', [onehot, logits])], { keepdims: 0 }, 'score')
    : b0.op('Neg', [b0.op('ReduceSum', [b0.op('Mul', [onehot, b0.op('LogSoftmax', [logits], { axis: -1 })])], { keepdims: 0 })], undefined, 'ce');
  // g = ∂CE/∂f (or ∂s/∂f): the first gradient graph.
  const first = differentiate(promoted, { of: scalar, wrt: [layer.output], keepOutputs: false });
  const gf = first.gradients.get(layer.output)!;
  const b = new GraphBuilder(first.model.graph);
  const row = (t: string, k: number) => b.op('Slice', [t, b.ints([k]), b.ints([k + 1]), b.ints([0])]);
  const df = b.op('Sub', [row(layer.output, 0), row(layer.output, 1)], undefined, 'df');
  const maxAbs = (t: string) => b.op('Max', [b.op('ReduceMax', [b.op('Abs', [t])], { keepdims: 1 }), b.constant(1e-30)]);
  let eif: string;
  if (paper) {
    // EIf = α·df + G(∂s/∂f ⊙ df), G scaling its argument to df's range (the paper leaves G open).
    const prod = b.op('Mul', [row(gf, 0), df]);
    const scaled = b.op('Mul', [prod, b.op('Div', [maxAbs(df), maxAbs(prod)])]);
    eif = b.op('Add', [b.op('Mul', [df, b.constant(opts.alpha ?? 1)]), scaled], undefined, 'eif');
  } else {
    const g = b.op('Abs', [row(gf, 0)]);
    eif = b.op('Mul', [df, b.op('Add', [b.op('Div', [g, maxAbs(g)]), b.constant(0.5)])], undefined, 'eif');
  }
  const norm = b.op('Sqrt', [b.op('ReduceSum', [b.op('Mul', [eif, eif])], { keepdims: 0 })], undefined, 'eif_norm');
  // ∂‖EIf‖₂/∂W: the second.
  const second = differentiate(first.model, { of: norm, wrt: [layer.param], keepOutputs: false });
  return { model: second.model, input, onehot, norm, gradient: second.gradients.get(layer.param)!, weight: layer.param };
}
