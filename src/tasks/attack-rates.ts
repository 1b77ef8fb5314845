// A backdoor's effect on a classifier, measured on stamped images: attack success rate and robust accuracy.
import type { Dataset } from '../data/batches.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { evaluate } from './run.js';

/**
 * ASR and RA of a model on already-stamped images (true labels kept): one pass, both shares.
 *
 * @example const { asr, ra } = await attackRates(model, applyTrigger(test, trigger, { excludeClass: 0 }), 0);
 */
export async function attackRates(
  model: Model,
  stamped: Dataset,
  target: number,
  opts: { batchSize?: number; runtime?: RuntimeOptions; classes?: number } = {},
): Promise<{ asr: number; ra: number; examples: number }> {
  const r = await evaluate(model, stamped, { batchSize: opts.batchSize, runtime: opts.runtime });
  if (target >= r.confusion.length) throw new Error(`target label ${target} is out of range for a model with ${r.confusion.length} classes`);
  let toTarget = 0;
  for (const row of r.confusion) toTarget += row[target];
  return { asr: toTarget / r.examples, ra: r.accuracy, examples: r.examples };
}
