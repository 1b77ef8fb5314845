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
//
// --clusters: the paper's full procedure, group by group (src/lancet/defect-repair.ts): A's misclassified images are
// paired (all of them, up to --pairs), grouped by confusion (true → predicted; groups of at least --min-pairs, at most
// --max-clusters), each group located in --layer (a name; 'auto' takes the layer `locate` chooses on all pairs), its
// --top most located weights tuned on its errors + --similar × as many training images that lean on those weights
// most (from --pool candidates of its two classes in the training split) + --clean of A's correct images; the same
// plan with as many random weights per group is the baseline, and the plan without similar images an ablation.
// --fisher K ranks each group's located weights by count / √(F + ε) (F: the layer's clean Fisher on K training images,
// ε = --fisher-epsilon × mean F) instead of by count. --validate splits A itself in two (A1 repairs, A2 is measured) so that settings are chosen without reading B.
import { parseArgs } from 'node:util';
import { takeRows, type Dataset } from '../src/data/batches.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { misclassifiedPairs } from '../src/lancet/blur-pairs.js';
import { locate } from '../src/lancet/locate.js';
import { concatData, neuronFinetune, randomIndices, type TunedWeights } from '../src/lancet/neuron-finetune.js';
import { runClassifier } from '../src/tasks/run.js';
import { readModel } from '../src/onnx/model-io.js';
import { configureRuntime } from '../src/runtime/session.js';
import { Rng } from '../src/tensor/rng.js';
import { progress } from '../src/cli/progress.js';
import { findLayer } from '../src/lancet/layers.js';
import { planDefectRepair, repairDefects } from '../src/lancet/defect-repair.js';
import { matchNormalization } from '../src/tasks/normalization.js';
import type { Model } from '../src/onnx/ir.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: 'fashion-mnist' },
    seed: { type: 'string', default: '1' },
    pairs: { type: 'string', default: '100' },
    layer: { type: 'string', default: 'auto' },
    clean: { type: 'string', default: '1000' },
    epochs: { type: 'string', default: '10' },
    lr: { type: 'string', default: '1e-2' },
    top: { type: 'string' },
    clusters: { type: 'boolean' },
    'min-pairs': { type: 'string', default: '10' },
    'max-clusters': { type: 'string', default: '8' },
    similar: { type: 'string', default: '1' },
    pool: { type: 'string', default: '1000' },
    validate: { type: 'boolean' },
    fisher: { type: 'string' },
    'fisher-epsilon': { type: 'string', default: '0.01' },
    'min-count': { type: 'string', default: '1' },
    'plain-lr': { type: 'string' },
    threads: { type: 'string', default: '1' },
    json: { type: 'boolean' },
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
let rowsA = order.slice(0, half).sort();
let rowsB = order.slice(half).sort();
if (a.validate) {
  // Choosing settings: A alone, split again; B is not read.
  const inner = new Rng(seed + 5).permutation(rowsA.length);
  const q = Math.floor(rowsA.length / 2);
  rowsB = Uint32Array.from(inner.slice(q), (i) => rowsA[i]).sort();
  rowsA = Uint32Array.from(inner.slice(0, q), (i) => rowsA[i]).sort();
}
const A = { ...test, x: takeRows(test.x, rowsA), y: takeRows(test.y, rowsA), source: `${test.source} half A` };
const B: Dataset = { x: takeRows(test.x, rowsB), y: takeRows(test.y, rowsB) };

const labels = (d: Dataset) => Array.from(d.y.data as BigInt64Array, Number);
const predA = (await runClassifier(model, A.x)).predictions;
const yA = labels(A);
const wrongA = yA.flatMap((y, i) => (predA[i] !== y ? [i] : []));
const rightA = yA.flatMap((y, i) => (predA[i] === y ? [i] : []));
const predB0 = (await runClassifier(model, B.x)).predictions;
const yB = labels(B);
const wrongB = yB.flatMap((y, i) => (predB0[i] !== y ? [i] : []));

