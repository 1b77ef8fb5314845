// Open a user's model file for a command: read and check it, convert its opset (checked against onnxruntime), free or
// keep its batch, and, for a classifier of images, decide its input normalisation.
import type { Normalization } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import { openModel, type LoadedModel } from '../onnx/load-model.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { classifierIO, imageShape, requireFreeBatch, type ClassifierIO } from './classifier.js';
import type { TaskKind } from './task.js';
import { inferTaskKind, TEXT_COMMANDS, textIO, type TextIO } from './text.js';
import { chooseNormalization, type NormalizationChoice } from './normalization.js';
import { verifyUpgrade, type UpgradeCheck } from './verify-upgrade.js';

/** A loaded model with the verdict of the conversion check, when the file needed a conversion. */
export interface OpenedModel extends LoadedModel {
  path: string;
  conversion?: UpgradeCheck;
}

export interface OpenOptions {
  runtime?: RuntimeOptions;
  /** Report a failed conversion check in `conversion` instead of throwing (inspect does). */
  allowFailedConversion?: boolean;
  /** Called with each note on what loading changed (a converted opset, a freed batch), one sentence each. */
  onNote?: (note: string) => void;
}

/**
 * Open a model file: read it, check its graph, convert opsets 11–12 to 13 and check the conversion against
 * onnxruntime's outputs on the original (a failed check is an error unless `allowFailedConversion`), and make a fixed
 * batch symbolic where the graph allows it.
 *
 * @example const { model, notes } = await openModelFile('cnn-opset11.onnx');
 */
export async function openModelFile(path: string, o: OpenOptions = {}): Promise<OpenedModel> {
  const loaded: OpenedModel = { ...openModel(path), path };
  if (loaded.upgrade) {
    loaded.conversion = await verifyUpgrade(loaded.original, loaded.upgrade.model, { runtime: o.runtime });
    if (!loaded.conversion.ok && !o.allowFailedConversion) {
      throw new Error(
        `${path}: the conversion from opset ${loaded.upgrade.from} to ${loaded.upgrade.to} does not reproduce onnxruntime's outputs on the original (${loaded.conversion.reason}); re-export the model at opset 13 or later`,
      );
    }
  }
  for (const n of loaded.notes) o.onNote?.(n);
  return loaded;
}

export interface OpenClassifierOptions extends OpenOptions {
  /** The input normalisation the user gives (`--normalize`); else the model's metadata; else assumed, with a warning. */
  normalize?: Normalization;
  /** False when the data are float tensors whose normalisation is the user's business: nothing is assumed then. */
  images?: boolean;
  /** Called once with a warning sentence (an assumed normalisation). */
  onWarning?: (warning: string) => void;
  /** Refuse, before anything else is said, a model that does not take images [N, C, H, W] (image-only methods). */
  needsImages?: boolean;
  /** The work (e.g. 'locate') runs the model on batches of its own sizes: refuse, before anything else is said, a graph that hard-codes its batch. */
  needsFreeBatch?: string;
}

/** A user's image classifier, opened for a command: the model scalpel computes with and everything known about it. */
export interface ClassifierTask extends ClassifierIO {
  kind: 'image-classification';
  path: string;
  /** The model scalpel computes with (converted, batch freed, normalisation recorded). */
  model: Model;
  opened: OpenedModel;
  /** The input normalisation, and where it came from; recorded in the model's metadata in memory. */
  normalization: NormalizationChoice;
}

/**
 * Open a classifier for a command: `openModelFile`, then its graph facts (refusing a model that is not a classifier),
 * then its normalisation (the option, the model's metadata, or Fashion-MNIST's with one warning).
 *
 * @example
 * const task = await openClassifier('user-cnn.onnx', { normalize: { mean: 0.5, std: 0.5 }, onWarning: console.warn });
 * const test = await loadTaskData(task.model, 'fashion-mnist', 'test');
 * const run = await runClassifier(task.model, test);
 */
export async function openClassifier(path: string, o: OpenClassifierOptions = {}): Promise<ClassifierTask> {
  const opened = await openModelFile(path, o);
  refuseText(opened.model, path);
  return classifierTask(opened, o);
}

function classifierTask(opened: OpenedModel, o: OpenClassifierOptions): ClassifierTask {
  const { path } = opened;
  const io = classifierIO(opened.model, path);
  if (o.needsImages) imageShape(io, path);
  if (o.needsFreeBatch) requireFreeBatch(io, path, o.needsFreeBatch);
  const normalization = chooseNormalization(opened.model, { given: o.normalize, onWarning: o.onWarning, name: path, images: o.images });
  return { kind: 'image-classification', path, model: opened.model, opened, normalization, ...io };
}

/** A user's text model, opened for a command: a sequence classifier or a language model, its inputs by name. */
export interface TextTask extends TextIO {
  path: string;
  model: Model;
  opened: OpenedModel;
}

export interface OpenTaskOptions extends OpenClassifierOptions {
  /** The task kind the user names (`--task`); else inferred from the model's shapes. */
  task?: TaskKind;
}

/**
 * Open a model for a command that handles every task kind: an image classifier as `openClassifier` opens it, or a
 * text model (sequence classifier, language model) with its token inputs and output read off its graph. The kind is
 * `task` when given, else inferred from the shapes; a model that does not fit its kind is refused with one clear error.
 *
 * @example const task = await openTask('test/fixtures/text/lstm-lm.onnx'); task.kind // 'language-modelling'
 */
export async function openTask(path: string, o: OpenTaskOptions = {}): Promise<ClassifierTask | TextTask> {
  const opened = await openModelFile(path, o);
  const kind = o.task ?? inferTaskKind(opened.model);
  if (kind === 'image-classification') return classifierTask(opened, o);
  return { path, model: opened.model, opened, ...textIO(opened.model, path, kind) };
}

/**
 * One clear refusal for a text model that a classifier command cannot feed: a language model, or a classifier whose
 * token ids come with companions (attention mask, token type ids). A single-input classifier of int64 tokens `x`
 * goes on, as before, with data holding `x` and `y`.
 */
function refuseText(model: Model, path: string): void {
  const kind = inferTaskKind(model);
  if (kind === 'image-classification') return;
  const io = textIO(model, path, kind);
  if (kind === 'sequence-classification' && io.inputs.length === 1) return;
  const what = kind === 'language-modelling' ? 'a language model' : `a text classifier taking ${io.inputs.join(', ')}`;
  throw new Error(`${path} is ${what}; this command takes classifiers of one input (images, or tokens 'x'); text models run in ${TEXT_COMMANDS}`);
}
