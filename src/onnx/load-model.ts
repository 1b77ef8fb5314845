// Load a user's ONNX file into the form scalpel works with: checked, upgraded to opset 13, batch dimension freed.
import { freeBatchDim } from './batch-dim.js';
import { checkGraphComplete } from './graph-check.js';
import type { Model } from './ir.js';
import { readModel } from './model-io.js';
import { upgradeOpset, type OpsetUpgrade } from './opset-upgrade.js';

export interface LoadedModel {
  /** The model as scalpel computes with it. */
  model: Model;
  /** The model as the file holds it. */
  original: Model;
  /** The opset conversion applied on load (opsets 11 and 12 → 13), when one was. */
  upgrade?: OpsetUpgrade;
  /** The batch size the file fixes on its data inputs, when it fixes one. */
  declaredBatch?: number;
  /** True when that fixed batch was made symbolic; false when the graph hard-codes it (see `batchReason`). */
  batchFreed?: boolean;
  batchReason?: string;
  /** What was changed, one sentence each (for `inspect` and warnings). */
  notes: string[];
}

/**
 * Read an ONNX model file, check that its graph is complete, convert opsets 11–12 to 13 (checked against onnxruntime
 * by `verifyUpgrade`), and make a fixed batch dimension symbolic when the graph allows it.
 *
 * @example const { model, notes } = openModel('cnn.onnx');
 */
export function openModel(path: string): LoadedModel {
  const original = readModel(path);
  checkGraphComplete(original, path);
  const notes: string[] = [];
  let model = original;
  const upgrade = upgradeOpset(model, path);
  if (upgrade) {
    model = upgrade.model;
    notes.push(
      `converted from opset ${upgrade.from} to ${upgrade.to} on load (${upgrade.changes.length ? upgrade.changes.join(', ') : 'no node needed a change'})`,
    );
  }
  const b = freeBatchDim(model);
  if (b.declaredBatch !== undefined) {
    model = b.model;
    notes.push(
      b.freed
        ? `the file fixes the batch size at ${b.declaredBatch}; scalpel made it symbolic ('batch')${b.reshapes ? ` (and the literal batch of ${b.reshapes.length} Reshape${b.reshapes.length > 1 ? 's' : ''} 0, "copy the input's")` : ''}, which shape inference carries to every output, so any batch size works`
        : `the file fixes the batch size at ${b.declaredBatch} and the graph depends on it (${b.reason}); evaluation runs batches of ${b.declaredBatch}, padding the last one (padding is never counted), and training uses batches of ${b.declaredBatch}`,
    );
  }
  return {
    model,
    original,
    upgrade,
    declaredBatch: b.declaredBatch,
    batchFreed: b.declaredBatch !== undefined ? b.freed : undefined,
    batchReason: b.reason,
    notes,
  };
}

/**
 * Read an ONNX model file as `openModel` does and return the model scalpel computes with.
 *
 * @example const model = loadModel('test/fixtures/torch/mlp.onnx');
 */
export function loadModel(path: string): Model {
  return openModel(path).model;
}

/**
 * Read an ONNX model file and check that its graph is complete, changing nothing (for commands that write the file
 * back or compare files as they are: apply, diff).
 *
 * @example const model = readCheckedModel('base.onnx');
 */
export function readCheckedModel(path: string): Model {
  const model = readModel(path);
  checkGraphComplete(model, path);
  return model;
}