const bar = progress({ stderr: process.stderr } as never);
const onProgress = (stage: string, done: number, total: number) => bar.update(stage, done, total);
if (a.clusters) {
  await clusterRun();
  bar.stop();
  process.exit(0);
}

const t0 = performance.now();
const set = await misclassifiedPairs(model, A, { limit: Number(a.pairs), seed, onProgress: (d, t) => onProgress('blur-mask search', d, t) });
const loc = await locate(model, set, { layer: a.layer, onProgress: (l, d, t) => onProgress(`locate ${l}`, d, t) });
const chosen = loc.layers.find((l) => l.layer === loc.chosen)!;
const located = chosen.weights
  .filter((w) => w.count >= Number(a['min-count']))
  .slice(0, a.top ? Number(a.top) : undefined)
  .map((w) => w.index);
const locateSeconds = (performance.now() - t0) / 1000;

const cleanRows = new Rng(seed + 1).shuffle([...rightA]).slice(0, Number(a.clean));
const tuneData = concatData([
  { x: takeRows(A.x, wrongA), y: takeRows(A.y, wrongA) },
  { x: takeRows(A.x, cleanRows), y: takeRows(A.y, cleanRows) },
]);

async function measure(m: Model) {
  const p = (await runClassifier(m, B.x)).predictions;
  let right = 0;
  for (let i = 0; i < yB.length; i++) if (p[i] === yB[i]) right++;
  let fixed = 0;
  for (const i of wrongB) if (p[i] === yB[i]) fixed++;
  return { accB: right / yB.length, accBWrong: fixed / wrongB.length };
}
const rows: Record<string, unknown>[] = [];
const run = async (name: string, w: TunedWeights, count: number, lr = Number(a.lr)) => {
  const t = performance.now();
  const r = await neuronFinetune(model, w, tuneData, { epochs: Number(a.epochs), lr, seed, onStep: (d, t) => onProgress(name, d, t) });
  rows.push({ method: name, weights: count, ...(await measure(r.model)), seconds: (performance.now() - t) / 1000 });
};
rows.push({ method: 'original', weights: 0, ...(await measure(model)), seconds: 0 });
await run('neuron-finetune (located)', { param: chosen.param, indices: located }, located.length);
await run('random weights, same layer and count', { param: chosen.param, indices: randomIndices(chosen.size, located.length, seed) }, located.length);
let total = 0;
for (const i of model.graph.initializers.values()) if (i.tensor?.dtype === 'float32') total += i.tensor.data.length;
await run('plain fine-tuning (every weight)', 'all', total);
if (a['plain-lr']) await run(`plain fine-tuning (every weight), lr ${a['plain-lr']}`, 'all', total, Number(a['plain-lr']));

bar.stop();
const report = {
  model: modelPath,
  seed,
  validate: !!a.validate,
  halves: { A: rowsA.length, B: rowsB.length },
  misclassifiedA: wrongA.length,
  misclassifiedB: wrongB.length,
  pairs: set.pairs.length,
  layer: chosen.layer,
  located: located.length,
  layerSize: chosen.size,
  locateSeconds,
  tuneExamples: tuneData.x.dims[0],
  rows,
};
if (a.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(
    `${modelPath}: halves A ${rowsA.length} / B ${rowsB.length} (seed ${seed}); A misclassified ${wrongA.length} (${set.pairs.length} pairs), B misclassified ${wrongB.length}`,
  );
  console.log(
    `located ${located.length} weights of ${chosen.param} (${chosen.size}) in ${locateSeconds.toFixed(1)} s; fine-tuning on ${tuneData.x.dims[0]} images of A`,
  );
  for (const r of rows)
    console.log(
      `  ${String(r.method).padEnd(38)} ${String(r.weights).padStart(7)}  acc(B) ${(100 * (r.accB as number)).toFixed(2)}%  acc(B wrong) ${(100 * (r.accBWrong as number)).toFixed(2)}%  ${(r.seconds as number).toFixed(1)} s`,
    );
}

