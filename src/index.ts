// scalpel's public API: only what this file re-exports, grouped by capability (README "The library", docs/design.md).
// Everything else under src/ is internal and may change without notice. Each capability has a runnable example in
// examples/.

// ---------------------------------------------------------------------------------------------------------------------
// The engine: ONNX models as data, differentiated by scalpel, run on onnxruntime.      (examples/gradient.mjs)
// ---------------------------------------------------------------------------------------------------------------------
export type { Graph, Initializer, Model, Node, OpsetImport, ValueInfo } from './onnx/ir.js';
export { cloneModel, floatInitializers } from './onnx/ir.js';
export { decodeModel, encodeModel, readModel, writeModel, type WriteModelOptions } from './onnx/model-io.js';
export { getMetadata, setMetadata } from './onnx/metadata.js';
export { type Dim, GraphBuilder, makeModel, tensorValueInfo } from './onnx/builder.js';
export { inferTypes, type ValueType } from './onnx/shapes.js';
export { promoteToInputs, type PromotedModel } from './onnx/params-as-inputs.js';
export { openModelFile, type OpenedModel, type OpenOptions } from './tasks/open.js';
export { differentiate, type DifferentiateOptions, type Differentiated, UnsupportedOpError, unsupportedOps } from './autodiff/differentiate.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './autodiff/gradcheck.js';
export {
  clearSessionCache,
  compile,
  compileUncached,
  configureRuntime,
  configureSessionCache,
  Executable,
  type RuntimeOptions,
  sessionCacheStats,
  type SessionCacheLimits,
} from './runtime/session.js';
export { type LossKind, type LossOptions, type ModelWithLoss, withLoss } from './train/losses.js';
export { type DType, type HostTensor, type TypedData, sizeOf, tensor, zeros } from './tensor/host-tensor.js';
export { Rng } from './tensor/rng.js';
export { computeGradients, writeGradients, type GradientOptions, type GradientReport, type GradientResult } from './analysis/gradients.js';
export { inspectModel, type InspectReport } from './analysis/inspect.js';
export { benchModel, type BenchOptions, type BenchReport } from './analysis/bench.js';

// ---------------------------------------------------------------------------------------------------------------------
// Data: datasets, tensor files, triggers, the defender's share, counts.
// ---------------------------------------------------------------------------------------------------------------------
export { loadLabelledData, type LabelledData } from './data/load-dataset.js';
export { FASHION_MNIST_CLASSES, loadImageDataset, type ImageDataset } from './data/fashion-mnist.js';
export { batches, takeRows, type Batch, type Dataset } from './data/batches.js';
export { readSafetensors, writeSafetensors, type TensorDict } from './data/safetensors.js';
export { readNpy, readNpz, writeNpy, writeNpz } from './data/npy.js';
export { readIdx, writeIdx } from './data/idx.js';
export { applyTrigger, formatTrigger, parseTrigger, poison, stampImages, type MaskTrigger, type Normalization, type Trigger } from './data/triggers.js';
export { readTriggerFile, writeTriggerFile } from './data/trigger-file.js';
export { defenderData, loadDefenderData, DEFAULT_DEFENDER_FRACTION, type DefenderData, type DefenderDataOptions } from './defence/defender-data.js';
export { parseCount, resolveCount, splitList, type Count } from './data/count.js';

// ---------------------------------------------------------------------------------------------------------------------
// Tasks: a user's classifier and its data, opened, normalised and run one way for every method.
// ---------------------------------------------------------------------------------------------------------------------
export { openClassifier, openTask, type ClassifierTask, type OpenClassifierOptions, type OpenTaskOptions, type TextTask } from './tasks/open.js';
// Text: task kinds, text data, runners, tokenizers, token triggers.
export { inferTaskKind, parseTaskKind, textIO, type TextIO } from './tasks/text.js';
export { loadTextData, type TextData, type TextSplit } from './tasks/text-data.js';
export { runLanguageModel, runTextClassifier, type LanguageModelReport } from './tasks/run-text.js';
export { buildWordVocab, byteVocab, encoderFor, readVocab, splitWords, vocabSize, writeVocab, type Vocab } from './data/vocab.js';
export { IGNORE_INDEX, lmRows, packPairs, padSequences } from './data/text-tensors.js';
export { parseTokenTrigger, stampTokens, vocabOf, type TokenTrigger } from './data/text-trigger.js';
export { parseFortunes, readFortuneFile, FORTUNES_DIR, type Fortune } from './data/fortunes.js';
export { bindDims } from './onnx/bind-dims.js';
export { argmax, evaluate, runClassifier, runInBatches, type BatchedRunOptions, type ClassifierRun, type RunOptions } from './tasks/run.js';
export { checkClass, checkDataFits, classifierIO, imageShape, requireFreeBatch, type ClassifierIO, type ImageShape } from './tasks/classifier.js';
export { chooseNormalization, matchNormalization, parseNormalization, renormalize, type NormalizationChoice } from './tasks/normalization.js';
export { fitData, loadTaskData } from './tasks/task-data.js';
export type { ClassificationReport } from './tasks/classification-metrics.js';
export type { TaskKind } from './tasks/task.js';
export { evalClassifier, type EvalClassifierOptions, type EvalClassifierResult } from './train/eval-classifier.js';

