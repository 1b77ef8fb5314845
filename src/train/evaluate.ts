// Evaluate a classifier on a dataset: accuracy, loss, per-class accuracy, confusion matrix.
import { batches, type Dataset, firstRows, padRows } from '../data/batches.js';
import { fixedBatch } from '../onnx/batch-dim.js';
import type { Model } from '../onnx/ir.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { ClassificationMeter, type ClassificationReport } from './metrics.js';

export interface EvaluateOptions {
  /** Examples per forward pass (default 256). */
  batchSize?: number;
  /** Number of classes (default: the model's output width). */
  classes?: number;
  /** Parameter values to use instead of the model's initializers (names must be graph inputs of `model`). */
  params?: Map<string, HostTensor>;
  runtime?: RuntimeOptions;
  /** Called after each batch with the number of examples done. */
  onProgress?: (done: number, total: number) => void;
}

/** The data input of a model: its first graph input that is not an initializer or a fed parameter. */
export function dataInput(model: Model, params?: Map<string, HostTensor>): string {
  const v = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name) && !params?.has(i.name));
  if (!v) throw new Error('model has no data input');
  return v.name;
}

/**
 * Run a classifier over a dataset and measure it.
 *
 * @example const r = await evaluate(readModel('lenet.onnx'), loadImageDataset(undefined, 'test'));
 */
export async function evaluate(model: Model, data: Dataset, opts: EvaluateOptions = {}): Promise<ClassificationReport> {
  const exe = await compile(model, opts.runtime);
  const input = dataInput(model, opts.params);
  const output = model.graph.outputs[0].name;
  let meter: ClassificationMeter | undefined;
  const total = data.x.dims[0];
  let done = 0;
  const fixed = Object.fromEntries(opts.params ?? []);
  // A graph that hard-codes its batch size runs at that size; the last batch is padded and the padding dropped.
  const modelBatch = fixedBatch(model);
  for (const batch of batches(data, modelBatch ?? opts.batchSize ?? 256)) {
    const real = batch.x.dims[0];
    const x = modelBatch !== undefined && real < modelBatch ? padRows(batch.x, modelBatch) : batch.x;
    let logits = (await exe.run({ ...fixed, [input]: x }, [output]))[output];
    if (x !== batch.x) logits = firstRows(logits, real);
    meter ??= new ClassificationMeter(opts.classes ?? logits.dims[1]);
    meter.add(logits, batch.y);
    done += batch.x.dims[0];
    opts.onProgress?.(done, total);
  }
  if (!meter) throw new Error('dataset is empty');
  return meter.report();
}
