// Run a classifier over a dataset: the one place scalpel feeds a model examples in batches and reads its logits.
import { batches, firstRows, padRows, type Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import { compile, type Executable, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { ClassificationMeter, type ClassificationReport } from './classification-metrics.js';
import { classifierIO } from './classifier.js';

export interface RunOptions {
  /** Examples per forward pass (default 256); a graph that fixes its batch runs at its own size instead. */
  batchSize?: number;
  /** Parameter values to feed instead of the model's initializers (names must be graph inputs of the model). */
  params?: ReadonlyMap<string, HostTensor>;
  runtime?: RuntimeOptions;
  /** A compiled session of the model to use instead of the cached one (the caller releases it). */
  session?: Executable;
  /** Called after each batch with the number of examples done. */
  onProgress?: (done: number, total: number) => void;
}

/** A classifier's outputs over a dataset, row by row, with the metrics when the data are labelled. */
export interface ClassifierRun {
  /** Logits [examples × classes], row-major. */
  logits: Float32Array;
  classes: number;
  /** The arg-max class of each row. */
  predictions: Int32Array;
  examples: number;
  /** Accuracy, loss, per-class accuracy and confusion matrix (labelled data only). */
  report?: ClassificationReport;
}

/**
 * The class with the largest logit, per row (the first on ties).
 *
 * @example argmax(Float32Array.of(0, 2, 1, 5, 3, 4), 3) // Int32Array [1, 0]
 */
export function argmax(logits: ArrayLike<number>, classes: number): Int32Array {
  const n = Math.floor(logits.length / classes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
    out[i] = best;
  }
  return out;
}

function isDataset(d: Dataset | HostTensor): d is Dataset {
  return (d as Dataset).x !== undefined;
}

/**
 * Run a classifier over examples in batches and collect its logits and predictions; with labels, also its accuracy,
 * loss, per-class accuracy and confusion matrix. A graph that hard-codes its batch size runs at that size with the
 * last batch padded; the padding is dropped before anything is counted.
 *
 * @param data labelled examples, or a tensor of examples [N, …] alone
 * @example
 * const r = await runClassifier(model, await loadLabelledData('embedded', 'test'));
 * r.report!.accuracy; r.predictions[0];
 */
export async function runClassifier(model: Model, data: Dataset | HostTensor, opts: RunOptions = {}): Promise<ClassifierRun> {
  const io = classifierIO(model, 'the model', opts.params);
  const input = io.input;
  const labelled = isDataset(data);
  const x = labelled ? data.x : data;
  const n = x.dims[0];
  const y: HostTensor = labelled ? data.y : { dtype: 'int64', dims: [n], data: new BigInt64Array(n) };
  const exe = opts.session ?? (await compile(model, opts.runtime));
  const fixed = Object.fromEntries(opts.params ?? []);
  const logits = new Float32Array(n * io.classes);
  const meter = labelled ? new ClassificationMeter(io.classes) : undefined;
  let done = 0;
  for (const batch of batches({ x, y }, io.fixedBatch ?? opts.batchSize ?? 256)) {
    const real = batch.x.dims[0];
    const padded = io.fixedBatch !== undefined && real < io.fixedBatch ? padRows(batch.x, io.fixedBatch) : batch.x;
    let z = (await exe.run({ ...fixed, [input]: padded }, [io.output]))[io.output];
    if (padded !== batch.x) z = firstRows(z, real);
    if (z.dims.length !== 2 || z.dims[1] !== io.classes) throw new Error(`the model's output '${io.output}' came out as [${z.dims.join(', ')}], not [${real}, ${io.classes}]`);
    logits.set(z.data as Float32Array, done * io.classes);
    meter?.add(z, batch.y);
    done += real;
    opts.onProgress?.(done, n);
  }
  return { logits, classes: io.classes, predictions: argmax(logits, io.classes), examples: n, report: meter?.report() };
}

/**
 * Accuracy, loss, per-class accuracy and confusion matrix of a classifier on labelled data (`runClassifier`'s report).
 *
 * @example const r = await evaluate(readModel('models/lenet5-fashion.onnx'), await loadLabelledData('embedded', 'test'));
 */
export async function evaluate(model: Model, data: Dataset, opts: RunOptions = {}): Promise<ClassificationReport> {
  if (data.x.dims[0] === 0) throw new Error('the dataset is empty');
  return (await runClassifier(model, data, opts)).report!;
}
