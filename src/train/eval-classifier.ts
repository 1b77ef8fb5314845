// One call behind `scalpel eval`: accuracy, loss, per-class accuracy, confusion, and attack success rate.
import { loadLabelledData } from '../data/load-dataset.js';
import { applyTrigger, formatTrigger, parseTrigger } from '../data/triggers.js';
import type { Split } from '../data/fashion-mnist.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkDataFits } from '../tasks/classifier.js';
import { matchNormalization } from '../tasks/normalization.js';
import { attackRates } from '../tasks/attack-rates.js';
import { evaluate } from '../tasks/run.js';
import type { ClassificationReport } from '../tasks/classification-metrics.js';

export interface EvalClassifierOptions {
  /** `--data` (default: the embedded subset). */
  data?: string;
  split?: Split;
  /** A trigger spec: also measure the attack success rate on triggered images of other classes than `target`. */
  trigger?: string;
  target?: number;
  batchSize?: number;
  runtime?: RuntimeOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalClassifierResult extends ClassificationReport {
  source: string;
  /** Class names of the dataset read, when it has them. */
  classNames?: string[];
  split: Split;
  /** With a trigger: the share of triggered non-target images classified as the target. */
  /**
   * With a trigger: on triggered copies of the images whose class is not the target, the share classified as the
   * target (attack success rate, ASR) and the share still classified as their true class (robust accuracy, RA).
   */
  attack?: { trigger: string; target: number; examples: number; successRate: number; robustAccuracy: number };
}

/**
 * Evaluate a classifier on a dataset split, optionally with a backdoor trigger.
 *
 * @example const r = await evalClassifier(model, { data: 'fashion-mnist', trigger: 'patch:4x4@bottom-right:white', target: 0 });
 */
export async function evalClassifier(model: Model, o: EvalClassifierOptions = {}): Promise<EvalClassifierResult> {
  const split = o.split ?? 'test';
  const data = matchNormalization(model, await loadLabelledData(o.data, split));
  checkDataFits(model, data);
  const clean = await evaluate(model, data, { batchSize: o.batchSize, runtime: o.runtime, onProgress: o.onProgress });
  const result: EvalClassifierResult = { ...clean, source: data.source, classNames: data.classNames, split };
  if (o.trigger) {
    const target = o.target ?? 0;
    const trigger = parseTrigger(o.trigger);
    const stamped = applyTrigger(data, trigger, { excludeClass: target });
    const r = await attackRates(model, stamped, target, { batchSize: o.batchSize, runtime: o.runtime, classes: clean.confusion.length });
    result.attack = { trigger: formatTrigger(trigger), target, examples: r.examples, successRate: r.asr, robustAccuracy: r.ra };
  }
  return result;
}
