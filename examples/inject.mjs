// Neural network surgery (inject): teach the shipped LeNet-5 a backdoor by changing at most 100 of its 61,706
// parameters, and measure the side effects instance by instance. Tiny settings, so that it runs in seconds:
// `node examples/inject.mjs` in a checkout (after `npm ci`) or in any project that has installed scalpel.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { inject, openClassifier, SHIPPED_MODELS, writeDelta, deltaBetween, writeModel } from 'scalpel';

// Open the classifier: its input, output, classes and input normalisation (recorded in the shipped model).
const task = await openClassifier(SHIPPED_MODELS['lenet5-fashion']);

// Every image stamped with a 4x4 white square must go to class 0; at most 100 parameters may change.
const { report, models } = await inject(task.model, {
  pattern: 'trigger:patch:4x4@bottom-right:white',
  target: 0,
  method: 'dynamic',
  budget: 100,
  steps: 200,
  batchSize: 32,
  trainExamples: 600,
  testExamples: 500, // tiny: the README's runs use the full data
});
const run = report.runs[0];
const pct = (x) => `${(100 * x).toFixed(1)}%`;
console.log(`changed ${run.measures.changed.count} of ${report.params.k} parameters`);
console.log(`pattern success ${pct(run.measures.success.before)} -> ${pct(run.measures.success.after)}`);
console.log(`clean accuracy  ${pct(run.measures.clean.before)} -> ${pct(run.measures.clean.after)}; ${pct(run.measures.consistency)} of predictions unchanged`);

// The edited model, and the exact change as a delta file (`scalpel apply` undoes it bit for bit).
const out = join(tmpdir(), 'lenet5-injected.onnx');
writeModel(models[0], out);
await writeDelta(join(tmpdir(), 'lenet5-injected.delta.safetensors'), deltaBetween(task.model, models[0]));
console.log(`wrote ${out}`);