// ---------------------------------------------------------------------------------------------------------------------
// Models and training: the zoo, the shipped models, training loops.
// ---------------------------------------------------------------------------------------------------------------------
export { buildModel, MODELS, type ModelOptions, type ModelSpec } from './models/index.js';
export { SHIPPED_MODELS, type ShippedModel } from './models/shipped.js';
export { train, type EpochInfo, type StepInfo, type TrainOptions, type TrainResult } from './train/trainer.js';
export { trainClassifier, type TrainClassifierOptions, type TrainClassifierResult } from './train/train-classifier.js';
export { loadCheckpoint, saveCheckpoint, type Checkpoint } from './train/checkpoint.js';

// ---------------------------------------------------------------------------------------------------------------------
// Parameters and deltas: naming, selecting, and every edit as an exact, reversible sparse delta.  (examples/diff-apply.mjs)
// ---------------------------------------------------------------------------------------------------------------------
export { countParams, describeParams, layerOf, type ParamInfo, type ParamKind } from './params/describe.js';
export { formatSelector, groupParams, parseGrouping, parseSelector, selectParams, type Grouping, type ParamSelector } from './params/select.js';
export { applyDelta, changedCount, deltaBetween, deltaFromCorruption, paramsHash, type ApplyInfo, type SparseDelta, type TensorDelta } from './params/delta.js';
export { readDelta, writeDelta, DELTA_FORMAT } from './params/delta-file.js';
export { diffModels, type DiffOptions, type DiffReport } from './params/diff.js';

// ---------------------------------------------------------------------------------------------------------------------
// Methods, one entry each.
// ---------------------------------------------------------------------------------------------------------------------
// probe: worst-case against random parameter corruption (AAAI 2021).
export { probe, PROBE_DEFAULTS, type ProbeOptions, type ProbeRecord, type ProbeReport } from './corruption/probe.js';
export { resolveN, worstCorruption, type Corruption, type CorruptionSpec } from './corruption/closed-form.js';
// harden: corruption-resistant training.
export { hardenClassifier, type HardenClassifierOptions, type HardenMethod, type HardenReport } from './corruption/harden.js';
// inject: neural network surgery (NAACL 2021).                                             (examples/inject.mjs)
export { inject, INJECT_DEFAULTS, type InjectOptions, type InjectReport, type InjectResult, type InjectRun } from './surgery/inject.js';
export { SURGERY_METHODS, type SurgeryMethod } from './surgery/methods.js';
// reconstruct: Neural Cleanse trigger reconstruction and outlier detection.              (examples/reconstruct-repair.mjs)
export { reconstruct, type LabelTrigger, type ReconstructOptions, type ReconstructResult } from './backdoor/neural-cleanse.js';
export { anomalyIndex, ANOMALY_THRESHOLD, type AnomalyResult } from './backdoor/anomaly.js';
export { readReconstruction, writeReconstruction } from './backdoor/reconstruct-output.js';
// repair: every method of `scalpel repair` behind one contract, judged by ACC, ASR, RA and DER.
export { repairModel, type RepairOptions, type RepairReport, type RepairResult } from './backdoor/repair.js';
export { REPAIR_METHODS } from './cli/repair-methods.js';
export type { DefenderTrigger, FineTuneSettings, RepairContext, RepairMethod, RepairOutcome } from './defence/repair-method.js';
export { defenceMetrics, der, type DefenceMetrics, type DefenceMetricsOptions } from './defence/metrics.js';
export { attackRates } from './tasks/attack-rates.js';
// locate: AI-Lancet's error-inducing weights (CCS 2021); flip and neuron fine-tuning repair them. (examples/locate-flip.mjs)
export { locateErrors, type ErrorSource, type LocateErrorsOptions, type LocateErrorsResult } from './lancet/locate-errors.js';
export { locate, type LocatedWeight, type LocateOptions, type LocateResult } from './lancet/locate.js';
export { lancetLayers, type LancetLayer } from './lancet/layers.js';
export { readLocated, writeLocated, type LocatedFile } from './lancet/located-file.js';
export { flipRepair, type FlipOptions, type FlipResult } from './lancet/flip.js';
export { neuronFinetune, type NeuronFinetuneOptions } from './lancet/neuron-finetune.js';

// ---------------------------------------------------------------------------------------------------------------------
// Reports and the command line: the text and HTML every command prints, and the CLI itself (run(argv) → exit status).
// ---------------------------------------------------------------------------------------------------------------------
export { probeText } from './report/probe.js';
export { probeHtml } from './report/probe-html.js';
export { injectText } from './report/inject.js';
export { injectHtml } from './report/inject-html.js';
export { reconstructText } from './report/reconstruct.js';
export { reconstructHtml } from './report/reconstruct-html.js';
export { repairText } from './report/repair.js';
export { repairHtml } from './report/repair-html.js';
export { locateText } from './report/locate.js';
export { locateHtml } from './report/locate-html.js';
export { diffText } from './report/diff.js';
export { diffHtml } from './report/diff-html.js';
export { run, COMMANDS, type CliIO } from './cli/main.js';
