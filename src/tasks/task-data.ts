// The data a command feeds a task's model: loaded, re-normalised to the model's normalisation, and checked to fit.
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';
import type { Split } from '../data/fashion-mnist.js';
import type { Model } from '../onnx/ir.js';
import { checkDataFits, classifierIO, type ClassifierIO } from './classifier.js';
import { matchNormalization } from './normalization.js';

/**
 * Labelled data made ready for a classifier: re-normalised to the normalisation recorded on the model, and checked to
 * fit its input and classes (one clear error otherwise).
 *
 * @example const test = fitData(model, await loadLabelledData('fashion-mnist', 'test'));
 */
export function fitData(model: Model, data: LabelledData, io: ClassifierIO = classifierIO(model)): LabelledData {
  const fitted = matchNormalization(model, data);
  checkDataFits(io, fitted);
  return fitted;
}

/**
 * Load a split of `--data` for a classifier (see `loadLabelledData`), re-normalised and checked as `fitData` does.
 *
 * @example const test = await loadTaskData(task.opened.model, 'fashion-mnist', 'test');
 */
export async function loadTaskData(model: Model, spec: string | undefined, split: Split): Promise<LabelledData> {
  return fitData(model, await loadLabelledData(spec, split));
}
