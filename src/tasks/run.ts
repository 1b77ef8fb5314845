// Run a classifier over a dataset: the one place scalpel feeds a model examples in batches and reads its logits.
import { firstRows, padRows, type Dataset } from '../data/batches.js';
import { declaredType } from '../onnx/declared-type.js';
import type { Model } from '../onnx/ir.js';
import { compile, type Executable, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { ClassificationMeter, type ClassificationReport } from './classification-metrics.js';
import { classifierIO, dataInput } from './classifier.js';

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

/** The batch size a model's data input declares, when the graph fixes it. */
function declaredBatch(model: Model, input: string): number | undefined {
  const v = model.graph.inputs.find((i) => i.name === input);
  const d = v ? declaredType(v).shape?.[0] : undefined;
  return typeof d === 'number' ? d : undefined;
}

export interface BatchedRunOptions extends Pick<RunOptions, 'batchSize' | 'params' | 'runtime' | 'session'> {
  /** The graph input that takes the examples (default: the model's data input). */
  input?: string;
}

/**
 * Run a model over examples [N, …] in batches and hand each batch's requested outputs to `onBatch`, with the rows
 * `start` to `start + rows`. A graph that hard-codes its batch size runs at that size with the last batch padded; the
 * padding's rows are dropped from every output before `onBatch` sees it. The one loop that feeds a model data.
 *
 * @example
 * await runInBatches(model, x, ['relu4'], (out, start, rows) => console.log(start, rows, out.relu4.dims));
 */
export async function runInBatches(
  model: Model,
  x: HostTensor,
  outputs: readonly string[],
  onBatch: (out: Record<string, HostTensor>, start: number, rows: number) => void,
  opts: BatchedRunOptions = {},
): Promise<void> {
  const input = opts.input ?? dataInput(model, opts.params);
  const fixed = declaredBatch(model, input);
  const exe = opts.session ?? (await compile(model, opts.runtime));
  const feeds = Object.fromEntries(opts.params ?? []);
  const n = x.dims[0];
  const size = fixed ?? opts.batchSize ?? 256;
  for (let start = 0; start < n; start += size) {
    const rows = Math.min(size, n - start);
    const batch = rowRange(x, start, rows);
    const padded = fixed !== undefined && rows < fixed ? padRows(batch, fixed) : batch;
    const out = await exe.run({ ...feeds, [input]: padded }, [...outputs]);
    if (padded !== batch) for (const k of Object.keys(out)) out[k] = firstRows(out[k], rows);
    onBatch(out, start, rows);
  }
}

/** Rows `start` to `start + rows` of `t`, copied. */
function rowRange(t: HostTensor, start: number, rows: number): HostTensor {
  const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = (t.data as Float32Array).slice(start * per, (start + rows) * per) as unknown as HostTensor['data'];
  return { dtype: t.dtype, dims: [rows, ...t.dims.slice(1)], data };
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
  const labelled = isDataset(data);
  const x = labelled ? data.x : data;
  const n = x.dims[0];
  const logits = new Float32Array(n * io.classes);
  const meter = labelled ? new ClassificationMeter(io.classes) : undefined;
  const batchSize = opts.batchSize ?? 256;
  await runInBatches(
    model,
    x,
    [io.output],
    (out, start, rows) => {
      const z = out[io.output];
      if (z.dims.length !== 2 || z.dims[0] !== rows || z.dims[1] !== io.classes)
        throw new Error(`the model's output '${io.output}' came out as [${z.dims.join(', ')}], not [${rows}, ${io.classes}]`);
      logits.set(z.data as Float32Array, start * io.classes);
      if (meter && labelled) meter.add(z, rowRange(data.y, start, rows));
      opts.onProgress?.(start + rows, n);
    },
    { input: io.input, batchSize, params: opts.params, runtime: opts.runtime, session: opts.session },
  );
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
