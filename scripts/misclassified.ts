/**
 * Write the first N inputs of a data split that a classifier gets wrong, with their true labels, as a safetensors
 * file (`x` normalised as the model expects, `y` int64): the examples file for `scalpel inject --pattern examples:FILE`
 * (model editing: correct chosen instances).
 *
 * Usage: node --import tsx scripts/misclassified.ts MODEL.onnx DATA SPLIT N OUT.safetensors
 * e.g.   node --import tsx scripts/misclassified.ts models/resnet20-fashion.onnx fashion-mnist train 200 /tmp/wrong.safetensors
 */
import { takeRows } from '../src/data/batches.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { writeSafetensors } from '../src/data/safetensors.js';
import { readModel } from '../src/onnx/model-io.js';
import { matchNormalization } from '../src/tasks/normalization.js';
import { runClassifier } from '../src/tasks/run.js';

const [modelPath, data, split, count, out] = process.argv.slice(2);
if (!out) throw new Error('usage: misclassified.ts MODEL.onnx DATA train|test N OUT.safetensors');
const model = readModel(modelPath);
const d = matchNormalization(model, await loadLabelledData(data, split as 'train' | 'test'));
const wrong: number[] = [];
const CHUNK = 2000;
for (let start = 0; start < d.x.dims[0] && wrong.length < Number(count); start += CHUNK) {
  const rows = Array.from({ length: Math.min(CHUNK, d.x.dims[0] - start) }, (_, i) => start + i);
  const pred = (await runClassifier(model, takeRows(d.x, rows))).predictions;
  for (let i = 0; i < pred.length && wrong.length < Number(count); i++) if (pred[i] !== Number(d.y.data[start + i])) wrong.push(start + i);
}
await writeSafetensors(
  out,
  new Map([
    ['x', takeRows(d.x, wrong)],
    ['y', takeRows(d.y, wrong)],
  ]),
);
console.log(`${wrong.length} of the first ${wrong.at(-1)! + 1} ${split} examples of ${data} are misclassified by ${modelPath}; wrote ${out}`);
