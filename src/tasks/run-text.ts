// Run a text model over its data in batches: a sequence classifier's logits and metrics (as runClassifier gives for
// images), or a language model's per-token loss and perplexity, padding labels ignored.
import { firstRows, padRows, takeRows } from '../data/batches.js';
import { IGNORE_INDEX } from '../data/text-tensors.js';
import type { Model } from '../onnx/ir.js';
import { compile, type Executable } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { ClassificationMeter } from './classification-metrics.js';
import { argmax, type ClassifierRun, type RunOptions } from './run.js';
import type { TextData } from './text-data.js';
import { textIO, type TextIO } from './text.js';

/** A language model's metrics over labelled tokens. */
export interface LanguageModelReport {
  /** Rows of the data. */
  examples: number;
  /** Positions with a label (not IGNORE_INDEX): what the loss averages over. */
  tokens: number;
  /** Mean cross-entropy per token (nats). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Share of tokens whose most likely next token is the label. */
  accuracy: number;
}

/** Batches of rows [from, to) of every input, padded to a graph's fixed batch; yields the real row count too. */
async function forEachBatch(
  model: Model,
  io: TextIO,
  data: TextData,
  opts: RunOptions,
  each: (logits: HostTensor, from: number, rows: number) => void,
): Promise<void> {
  const exe: Executable = opts.session ?? (await compile(model, opts.runtime));
  const fixed = Object.fromEntries(opts.params ?? []);
  const size = io.fixedBatch ?? opts.batchSize ?? (io.kind === 'language-modelling' ? 32 : 256);
  const n = data.examples;
  for (let from = 0; from < n; from += size) {
    const rows = Math.min(size, n - from);
    const index = Array.from({ length: rows }, (_, i) => from + i);
    const feeds: Record<string, HostTensor> = {};
    for (const name of io.inputs) {
      const part = takeRows(data.inputs[name], index);
      feeds[name] = io.fixedBatch !== undefined && rows < io.fixedBatch ? padRows(part, io.fixedBatch) : part;
    }
    let z = (await exe.run({ ...fixed, ...feeds }, [io.output]))[io.output];
    if (z.dims[0] !== rows) z = firstRows(z, rows);
    each(z, from, rows);
    opts.onProgress?.(from + rows, n);
  }
}

/**
 * Run a sequence classifier over text data: logits, predictions, and accuracy, loss, per-class accuracy and confusion.
 *
 * @example const r = await runTextClassifier(model, await loadTextData(textIO(model), 'data/text/topic', 'test')); r.report!.accuracy
 */
export async function runTextClassifier(model: Model, data: TextData, opts: RunOptions = {}): Promise<ClassifierRun> {
  const io = textIO(model, 'the model', 'sequence-classification');
  const logits = new Float32Array(data.examples * io.classes);
  const meter = new ClassificationMeter(io.classes);
  await forEachBatch(model, io, data, opts, (z, from, rows) => {
    if (z.dims.length !== 2 || z.dims[1] !== io.classes)
      throw new Error(`the model's output '${io.output}' came out as [${z.dims.join(', ')}], not [${rows}, ${io.classes}]`);
    logits.set(z.data as Float32Array, from * io.classes);
    meter.add(
      z,
      takeRows(
        data.y,
        Array.from({ length: rows }, (_, i) => from + i),
      ),
    );
  });
  return { logits, classes: io.classes, predictions: argmax(logits, io.classes), examples: data.examples, report: meter.report() };
}

/**
 * Run a language model over text data: the mean cross-entropy per labelled token, its perplexity, and next-token
 * accuracy; positions labelled IGNORE_INDEX (-100, padding) are not counted.
 *
 * @example const r = await runLanguageModel(model, await loadTextData(textIO(model), 'data/text/lm', 'test')); r.perplexity
 */
export async function runLanguageModel(model: Model, data: TextData, opts: RunOptions = {}): Promise<LanguageModelReport> {
  const io = textIO(model, 'the model', 'language-modelling');
  const V = io.classes;
  const T = data.y.dims[1];
  const labels = data.y.data as BigInt64Array;
  let tokens = 0;
  let nll = 0;
  let correct = 0;
  await forEachBatch(model, io, data, opts, (z, from, rows) => {
    if (z.dims.length !== 3 || z.dims[1] !== T || z.dims[2] !== V)
      throw new Error(`the model's output '${io.output}' came out as [${z.dims.join(', ')}], not [${rows}, ${T}, ${V}]`);
    const v = z.data as Float32Array;
    for (let p = 0; p < rows * T; p++) {
      const label = labels[from * T + p];
      if (label === BigInt(IGNORE_INDEX)) continue;
      const o = p * V;
      let max = -Infinity;
      let best = 0;
      for (let k = 0; k < V; k++)
        if (v[o + k] > max) {
          max = v[o + k];
          best = k;
        }
      let sum = 0;
      for (let k = 0; k < V; k++) sum += Math.exp(v[o + k] - max);
      nll += Math.log(sum) + max - v[o + Number(label)];
      if (best === Number(label)) correct++;
      tokens++;
    }
  });
  const loss = tokens ? nll / tokens : NaN;
  return { examples: data.examples, tokens, loss, perplexity: Math.exp(loss), accuracy: tokens ? correct / tokens : NaN };
}
