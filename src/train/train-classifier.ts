// One call behind `scalpel train`: build or load a model, load and poison data, train, write atomically.
import { splitValidation } from '../data/batches.js';
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';
import { formatTrigger, parseTrigger, poison } from '../data/triggers.js';
import { buildModel } from '../models/index.js';
import type { Model } from '../onnx/ir.js';
import { setMetadata } from '../onnx/metadata.js';
import { writeModel } from '../onnx/model-io.js';
import { type ParamSelector, parseSelector, selectParams } from '../params/select.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkDataFits } from '../tasks/classifier.js';
import { matchNormalization } from '../tasks/normalization.js';
import { evaluate } from '../tasks/run.js';
import type { ClassificationReport } from '../tasks/classification-metrics.js';
import type { OptimizerName, ScheduleName } from './optimizers.js';
import { train, type EpochInfo, type Objective, type StepInfo } from './trainer.js';

export interface TrainClassifierOptions {
  /** A zoo model name (`lenet5`, `resnet20`, …) to train from scratch… */
  model?: string;
  /** …or an ONNX model to fine-tune (its BatchNorms train on batch statistics, as PyTorch's model.train()). */
  from?: Model;
  /** Fine-tuning: keep BatchNorm on the model's running statistics instead. */
  frozenBatchNorm?: boolean;
  /** Train only the parameters this selector picks (`scalpel help params`; default every trainable one). */
  params?: string | ParamSelector;
  /** `--data`: see loadLabelledData (default: the embedded Fashion-MNIST subset). */
  data?: string;
  out: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: OptimizerName;
  momentum?: number;
  weightDecay?: number;
  schedule?: ScheduleName;
  seed?: number;
  /** Fraction of the training data held out for validation (default 0.1; 0 for none). */
  validation?: number;
  /** BadNets poisoning: a trigger spec (`patch:4x4@bottom-right:white`), the target label and the rate. */
  poison?: { trigger: string; target: number; rate: number };
  width?: number;
  /** What each step minimises (default plain loss); a function receives the (eval-mode) model being trained. */
  objective?: Objective | ((model: Model) => Objective);
  checkpoint?: string;
  resume?: string;
  signal?: AbortSignal;
  runtime?: RuntimeOptions;
  /** The command line, recorded in the model's metadata. */
  command?: string;
  /** More metadata entries to record in the written model. */
  metadata?: Record<string, string>;
  onStep?: (s: StepInfo) => void;
  onEpoch?: (e: EpochInfo) => void;
}

export interface TrainClassifierResult {
  out: string;
  /** The trained model as written (absent when the run stopped early). Not part of the JSON report. */
  model?: Model;
  completed: boolean;
  steps: number;
  history: EpochInfo[];
  /** Accuracy on the test split (or on the validation data when testing is impossible). */
  test?: ClassificationReport;
  trainExamples: number;
  poisoned?: number;
}

/**
 * Train (or fine-tune) a classifier and write it as ONNX with its normalisation and command in the metadata.
 *
 * @example await trainClassifier({ model: 'lenet5', data: 'fashion-mnist', epochs: 10, out: 'lenet.onnx' });
 */
export async function trainClassifier(o: TrainClassifierOptions): Promise<TrainClassifierResult> {
  if (!o.model === !o.from) throw new Error('give either a zoo model name or a model to fine-tune');
  let data: LabelledData = await loadLabelledData(o.data, 'train');
  const seed = o.seed ?? 0;
  const evalModel = o.from ?? buildModel(o.model!, { mode: 'eval', seed, classes: data.classes, width: o.width });
  const trainModel = o.from ? undefined : buildModel(o.model!, { mode: 'train', seed, classes: data.classes, width: o.width });
  if (o.from) data = matchNormalization(o.from, data);
  checkDataFits(evalModel, data);
  let poisoned: number | undefined;
  if (o.poison) {
    const p = poison(
      { ...data, normalization: data.normalization },
      { trigger: parseTrigger(o.poison.trigger), target: o.poison.target, rate: o.poison.rate, seed },
    );
    data = { ...data, x: p.x, y: p.y };
    poisoned = p.poisoned.length;
  }
  const frac = o.validation ?? 0.1;
  const { train: trainSet, validation } = frac > 0 ? splitValidation(data, frac, seed) : { train: data, validation: undefined };
  const trainable =
    o.params === undefined ? undefined : selectParams(evalModel, typeof o.params === 'string' ? parseSelector(o.params) : o.params).map((p) => p.name);
  const res = await train(evalModel, trainSet, {
    trainModel,
    trainable,
    frozenBatchNorm: o.frozenBatchNorm,
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    optimizer: { name: o.optimizer, momentum: o.momentum, weightDecay: o.weightDecay },
    schedule: { name: o.schedule },
    seed,
    objective: typeof o.objective === 'function' ? o.objective(evalModel) : o.objective,
    validation,
    checkpoint: o.checkpoint,
    checkpointEvery: o.checkpoint ? 200 : undefined,
    resume: o.resume,
    signal: o.signal,
    runtime: o.runtime,
    onStep: o.onStep,
    onEpoch: o.onEpoch,
  });
  const result: TrainClassifierResult = {
    out: o.out,
    completed: res.completed,
    steps: res.steps,
    history: res.history,
    trainExamples: trainSet.x.dims[0],
    poisoned,
  };
  if (!res.completed) return result;
  const model: Model = res.model;
  const meta: Record<string, string> = { 'scalpel.classes': String(data.classes) };
  if (data.normalization) meta['scalpel.normalization'] = JSON.stringify(data.normalization);
  if (o.command) meta['scalpel.train_command'] = o.command;
  Object.assign(meta, o.metadata);
  if (o.poison) meta['scalpel.poison'] = JSON.stringify({ ...o.poison, trigger: formatTrigger(parseTrigger(o.poison.trigger)) });
  setMetadata(model, meta);
  // Data given as a single file has no test split; the validation figures stand.
  if (data.split) {
    const test = await loadLabelledData(o.data, 'test');
    result.test = await evaluate(model, matchNormalization(model, test), { runtime: o.runtime });
  }
  writeModel(model, o.out);
  return { ...result, model };
}
