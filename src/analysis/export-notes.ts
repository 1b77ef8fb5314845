// What an exporter did to a model that a user of scalpel should know: BatchNorm folded into convolutions.
import type { Model } from '../onnx/ir.js';

/**
 * Notes on how a model was exported. A PyTorch eval-mode export (`torch.onnx.export`'s default
 * `training=TrainingMode.EVAL`) folds each BatchNorm into the convolution before it: no BatchNormalization node is
 * left, and the folded convolutions read weights named `onnx::Conv_N` instead of the module's parameter names.
 *
 * @example exportNotes(readModel('cnn.onnx')) // ['BatchNorm appears folded into 2 convolutions …']
 */
export function exportNotes(model: Model): string[] {
  const notes: string[] = [];
  const g = model.graph;
  const producer = String(model.passthrough.producerName ?? '');
  const hasBn = g.nodes.some((n) => n.opType === 'BatchNormalization');
  const folded = g.nodes.filter(
    (n) => n.opType === 'Conv' && n.inputs.length > 2 && /^onnx::Conv_\d+$/.test(n.inputs[1]) && /^onnx::Conv_\d+$/.test(n.inputs[2]),
  );
  if (producer === 'pytorch' && !hasBn && folded.length > 0) {
    notes.push(
      `BatchNorm appears folded into ${folded.length} convolution${folded.length > 1 ? 's' : ''} (weights named onnx::Conv_N, no BatchNormalization node): ` +
        'PyTorch exports in eval mode do that; to probe or train normalisation layers, export with training=torch.onnx.TrainingMode.PRESERVE (with the model in eval())',
    );
  }
  return notes;
}
