// What a command needs to know about a user's classifier, read off its graph once: which input takes the data, which
// output gives the logits, how many classes, what the examples look like, and whether the graph fixes its batch.
import type { LabelledData } from '../data/load-dataset.js';
import type { Dim } from '../onnx/builder.js';
import { formatShape } from '../onnx/declared-type.js';
import type { Model } from '../onnx/ir.js';
import { inferTypes } from '../onnx/shapes.js';
import type { HostTensor } from '../tensor/host-tensor.js';

/** The graph facts of a classifier. */
export interface ClassifierIO {
  /** The graph input that takes the examples. */
  input: string;
  /** The graph output that gives the logits [batch, classes]. */
  output: string;
  classes: number;
  /** The declared shape of one batch of examples, [batch, …]. */
  inputShape: Dim[];
  /** The batch size the graph hard-codes, when it does (evaluations pad to it; training uses it). */
  fixedBatch?: number;
}

/** An image [C, H, W] a model takes. */
export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

/**
 * The data input of a model: its first graph input that is neither an initializer nor a fed parameter.
 *
 * @example dataInput(readModel('models/lenet5-fashion.onnx')) // 'x'
 */
export function dataInput(model: Model, params?: ReadonlyMap<string, unknown>): string {
  const v = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name) && !params?.has(i.name));
  if (!v) throw new Error('the model has no data input (every graph input is a parameter)');
  return v.name;
}

/**
 * Read a classifier's facts off its graph, or refuse a model that is not one: its first output must be logits
 * [batch, classes] with a known number of classes of at least 2.
 *
 * @param name the model's name for messages (its path)
 * @param params parameters fed as graph inputs (not data inputs)
 * @example classifierIO(readModel('models/lenet5-fashion.onnx')) // { input: 'x', output: 'logits', classes: 10, … }
 */
export function classifierIO(model: Model, name = 'the model', params?: ReadonlyMap<string, unknown>): ClassifierIO {
  const out = model.graph.outputs[0];
  if (!out) throw new Error(`${name} has no outputs`);
  const input = dataInput(model, params);
  const env = inferTypes(model);
  const shape = env.get(out.name)?.shape;
  const classes = shape?.at(-1);
  if (!shape || shape.length !== 2 || typeof classes !== 'number' || classes < 2) {
    throw new Error(
      `${name} is not a classifier: its first output '${out.name}' is ${shape ? formatShape(shape) : 'of unknown shape'}, not logits [batch, classes] with at least 2 classes`,
    );
  }
  const inputShape = env.get(input)?.shape ?? [];
  const batch = inputShape[0];
  return { input, output: out.name, classes, inputShape, fixedBatch: typeof batch === 'number' ? batch : undefined };
}

/**
 * The image shape a classifier takes, or one clear refusal when its input is not [N, C, H, W] with known C, H, W.
 *
 * @example imageShape(readModel('models/lenet5-fashion.onnx')) // { channels: 1, height: 28, width: 28 }
 */
export function imageShape(of: ClassifierIO | Model, name = 'the model'): ImageShape {
  const io = 'graph' in of ? classifierIO(of, name) : of;
  const s = io.inputShape;
  if (s.length !== 4 || !s.slice(1).every((d) => typeof d === 'number' && d > 0)) {
    throw new Error(`${name} does not take images: its input '${io.input}' is ${formatShape(s)}, not [N, C, H, W] with known C, H and W`);
  }
  const [, channels, height, width] = s as number[];
  return { channels, height, width };
}

/**
 * Check that a class label given by the user (a target, a source) is one the classifier has.
 *
 * @param what how the caller names the value, e.g. 'target' or '--target'
 * @example checkClass(10, 99, 'target') // throws "target 99 is out of range: the model has classes 0 to 9"
 */
export function checkClass(classes: number, label: number, what: string): void {
  if (!Number.isInteger(label) || label < 0 || label >= classes) throw new Error(`${what} ${label} is out of range: the model has classes 0 to ${classes - 1}`);
}

/**
 * Check, before any work, that labelled data fits a classifier: the examples' shape matches the input's declared
 * shape (beyond the batch), and every label is one of its classes. Throws one clear error naming the data.
 *
 * @example checkDataFits(model, await loadLabelledData('embedded', 'test'));
 */
export function checkDataFits(of: ClassifierIO | Model, data: LabelledData): void {
  // The examples' shape first: data that cannot be fed is the first thing to say, whatever the outputs are.
  const input = 'graph' in of ? dataInput(of) : of.input;
  const declared = 'graph' in of ? (inferTypes(of).get(input)?.shape ?? []) : of.inputShape;
  const got = data.x.dims;
  if (declared.length > 0) {
    const ok = declared.length === got.length && declared.every((d, i) => i === 0 || typeof d !== 'number' || d === got[i]);
    if (!ok) throw new Error(`${data.source}: examples of shape ${formatShape(got.slice(1))} do not fit the model input '${input}' ${formatShape(declared)}`);
  }
  const io = 'graph' in of ? classifierIO(of) : of;
  if (data.classNames && data.classNames.length !== io.classes) {
    throw new Error(
      `the model is not a classifier of this data: its output '${io.output}' gives ${io.classes} values per example, but ${data.source} has ${data.classNames.length} classes`,
    );
  }
  checkLabels(io.classes, data.y, data.source);
}

/** Every label in [0, classes), or one error naming the first that is not. */
export function checkLabels(classes: number, y: HostTensor, source: string): void {
  const labels = y.data as BigInt64Array;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0n || labels[i] >= BigInt(classes))
      throw new Error(`${source}: label ${labels[i]} at example ${i} is out of range for a model with ${classes} classes`);
  }
}

/**
 * Refuse, in one sentence, a classifier whose graph hard-codes its batch size, for work that runs it on batches of
 * sizes of its own (gradients over sets of pairs, optimised masks and triggers, edits): evaluation pads such a graph,
 * and training steps at its size, but these cannot.
 *
 * @param name the model's name for the message (its path)
 * @param what the work, e.g. 'inject'
 * @example requireFreeBatch(task, 'merged.onnx', 'locate') // throws for a graph fixed at batch 32
 */
export function requireFreeBatch(io: ClassifierIO, name: string, what: string): void {
  if (io.fixedBatch === undefined) return;
  throw new Error(
    `${name} hard-codes its batch size at ${io.fixedBatch} (its graph depends on it), and ${what} runs the model on batches of other sizes; ` +
      `re-export it with a dynamic batch axis, e.g. torch.onnx.export(…, dynamic_axes={'${io.input}': {0: 'batch'}}) and no literal batch in reshapes`,
  );
}
