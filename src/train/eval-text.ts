// One call behind `scalpel eval` on a text model: a sequence classifier's accuracy, loss, per-class accuracy and
// confusion, or a language model's per-token loss and perplexity.
import { takeRows } from '../data/batches.js';
import { parseTokenTrigger, stampTokens, vocabOf } from '../data/text-trigger.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkClass } from '../tasks/classifier.js';
import type { TextTask } from '../tasks/open.js';
import { type LanguageModelReport, runLanguageModel, runTextClassifier } from '../tasks/run-text.js';
import { loadTextData, type TextSplit } from '../tasks/text-data.js';
import type { EvalClassifierResult } from './eval-classifier.js';

export interface EvalTextOptions {
  /** `--data`: a folder of train/valid/test .safetensors, or one file. */
  data?: string;
  split?: TextSplit;
  /** A token trigger (`token:WORD[@pos]`): also measure the attack success rate on triggered texts of other classes. */
  trigger?: string;
  target?: number;
  /** Seed of the trigger's random positions. */
  seed?: number;
  batchSize?: number;
  runtime?: RuntimeOptions;
  onProgress?: (done: number, total: number) => void;
}

/** A language model's evaluation, with where the data came from. */
export interface EvalLanguageModelResult extends LanguageModelReport {
  kind: 'language-modelling';
  source: string;
  split: TextSplit;
}

/** A sequence classifier's evaluation: the image classifier's report, over text. */
export type EvalTextClassifierResult = Omit<EvalClassifierResult, 'split'> & { kind: 'sequence-classification'; split: TextSplit };

/**
 * Evaluate a text model on a split of its data.
 *
 * @example const r = await evalTextModel(await openTask('test/fixtures/text/lstm-lm.onnx') as TextTask, { data: 'data/text/lm' }); r.perplexity
 */
export async function evalTextModel(task: TextTask, o: EvalTextOptions = {}): Promise<EvalLanguageModelResult | EvalTextClassifierResult> {
  const split = o.split ?? 'test';
  const data = await loadTextData(task, o.data, split);
  const run = { batchSize: o.batchSize, runtime: o.runtime, onProgress: o.onProgress };
  if (task.kind === 'language-modelling') return { kind: task.kind, ...(await runLanguageModel(task.model, data, run)), source: data.source, split };
  const r = await runTextClassifier(task.model, data, run);
  const result: EvalTextClassifierResult = { kind: task.kind, ...r.report!, source: data.source, classNames: data.classNames, split };
  if (o.trigger) {
    const target = o.target ?? 0;
    checkClass(task.classes, target, '--target');
    const trigger = parseTokenTrigger(o.trigger);
    const labels = data.y.data as BigInt64Array;
    const others = Array.from({ length: data.examples }, (_, i) => i).filter((i) => labels[i] !== BigInt(target));
    const stamped = stampTokens(data.inputs, trigger, vocabOf(o.data!), others, o.seed ?? 0);
    const sub = {
      ...data,
      examples: others.length,
      y: takeRows(data.y, others),
      inputs: Object.fromEntries(Object.entries(stamped).map(([k, v]) => [k, takeRows(v, others)])),
    };
    const preds = (await runTextClassifier(task.model, sub, { batchSize: o.batchSize, runtime: o.runtime })).predictions;
    const hit = preds.filter((p) => p === target).length;
    const kept = preds.filter((p, i) => BigInt(p) === (sub.y.data as BigInt64Array)[i]).length;
    result.attack = { trigger: o.trigger, target, examples: others.length, successRate: hit / others.length, robustAccuracy: kept / others.length };
  }
  return result;
}
