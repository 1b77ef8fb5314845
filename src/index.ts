// scalpel's public API: only what this file re-exports. Grouped by layer, bottom up.

// tensor/
export { type DType, type HostTensor, type TypedData, sizeOf, tensor, zeros, fromBytes, bytesOf } from './tensor/host-tensor.js';
export { Rng, createRng } from './tensor/rng.js';

// onnx/
export type { Graph, Initializer, Model, Node, OpsetImport, ValueInfo } from './onnx/ir.js';
export { cloneGraph, cloneModel, floatInitializers, onnxOpset, producers } from './onnx/ir.js';
export { decodeModel, encodeModel, readModel, writeModel, type WriteModelOptions } from './onnx/model-io.js';
export { type Dim, GraphBuilder, emptyGraph, makeModel, tensorValueInfo } from './onnx/builder.js';
export { type AttrValue, float, floats } from './onnx/attributes.js';
export { inferTypes, TypeEnv, type ValueType } from './onnx/shapes.js';
export { promoteToInputs, type PromotedModel } from './onnx/params-as-inputs.js';

// runtime/
export { clearSessionCache, compile, configureRuntime, Executable, nchwcBlockSize, type RuntimeOptions } from './runtime/session.js';
export { lowerToNchwc, NCHWC_DOMAIN, type NchwcLowering, usesNchwcOps } from './runtime/nchwc.js';
export { compileUncached } from './runtime/session.js';

// autodiff/
export { differentiate, type DifferentiateOptions, type Differentiated, UnsupportedOpError, unsupportedOps } from './autodiff/differentiate.js';
export type { GradContext, GradRule } from './autodiff/grad-context.js';
export { NOT_DIFFERENTIABLE, RULES } from './autodiff/rules/index.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './autodiff/gradcheck.js';

// data/
export {
  decodeSafetensors, encodeSafetensors, readSafetensors, readSafetensorsFile, writeSafetensors, type SafetensorsFile, type TensorDict,
} from './data/safetensors.js';

// data/ (continued)
export { readIdx, decodeIdx, writeIdx } from './data/idx.js';
export { readNpy, readNpz, writeNpy, writeNpz } from './data/npy.js';
export { loadImageDataset, FASHION_MNIST_CLASSES, DEFAULT_FULL_DATASET_DIR, EMBEDDED_SUBSET_DIR, type ImageDataset } from './data/fashion-mnist.js';
export { loadLabelledData, type LabelledData } from './data/load-dataset.js';
export { batches, splitValidation, takeRows, type Dataset, type Batch } from './data/batches.js';
export { applyTrigger, parseTrigger, formatTrigger, poison, stampImages, type Trigger } from './data/triggers.js';

// train/
export { type LossKind, type LossOptions, type ModelWithLoss, withLoss } from './train/losses.js';
export { Optimizer, learningRate, type OptimizerOptions, type ScheduleOptions } from './train/optimizers.js';
export { train, withParams, type TrainOptions, type TrainResult, type StepInfo, type EpochInfo } from './train/trainer.js';
export { trainingGraph } from './train/training-graph.js';
export { evaluate, type RunOptions as EvaluateOptions } from './tasks/run.js';
export { ClassificationMeter, type ClassificationReport } from './tasks/classification-metrics.js';
export { saveCheckpoint, loadCheckpoint, type Checkpoint } from './train/checkpoint.js';
export { trainClassifier, type TrainClassifierOptions, type TrainClassifierResult } from './train/train-classifier.js';
export { evalClassifier, type EvalClassifierOptions, type EvalClassifierResult } from './train/eval-classifier.js';
export { getMetadata, setMetadata } from './onnx/metadata.js';

// params/: naming, selecting and editing parameters.
export { countParams, describeParams, type ParamInfo, type ParamKind } from './params/describe.js';
export { formatSelector, type Grouping, groupParams, type ParamSelector, parseGrouping, parseSelector, selectParams } from './params/select.js';
export { topN } from './params/top-n.js';

