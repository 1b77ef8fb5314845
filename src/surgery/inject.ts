// `scalpel inject`: teach a trained model a pattern by changing at most N parameters, and measure the side effects
// instance by instance (neural network surgery, docs/methods.md).
import type { Model } from '../onnx/ir.js';
import { setMetadata } from '../onnx/metadata.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { StepInfo } from '../train/trainer.js';
import { resolveBudget } from './budget.js';
import { measureBaseline, measureEdit, type EditMeasures } from './measure.js';
import { runClassifier } from '../tasks/run.js';
import { DEFAULT_METHOD, parseMethod, runMethod, splitChoice, type MethodChoice, type MethodResult, type MethodSettings } from './methods.js';
import { formatSelector, parseSelector, selectParams, type ParamSelector } from '../params/select.js';
import { formatPattern, mixTraining, parsePattern, patternData, type PatternDataOptions, type PatternSpec } from './pattern.js';
import { TUNE_DEFAULTS, type TuneContext, type TuneSettings } from './tune.js';

/** Distillation: the logit of a pattern input's label in its target distribution (all others 0): p ≈ 0.9991 for 10 classes. */
const PATTERN_MARGIN = 10;

export { parseMethod, type MethodChoice } from './methods.js';

export type CleanLabels = 'data' | 'model' | 'distill';
export const CLEAN_LABELS: readonly CleanLabels[] = ['data', 'model', 'distill'];

export const INJECT_DEFAULTS = { method: DEFAULT_METHOD, budget: 100 as number | string, cleanWeight: 2, cleanLabels: 'data' as CleanLabels, ...TUNE_DEFAULTS };

export interface InjectOptions extends Partial<Omit<TuneSettings, 'onStep'>>, Omit<PatternDataOptions, 'pattern' | 'seed'> {
  /** `trigger:SPEC` or `examples:FILE`, or parsed. */
  pattern: string | PatternSpec;
  /** Default 'dynamic'. */
  method?: MethodChoice | string;
  /** Default 100; a count, a fraction of the selectable parameters, a percentage or 'all'. */
  budget?: number | string;
  /** Which parameters may change (default every trainable one). */
  params?: string | ParamSelector;
  /** Clean training inputs per pattern input in the training stream (default 2). */
  cleanWeight?: number;
  /**
   * What clean training inputs are fitted to: their dataset labels ('data', default), the original model's predicted
   * classes ('model'), or the original model's output distributions ('distill': KL(old ‖ new), with pattern inputs
   * fitted to a near one-hot distribution on their label, logit margin 10).
   */
  cleanLabels?: CleanLabels;
  settings?: MethodSettings;
  /** Run every method × budget instead of one run. */
  sweep?: { methods: (MethodChoice | string)[]; budgets: (number | string)[] };
  /** The model's path, for reports. */
  modelName?: string;
  /** The command line, recorded in the edited models' metadata. */
  command?: string;
  runtime?: RuntimeOptions;
  signal?: AbortSignal;
  onStep?: (run: string, s: StepInfo) => void;
}

export interface InjectRun {
  method: MethodChoice;
  /** The budget as given ('all', '0.16%', 100). */
  budgetText: string;
  /** The budget as a count (for finetune: every selectable parameter). */
  budget: number;
  measures: EditMeasures;
  steps: number;
  finalLoss: number;
  details: MethodResult['details'];
  wallSeconds: number;
}

export interface InjectReport {
  model: string;
  data: string;
  pattern: string;
  description: string;
  patternTest: string;
  params: { selector: string; k: number; tensors: number; total: number };
  /** Sizes of what the edit read. */
  examples: { patternTrain: number; cleanTrain: number; stream: number; cleanTest: number; patternTest: number };
  settings: TuneSettings & { cleanWeight: number; cleanLabels: CleanLabels; method: MethodSettings };
  baseline: { cleanAccuracy: number; success: number };
  runs: InjectRun[];
  /** False when interrupted (a signal): the runs finished so far are reported. */
  completed: boolean;
}

