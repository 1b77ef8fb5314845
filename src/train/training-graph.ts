// The training-mode form of an inference graph: BatchNormalization on batch statistics, as PyTorch's model.train().
import { makeAttribute } from '../onnx/attributes.js';
import { cloneModel, floatInitializers, type Model, type Node } from '../onnx/ir.js';

/** Suffix of a training graph's outputs that carry updated buffers (BatchNormalization running statistics). */
export const UPDATED_SUFFIX = ':new';

/** The lowest default-domain opset whose BatchNormalization has a training mode. */
const BN_TRAINING_OPSET = 15;

/**
 * A copy of an inference-mode model whose BatchNormalization nodes compute batch statistics and output their
 * updated running statistics as `<running_mean>:new` and `<running_var>:new` (the trainer writes those back
 * after each step). Models at opsets 13–14 are lifted to opset 15 (every change between them keeps the
 * meaning of existing nodes); below opset 13, where axes were still attributes, and for BatchNormalizations
 * whose statistics are not initializers, the model is returned unchanged (its BatchNorms stay on their running
 * statistics, which the trainer then leaves alone).
 *
 * @example const trainModel = trainingGraph(readModel('resnet18.onnx')); // same parameter names, batch statistics
 */
export function trainingGraph(model: Model): Model {
  const opset = model.opsetImports.find((o) => (o.domain ?? '') === '')?.version ?? 0;
  const g = model.graph;
  const initialized = new Set(floatInitializers(g).map((i) => i.name));
  const convertible = (n: Node) =>
    n.opType === 'BatchNormalization' &&
    (n.domain ?? '') === '' &&
    n.outputs.filter(Boolean).length === 1 &&
    initialized.has(n.inputs[3]) &&
    initialized.has(n.inputs[4]);
  if (opset < 13 || !g.nodes.some(convertible)) return model;

  const out = cloneModel(model);
  if (opset < BN_TRAINING_OPSET) out.opsetImports = out.opsetImports.map((o) => ((o.domain ?? '') === '' ? { ...o, version: BN_TRAINING_OPSET } : o));
  const outputs = new Set(out.graph.outputs.map((o) => o.name));
  for (const n of out.graph.nodes) {
    if (!convertible(n)) continue;
    const updated = [`${n.inputs[3]}${UPDATED_SUFFIX}`, `${n.inputs[4]}${UPDATED_SUFFIX}`];
    n.outputs = [n.outputs[0], ...updated];
    n.attributes = [...n.attributes.filter((a) => a.name !== 'training_mode'), makeAttribute('training_mode', 1)];
    // Statistics shared by two BatchNorms would need two producers of one updated value.
    for (const u of updated) {
      if (outputs.has(u)) throw new Error(`trainingGraph: running statistic '${u.slice(0, -UPDATED_SUFFIX.length)}' is used by two BatchNormalization nodes`);
      outputs.add(u);
      out.graph.outputs.push({ name: u });
    }
  }
  return out;
}