/** --clusters: locate and repair group by group, with similar images; located against random weights on the same plan. */
async function clusterRun(): Promise<void> {
  const t0 = performance.now();
  const set = await misclassifiedPairs(model, A, { limit: Number(a.pairs), seed, onProgress: (d, t) => onProgress('blur-mask search', d, t) });
  const layerName =
    a.layer === 'auto' ? (await locate(model, set, { layer: 'auto', onProgress: (l, d, t) => onProgress(`locate ${l}`, d, t) })).chosen : a.layer;
  const layer = findLayer(model, layerName);
  const train = matchNormalization(model, await loadLabelledData(a.data, 'train'));
  const plans = await planDefectRepair(model, layer, set, { data: A, predicted: predA }, train, {
    minPairs: Number(a['min-pairs']),
    maxClusters: Number(a['max-clusters']),
    top: a.top ? Number(a.top) : undefined,
    similar: Number(a.similar),
    pool: Number(a.pool),
    seed,
    onProgress,
    fisher: a.fisher ? { examples: Number(a.fisher), epsilon: Number(a['fisher-epsilon']) } : undefined,
  });
  const planSeconds = (performance.now() - t0) / 1000;
  const opts = { cleanRows: rightA, clean: Number(a.clean), epochs: Number(a.epochs), lr: Number(a.lr), seed, onProgress };
  const rows: Record<string, unknown>[] = [{ method: 'original', ...(await measure(model)), seconds: 0 }];
  const tuned = plans.reduce((s, p) => s + p.located.length, 0);
  for (const [method, o] of [
    ['located weights per group, with similar images', { weights: 'located', similar: true }],
    ['random weights per group, with the same images', { weights: 'random', similar: true }],
    ['located weights per group, without similar images', { weights: 'located', similar: false }],
    ['random weights per group, without similar images', { weights: 'random', similar: false }],
  ] as const) {
    const t = performance.now();
    const m = await repairDefects(model, layer, plans, A, train, { ...opts, ...o });
    rows.push({ method, weights: tuned, ...(await measure(m)), seconds: (performance.now() - t) / 1000 });
  }
  bar.stop();
  const covered = plans.reduce((s, p) => s + p.errorRows.length, 0);
  const report = {
    model: modelPath,
    seed,
    validate: !!a.validate,
    halves: { A: rowsA.length, B: rowsB.length },
    misclassifiedA: wrongA.length,
    misclassifiedB: wrongB.length,
    pairs: set.pairs.length,
    layer: layer.name,
    layerSize: layer.size,
    covered,
    planSeconds,
    clusters: plans.map((p) => ({
      key: p.key,
      pairs: p.pairs,
      errors: p.errorRows.length,
      fixedByZeroing: p.fixed,
      located: p.located.length,
      similar: p.similarRows.length,
      meanOverlap: p.meanOverlap,
    })),
    rows,
  };
  if (a.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const part = a.validate ? 'A1 / A2 (validation: B unread)' : 'A / B';
  console.log(
    `${modelPath}: ${part} ${rowsA.length} / ${rowsB.length} (seed ${seed}); misclassified ${wrongA.length} / ${wrongB.length}; ${set.pairs.length} pairs; layer ${layer.name} (${layer.size})`,
  );
  for (const c of report.clusters)
    console.log(
      `  group ${c.key.padEnd(5)} pairs ${String(c.pairs).padStart(3)}  errors ${String(c.errors).padStart(3)}  located ${c.located}  similar ${c.similar} (overlap ${c.meanOverlap.toFixed(3)})`,
    );
  console.log(`  planned in ${planSeconds.toFixed(1)} s; the groups cover ${covered} of ${wrongA.length} errors`);
  for (const r of rows)
    console.log(
      `  ${String(r.method).padEnd(52)} acc ${(100 * (r.accB as number)).toFixed(2)}%  fixed ${(100 * (r.accBWrong as number)).toFixed(2)}% of the misclassified  ${(r.seconds as number).toFixed(1)} s`,
    );
}