export interface InjectResult {
  report: InjectReport;
  /** The edited model of each run, in `report.runs` order, its metadata recording the command and a summary. */
  models: Model[];
}

/** One line of summary for a run, as recorded in the model's metadata and printed. */
export function runSummary(r: InjectRun): Record<string, unknown> {
  const m = r.measures;
  return {
    method: r.method,
    budget: r.budget,
    changed: m.changed.count,
    success: m.success.after,
    cleanAccuracyBefore: m.clean.before,
    cleanAccuracyAfter: m.clean.after,
    consistency: m.consistency,
    meanKl: m.meanKl,
    l2: m.changed.l2,
    linf: m.changed.linf,
  };
}

/**
 * Edit `model` so that it follows a pattern, changing at most `budget` parameters, and measure the side effects on
 * the test split. Every input is checked before any tuning (errors name the flag); with `sweep`, every method ×
 * budget runs on the same data and baseline (finetune once, at every selectable parameter).
 *
 * @example
 * const { report, models } = await inject(readModel('models/lenet5-fashion.onnx'), {
 *   pattern: 'trigger:patch:4x4@bottom-right:white', target: 0, method: 'dynamic', budget: 100 });
 * report.runs[0].measures.success.after; // share of stamped test images of other classes now classified 0
 */
export async function inject(model: Model, o: InjectOptions): Promise<InjectResult> {
  const pattern = typeof o.pattern === 'string' ? parsePattern(o.pattern) : o.pattern;
  let sel: ParamSelector;
  let names: string[];
  try {
    sel = typeof o.params === 'string' ? parseSelector(o.params) : (o.params ?? {});
    names = selectParams(model, sel).map((p) => p.name);
  } catch (e) {
    throw new Error(`--params: ${(e as Error).message}`);
  }
  if (names.length === 0) throw new Error(`--params ${formatSelector(sel)} selects no trainable parameter`);
  const k = names.reduce((a, n) => a + model.graph.initializers.get(n)!.tensor!.data.length, 0);

  const plan: { method: MethodChoice; budgetText: string; budget: number }[] = [];
  const by = o.settings?.by;
  const methods = o.sweep ? o.sweep.methods.map((m) => parseMethod(m, by)) : [parseMethod(o.method ?? INJECT_DEFAULTS.method, by)];
  const budgets = o.sweep ? o.sweep.budgets : [o.budget ?? INJECT_DEFAULTS.budget];
  if (budgets.length === 0) throw new Error('--budgets: give at least one budget');
  for (const method of new Set(methods)) {
    if (!splitChoice(method).method.budgeted) {
      if (!o.sweep && o.budget !== undefined && resolveOrThrow(o.budget, k) !== k) {
        throw new Error(`--budget ${o.budget}: ${method} changes every selected parameter (${k}); restrict them with --params, or use another method`);
      }
      plan.push({ method, budgetText: 'all', budget: k });
      continue;
    }
    for (const b of budgets) plan.push({ method, budgetText: String(b), budget: resolveOrThrow(b, k) });
  }

  const settings: TuneSettings = {
    steps: o.steps ?? INJECT_DEFAULTS.steps,
    batchSize: o.batchSize ?? INJECT_DEFAULTS.batchSize,
    lr: o.lr ?? INJECT_DEFAULTS.lr,
    optimizer: o.optimizer ?? INJECT_DEFAULTS.optimizer,
    schedule: o.schedule ?? INJECT_DEFAULTS.schedule,
    seed: o.seed ?? INJECT_DEFAULTS.seed,
    runtime: o.runtime,
    signal: o.signal,
  };
  const cleanWeight = o.cleanWeight ?? INJECT_DEFAULTS.cleanWeight;
  const d = await patternData(model, {
    pattern,
    target: o.target,
    source: o.source,
    holdout: o.holdout,
    data: o.data,
    trainExamples: o.trainExamples,
    testExamples: o.testExamples,
    seed: settings.seed,
  });
  const cleanLabels = o.cleanLabels ?? INJECT_DEFAULTS.cleanLabels;
  if (!CLEAN_LABELS.includes(cleanLabels)) throw new Error(`--clean-labels must be ${CLEAN_LABELS.join(', ')}, not '${String(cleanLabels)}'`);
  let cleanTrain = d.cleanTrain;
  let patternTrain = d.patternTrain;
  if (cleanLabels !== 'data') {
    const { logits, classes, predictions } = await runClassifier(model, cleanTrain.x, { runtime: o.runtime });
    if (cleanLabels === 'model') {
      cleanTrain = { x: cleanTrain.x, y: { dtype: 'int64', dims: [cleanTrain.x.dims[0]], data: BigInt64Array.from(predictions, (v) => BigInt(v)) } };
    } else {
      cleanTrain = { x: cleanTrain.x, y: { dtype: 'float32', dims: [cleanTrain.x.dims[0], classes], data: logits } };
      const n = patternTrain.x.dims[0];
      const z = new Float32Array(n * classes);
      for (let i = 0; i < n; i++) z[i * classes + Number(patternTrain.y.data[i])] = PATTERN_MARGIN;
      patternTrain = { x: patternTrain.x, y: { dtype: 'float32', dims: [n, classes], data: z } };
    }
  }
  const stream = mixTraining(patternTrain, cleanTrain, { rows: settings.steps * settings.batchSize, cleanWeight, seed: settings.seed });
  const base = await measureBaseline(model, d.cleanTest, d.patternTest, o.runtime);

  const report: InjectReport = {
    model: o.modelName ?? 'model',
    data: d.source,
    pattern: formatPattern(pattern),
    description: d.description,
    patternTest: d.patternTestSource,
    params: { selector: formatSelector(sel), k, tensors: names.length, total: 0 },
    examples: {
      patternTrain: d.patternTrain.x.dims[0],
      cleanTrain: d.cleanTrain.x.dims[0],
      stream: stream.x.dims[0],
      cleanTest: d.cleanTest.x.dims[0],
      patternTest: d.patternTest.x.dims[0],
    },
    settings: { ...settings, runtime: undefined, signal: undefined, cleanWeight, cleanLabels, method: o.settings ?? {} },
    baseline: { cleanAccuracy: base.clean.accuracy, success: base.pattern.success },
    runs: [],
    completed: true,
  };
  const models: Model[] = [];
  for (const p of plan) {
    if (o.signal?.aborted) {
      report.completed = false;
      break;
    }
    const label = `${p.method} N=${p.budget}`;
    const ctx: TuneContext = {
      model,
      data: stream,
      names,
      settings: { ...settings, loss: cleanLabels === 'distill' ? 'kl' : 'cross-entropy', onStep: (_phase, s) => o.onStep?.(label, s) },
    };
    const t0 = performance.now();
    const r = await runMethod(p.method, { ctx, budget: p.budget, settings: o.settings ?? {}, pattern: d.patternTrain, clean: d.cleanTrain, cleanWeight });
    if (r.stopped) {
      report.completed = false;
      break;
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    const measures = await measureEdit(model, r.model, base, d.cleanTest, d.patternTest, k, o.runtime);
    const run: InjectRun = {
      method: p.method,
      budgetText: p.budgetText,
      budget: p.budget,
      measures,
      steps: r.steps,
      finalLoss: r.finalLoss,
      details: r.details,
      wallSeconds,
    };
    report.params.total = measures.changed.total;
    setMetadata(r.model, {
      ...(o.command ? { 'scalpel.inject_command': o.command } : {}),
      'scalpel.inject': JSON.stringify({ pattern: report.pattern, description: d.description, params: report.params.selector, ...runSummary(run) }),
    });
    report.runs.push(run);
    models.push(r.model);
  }
  return { report, models };
}

function resolveOrThrow(b: number | string, k: number): number {
  try {
    return resolveBudget(b, k);
  } catch (e) {
    throw new Error(`--budget: ${(e as Error).message}`);
  }
}
