// A second test of a reconstructed trigger: does it send held-out clean images of *every* class to its label?
// A backdoor's trigger overrides the input whatever it shows; a natural feature of a class (a Bag's handle) that the
// optimiser found small may move some classes and not others.
import type { LabelledData } from '../data/load-dataset.js';
import { stampImages, type MaskTrigger } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkDataFits } from '../tasks/classifier.js';
import { matchNormalization } from '../tasks/normalization.js';
import { evaluate } from '../tasks/run.js';
import { modelNormalization } from './neural-cleanse.js';

export interface TriggerTransfer {
  label: number;
  /** Per source class, the share of its stamped images classified as `label` (NaN for a class with no images). */
  perClass: number[];
  /** The smallest share over the source classes other than `label` that have images. */
  worstClass: number;
  /** The share over every stamped image whose class is not `label`. */
  overall: number;
}

/**
 * Stamp a mask-and-pattern trigger on clean images (held out from those it was reconstructed on) and measure, per
 * true class, the share sent to `label`.
 *
 * @param model the image classifier
 * @param trigger the reconstructed trigger (pixel space)
 * @param data the defender's held-out clean images, never the test split
 *
 * @example
 * const t = await triggerTransfer(model, readTriggerFile('nc/label-7.safetensors'), heldOut, 7);
 * t.worstClass; // 0.98 for a backdoor's target, lower for a natural feature
 */
export async function triggerTransfer(
  model: Model,
  trigger: MaskTrigger,
  data: LabelledData,
  label: number,
  runtime?: RuntimeOptions,
): Promise<TriggerTransfer> {
  const d = matchNormalization(model, data);
  checkDataFits(model, d);
  if (d.x.dims[0] === 0) throw new Error(`held-out data ${d.source} is empty`);
  const stamped = stampImages(d.x, trigger, modelNormalization(model, d));
  const r = await evaluate(model, { x: stamped, y: d.y }, { runtime });
  if (label < 0 || label >= r.confusion.length) throw new Error(`label ${label} is out of range for a model with ${r.confusion.length} classes`);
  const perClass = r.confusion.map((row) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n > 0 ? row[label] / n : Number.NaN;
  });
  let hit = 0;
  let total = 0;
  r.confusion.forEach((row, c) => {
    if (c === label) return;
    for (const v of row) total += v;
    hit += row[label];
  });
  const others = perClass.filter((v, c) => c !== label && !Number.isNaN(v));
  if (others.length === 0) throw new Error(`held-out data has no images of a class other than ${label}`);
  return { label, perClass, worstClass: Math.min(...others), overall: hit / total };
}
