// AI-Lancet's general-defect repair protocol on a clean classifier, end to end (README table, one command per row):
// split the test set into halves A and B by a seed; locate with A's misclassified images; fine-tune only the located
// weights (neuron-finetune) on A's misclassified images plus some of A's correctly classified ones; compare with
// fine-tuning as many random weights of the same layer, and with plain fine-tuning of every weight, on the same data
// and loss. B is touched only for the final measurement: accuracy on B overall and on B's images the original model
// gets wrong.
//
//   node --import tsx scripts/lancet-defect-repair.ts MODEL [--data fashion-mnist] [--seed 1] [--pairs 100] [--layer auto]
//        [--clean 1000] [--epochs 10] [--lr 1e-2] [--min-count 1] [--top N] [--plain-lr R] [--json]
// --min-count keeps the weights located by at least that many pairs; --top the N most often located; --plain-lr adds
// a plain fine-tuning row at another learning rate.
import { parseArgs } from 'node:util';
import { takeRows, type Dataset } from '../src/data/batches.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { misclassifiedPairs } from '../src/lancet/blur-pairs.js';
import { locate } from '../src/lancet/locate.js';
import { concatData, neuronFinetune, randomIndices, type TunedWeights } from '../src/lancet/neuron-finetune.js';
import { predictAll } from '../src/lancet/trigger-pairs.js';
import { readModel } from '../src/onnx/model-io.js';
import { configureRuntime } from '../src/runtime/session.js';
import { Rng } from '../src/tensor/rng.js';
import { matchNormalization } from '../src/tasks/normalization.js';
import type { Model } from '../src/onnx/ir.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: 'fashion-mnist' }, seed: { type: 'string', default: '1' }, pairs: { type: 'string', default: '100' },
    layer: { type: 'string', default: 'auto' }, clean: { type: 'string', default: '1000' }, epochs: { type: 'string', default: '10' },
    lr: { type: 'string', default: '1e-2' }, top: { type: 'string' }, 'min-count': { type: 'string', default: '1' }, 'plain-lr': { type: 'string' }, threads: { type: 'string', default: '1' }, json: { type: 'boolean' },
  },
});
configureRuntime({ threads: Number(a.threads) });
const modelPath = positionals[0];
if (!modelPath) throw new Error('usage: lancet-defect-repair.ts MODEL [options]');
const model = readModel(modelPath);
const seed = Number(a.seed);
const test = matchNormalization(model, await loadLabelledData(a.data, 'test'));
const order = new Rng(seed).permutation(test.x.dims[0]);
const half = Math.floor(order.length / 2);
const rowsA = order.slice(0, half).sort();
const rowsB = order.slice(half).sort();
const A = { ...test, x: takeRows(test.x, rowsA), y: takeRows(test.y, rowsA), source: `${test.source} half A` };
const B: Dataset = { x: takeRows(test.x, rowsB), y: takeRows(test.y, rowsB) };

const labels = (d: Dataset) => Array.from(d.y.data as BigInt64Array, Number);
const predA = await predictAll(model, A.x);
const yA = labels(A);
const wrongA = yA.flatMap((y, i) => (predA[i] !== y ? [i] : []));
const rightA = yA.flatMap((y, i) => (predA[i] === y ? [i] : []));
const predB0 = await predictAll(model, B.x);
const yB = labels(B);
const wrongB = yB.flatMap((y, i) => (predB0[i] !== y ? [i] : []));

const t0 = performance.now();
const set = await misclassifiedPairs(model, A, { limit: Number(a.pairs), seed });
const loc = await locate(model, set, { layer: a.layer });
const chosen = loc.layers.find((l) => l.layer === loc.chosen)!;
const located = chosen.weights.filter((w) => w.count >= Number(a['min-count'])).slice(0, a.top ? Number(a.top) : undefined).map((w) => w.index);
const locateSeconds = (performance.now() - t0) / 1000;

const cleanRows = new Rng(seed + 1).shuffle([...rightA]).slice(0, Number(a.clean));
const tuneData = concatData([{ x: takeRows(A.x, wrongA), y: takeRows(A.y, wrongA) }, { x: takeRows(A.x, cleanRows), y: takeRows(A.y, cleanRows) }]);

async function measure(m: Model) {
  const p = await predictAll(m, B.x);
  let right = 0;
  for (let i = 0; i < yB.length; i++) if (p[i] === yB[i]) right++;
  let fixed = 0;
  for (const i of wrongB) if (p[i] === yB[i]) fixed++;
  return { accB: right / yB.length, accBWrong: fixed / wrongB.length };
}
const rows: Record<string, unknown>[] = [];
const run = async (name: string, w: TunedWeights, count: number, lr = Number(a.lr)) => {
  const t = performance.now();
  const r = await neuronFinetune(model, w, tuneData, { epochs: Number(a.epochs), lr, seed });
  rows.push({ method: name, weights: count, ...(await measure(r.model)), seconds: (performance.now() - t) / 1000 });
};
rows.push({ method: 'original', weights: 0, ...(await measure(model)), seconds: 0 });
await run('neuron-finetune (located)', { param: chosen.param, indices: located }, located.length);
await run('random weights, same layer and count', { param: chosen.param, indices: randomIndices(chosen.size, located.length, seed) }, located.length);
let total = 0;
for (const i of model.graph.initializers.values()) if (i.tensor?.dtype === 'float32') total += i.tensor.data.length;
await run('plain fine-tuning (every weight)', 'all', total);
if (a['plain-lr']) await run(`plain fine-tuning (every weight), lr ${a['plain-lr']}`, 'all', total, Number(a['plain-lr']));

const report = {
  model: modelPath, seed, halves: { A: rowsA.length, B: rowsB.length }, misclassifiedA: wrongA.length, misclassifiedB: wrongB.length,
  pairs: set.pairs.length, layer: chosen.layer, located: located.length, layerSize: chosen.size, locateSeconds, tuneExamples: tuneData.x.dims[0], rows,
};
if (a.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(`${modelPath}: halves A ${rowsA.length} / B ${rowsB.length} (seed ${seed}); A misclassified ${wrongA.length} (${set.pairs.length} pairs), B misclassified ${wrongB.length}`);
  console.log(`located ${located.length} weights of ${chosen.param} (${chosen.size}) in ${locateSeconds.toFixed(1)} s; fine-tuning on ${tuneData.x.dims[0]} images of A`);
  for (const r of rows) console.log(`  ${String(r.method).padEnd(38)} ${String(r.weights).padStart(7)}  acc(B) ${(100 * (r.accB as number)).toFixed(2)}%  acc(B wrong) ${(100 * (r.accBWrong as number)).toFixed(2)}%  ${(r.seconds as number).toFixed(1)} s`);
}