// models/
export { buildModel, MODELS, type ModelOptions, type ModelSpec } from './models/index.js';
export { SHIPPED_MODELS } from './models/shipped.js';

// corruption/: worst-case and random parameter corruption (probe).
export { checkSpec, type Corruption, type CorruptionSpec, dualNorm, resolveN, worstCorruption } from './corruption/closed-form.js';
export {
  CorruptionEvaluator, corruptModel, type CorruptOptions, type DatasetGradient, dotDeltas, type EvalResult, evaluateCorrupted, type EvaluatorOptions, fillNormal, gradientOf,
  randomCorruption,
} from './corruption/corrupt.js';
export { planProbe, probe, type ProbeMethod, type ProbeOptions, type ProbePlan, type ProbeRecord, type ProbeReport, type ProbeSettings, type Theorem1Report } from './corruption/probe.js';
export { empiricalQuantiles, etaCdf, etaDensity, etaQuantile, type Quantiles3, theoreticalQuantiles } from './corruption/theorem1.js';
export { probeText } from './report/probe.js';

// analysis: what the inspect, grad and bench commands compute.
export { checkGraphComplete, declaredType, feedInputs, loadData, loadModel, openModel, type LoadedModel } from './analysis/load.js';
export { checkOutputPath } from './cli/output-path.js';
export { freeBatchDim, fixedBatch, type BatchDimResult } from './onnx/batch-dim.js';
export { upgradeOpset, type OpsetUpgrade } from './onnx/opset-upgrade.js';
export { verifyUpgrade, type UpgradeCheck } from './tasks/verify-upgrade.js';
export { checkFinite } from './data/check-finite.js';
export { checkFeeds, type CheckedFeeds, type CheckFeedsOptions, type TargetSpec } from './analysis/feeds.js';
export { inspectModel, type InspectReport, type OpSummary, type ParameterGroup, type ParameterTensor, type ValueSummary } from './analysis/inspect.js';
export {
  computeGradients, selectParameters, writeGradients, type GradientOptions, type GradientReport, type GradientResult, type GradientStat,
} from './analysis/gradients.js';
export { benchModel, type BenchOptions, type BenchPhase, type BenchReport, type Timing } from './analysis/bench.js';

// report/
export { inspectText } from './report/inspect.js';
export { gradientsText } from './report/gradients.js';
export { benchText } from './report/bench.js';

// backdoor defences: the defender's data, trigger files, and how a defence is judged
export { defenderData, loadDefenderData, parseDefenderSpec, DEFAULT_DEFENDER_FRACTION, type DefenderData, type DefenderDataOptions, type DefenderSpec } from './defence/defender-data.js';
export { readTriggerFile, writeTriggerFile } from './data/trigger-file.js';
export { type MaskTrigger } from './data/triggers.js';
export { defenceMetrics, der, type DefenceMetrics, type DefenceMetricsOptions } from './defence/metrics.js';
export { attackRates } from './tasks/attack-rates.js';
export { reconstruct, modelNormalization, type ReconstructOptions, type ReconstructResult, type LabelTrigger } from './backdoor/neural-cleanse.js';
export { anomalyIndex, ANOMALY_THRESHOLD, type AnomalyResult } from './backdoor/anomaly.js';
export { triggerGraph, type TriggerGraph } from './backdoor/trigger-graph.js';
export { writeReconstruction, readReconstruction } from './backdoor/reconstruct-output.js';
export { repairModel, type RepairOptions, type RepairReport } from './backdoor/repair.js';
export type { RepairMethod, RepairContext, RepairOutcome, RepairFlag, DefenderTrigger, FineTuneSettings } from './defence/repair-method.js';
export { BACKDOOR_REPAIR_METHODS } from './backdoor/repair-methods.js';
export { unlearn, unlearningSet } from './backdoor/unlearn.js';
export { finePrune, lastConv, pruneChannels, meanActivations } from './backdoor/fine-prune.js';
export { finetune } from './backdoor/finetune.js';
export { fineTune } from './defence/fine-tune.js';
export { encodePng } from './data/png.js';
export { reconstructText } from './report/reconstruct.js';
export { reconstructHtml } from './report/reconstruct-html.js';
export { repairText } from './report/repair.js';
export { repairHtml } from './report/repair-html.js';

