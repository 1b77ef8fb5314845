// AI-Lancet: locate the few weights behind a backdoor, then repair by flipping the sign of the fewest of them that
// fix it. This example gives the defence the attacker's own trigger, so its numbers are ORACLE results (an honest
// run uses a reconstructed trigger: see examples/reconstruct-repair.mjs and `scalpel locate --errors trigger:FILE`).
// Tiny settings: `node examples/locate-flip.mjs` in a checkout (after `npm ci`) or in any project with scalpel.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { locateErrors, openClassifier, REPAIR_METHODS, repairModel, SHIPPED_MODELS, writeLocated, writeModel } from 'scalpel';

const path = SHIPPED_MODELS['lenet5-badnets'];
const task = await openClassifier(path);
const dir = mkdtempSync(join(tmpdir(), 'scalpel-lancet-'));
const TRIGGER = 'patch:4x4@bottom-right:white';

// 1. Locate: pairs (clean image + trigger, clean image) from 300 defender images, in the first fully-connected layer.
const loc = await locateErrors(task.model, {
  modelPath: path,
  defenderData: '300',
  seed: 0,
  errors: { kind: 'oracle-trigger', spec: TRIGGER },
  pairs: 20,
  layer: 'fc1',
});
const located = join(dir, 'located.json');
await writeLocated(located, loc.file);
console.log(`ORACLE: located ${loc.file.weights.length} weights of layer ${loc.file.layer} behind the trigger`);

// 2. Flip: negate the fewest located weights that fix the trigger on held-out pairs, within 1 accuracy point.
const flip = REPAIR_METHODS.find((m) => m.name === 'flip');
const { report: rep, model: repaired } = await repairModel(task.model, {
  method: flip,
  defenderData: '300',
  seed: 0,
  oracle: { trigger: TRIGGER, target: 0 },
  training: { epochs: 1, lr: 0.01, batchSize: 32, frozenBatchNorm: false },
  options: { located, flipMaxDrop: 0.01 },
});
writeModel(repaired, join(dir, 'flipped.onnx')); // the library returns the model; the caller writes it
const pct = (x) => `${(100 * x).toFixed(1)}%`;
console.log(
  `ORACLE: flipped ${rep.changedParams} weights; ASR ${pct(rep.before.asr)} -> ${pct(rep.after.asr)}, ACC ${pct(rep.before.acc)} -> ${pct(rep.after.acc)}`,
);
