// How a backdoor defence is judged: clean accuracy (ACC), attack success (ASR), robust accuracy (RA), and DER.
import type { Dataset } from '../data/batches.js';
import type { LabelledData } from '../data/load-dataset.js';
import { applyTrigger, formatTrigger, type Normalization, type Trigger } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { matchNormalization } from '../tasks/normalization.js';
import { evaluate } from '../tasks/run.js';
import { attackRates } from '../tasks/attack-rates.js';

export interface DefenceMetrics {
  /** Clean accuracy on every test example. */
  acc: number;
  /** Attack success rate: share of stamped test images whose true class is not the target classified as the target. */
  asr: number;
  /** Robust accuracy: share of the same stamped images classified as their true class. */
  ra: number;
  /** Clean test examples. */
  examples: number;
  /** Stamped examples (the test examples whose true class is not the target). */
  stampedExamples: number;
  trigger: string;
  target: number;
}

export interface DefenceMetricsOptions {
  /** The attacker's trigger (measurement only: a defence never sees it). */
  trigger: Trigger;
  target: number;
  batchSize?: number;
  runtime?: RuntimeOptions;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Measure a (possibly defended) model on the test split: ACC on every clean image; ASR and RA on stamped copies of
 * the images whose true class is not the target (ASR: predicted as the target; RA: predicted as the true class).
 * The images are first re-normalised to what the model's metadata records.
 *
 * @example
 * const test = await loadLabelledData('fashion-mnist', 'test');
 * const m = await defenceMetrics(model, test, { trigger: parseTrigger('patch:4x4@bottom-right:white'), target: 0 });
 * // { acc: 0.9069, asr: 0.9983, ra: 0.0012, … }
 */
export async function defenceMetrics(model: Model, testData: LabelledData, o: DefenceMetricsOptions): Promise<DefenceMetrics> {
  if (!Number.isInteger(o.target) || o.target < 0) throw new Error(`target label must be a non-negative integer, got ${o.target}`);
  const data = matchNormalization(model, testData);
  const n = data.x.dims[0];
  if (n === 0) throw new Error(`${data.source} is empty`);
  const stamped = applyTrigger(data, o.trigger, { excludeClass: o.target, normalization: data.normalization as Normalization | undefined });
  const total = n + stamped.x.dims[0];
  const clean = await evaluate(model, data, { batchSize: o.batchSize, runtime: o.runtime, onProgress: (d) => o.onProgress?.(d, total) });
  const classes = clean.confusion.length;
  if (o.target >= classes) throw new Error(`target label ${o.target} is out of range for a model with ${classes} classes`);
  if (stamped.x.dims[0] === 0) throw new Error(`${data.source} holds no example whose class is not the target ${o.target}`);
  const rates = await attackRates(model, stamped, o.target, { batchSize: o.batchSize, runtime: o.runtime, classes });
  o.onProgress?.(total, total);
  return {
    acc: clean.accuracy,
    asr: rates.asr,
    ra: rates.ra,
    examples: n,
    stampedExamples: rates.examples,
    trigger: formatTrigger(o.trigger),
    target: o.target,
  };
}

/**
 * The defence effectiveness rating of a defended model against the backdoored one:
 * DER = [max(0, ΔASR) − max(0, ΔACC) + 1] / 2 with Δ = backdoored − defended, in [0, 1]; 0.5 means no change,
 * 1 means the attack removed at no cost in accuracy.
 *
 * @example der({ acc: 0.91, asr: 0.99 }, { acc: 0.89, asr: 0.05 }); // (0.94 − 0.02 + 1) / 2 = 0.96
 */
export function der(backdoored: { acc: number; asr: number }, defended: { acc: number; asr: number }): number {
  const dAsr = backdoored.asr - defended.asr;
  const dAcc = backdoored.acc - defended.acc;
  return (Math.max(0, dAsr) - Math.max(0, dAcc) + 1) / 2;
}