// lancet/: AI-Lancet (locate the weights behind an error; repair by flip or neuron fine-tuning)
export { findLayer, lancetLayers, type LancetLayer } from './lancet/layers.js';
export { importanceGraph, type ImportanceGraph } from './lancet/importance-graph.js';
export { coarseGrid, LayerEditor, rankByImportance, searchRatio, zeroTop, type AblationResult, type AblationSearch } from './lancet/ablation.js';
export { isFixed, pairKey, type FixRule, type LancetPair, type PairSet } from './lancet/pairs.js';
export { triggerPairs, type TriggerPairOptions } from './lancet/trigger-pairs.js';
export { BLUR_MASK_DEFAULTS, gaussianKernel, misclassifiedPairs, type BlurMaskOptions } from './lancet/blur-pairs.js';
export { locate, locateInLayer, type LayerLocation, type LocatedWeight, type LocateOptions, type LocateResult } from './lancet/locate.js';
export { errorPairs, locateErrors, parseErrorSource, type ErrorSource, type LocateErrorsOptions, type LocateErrorsResult } from './lancet/locate-errors.js';
export { LOCATED_FORMAT, locatedFile, readLocated, writeLocated, type LocatedData, type LocatedFile } from './lancet/located-file.js';
export { flipCounts, flipRepair, type FlipOptions, type FlipResult, type FlipStep } from './lancet/flip.js';
export { concatData, NEURON_FINETUNE_DEFAULTS, neuronFinetune, randomIndices, type NeuronFinetuneOptions, type TunedWeights } from './lancet/neuron-finetune.js';
export { flip as flipMethod, LANCET_REPAIR_METHODS, neuronFinetuneMethod } from './lancet/repair-methods.js';
export { locateText } from './report/locate.js';
export { locateHtml } from './report/locate-html.js';

// cli/
export { run, COMMANDS, type CliIO, type CommandSpec } from './cli/main.js';

// surgery/: neural network surgery (inject): teach a pattern by changing at most N parameters.
export { resolveBudget } from './surgery/budget.js';
export { formatPattern, mixTraining, parsePattern, patternData, type PatternDataOptions, type PatternSpec, type SurgeryData } from './surgery/pattern.js';
export {
  dynamicMethod, finetuneMethod, lagrangeMethod, METHOD_DEFAULTS, SELECT_BY, selectMethod, SURGERY_METHODS, type MethodResult, type MethodSettings, type SelectBy, type SurgeryMethod,
} from './surgery/methods.js';
export { tune, TUNE_DEFAULTS, type TuneContext, type TuneRun, type TuneSettings, type Tuned } from './surgery/tune.js';
export {
  flipMatrix, meanKl, measureBaseline, measureEdit, summariseChange, type Baseline, type ChangeSummary, type EditMeasures,
} from './surgery/measure.js';
export {
  CLEAN_LABELS, inject, INJECT_DEFAULTS, parseMethod, runSummary, type CleanLabels, type InjectOptions, type InjectReport, type InjectResult, type InjectRun, type MethodChoice,
} from './surgery/inject.js';
export { injectText } from './report/inject.js';
export { injectHtml } from './report/inject-html.js';

// A user's model and its data: one way in for every command (src/tasks/).
export { openClassifier, openModelFile, type ClassifierTask, type OpenedModel, type OpenClassifierOptions, type OpenOptions } from './tasks/open.js';
export { argmax, runClassifier, type ClassifierRun, type RunOptions } from './tasks/run.js';
export { checkClass, checkDataFits, classifierIO, dataInput, imageShape, type ClassifierIO, type ImageShape } from './tasks/classifier.js';
export { chooseNormalization, matchNormalization, parseNormalization, renormalize, type NormalizationChoice } from './tasks/normalization.js';
export { fitData, loadTaskData } from './tasks/task-data.js';
