// Backdoor defence with the defender's data only: reconstruct a trigger per label (Neural Cleanse), flag the outlier,
// then unlearn the flagged trigger, and judge the repair on the test split (ACC, ASR, RA, DER). Tiny settings, so
// that it runs in about a minute; the README's runs use 1,000 steps and 5% of the training split.
// `node examples/reconstruct-repair.mjs` in a checkout (after `npm ci`) or in any project that has installed scalpel.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadDefenderData, openClassifier, reconstruct, REPAIR_METHODS, repairModel, SHIPPED_MODELS, writeModel, writeReconstruction } from 'scalpel';

const path = SHIPPED_MODELS['lenet5-badnets'];
const task = await openClassifier(path);
const dir = mkdtempSync(join(tmpdir(), 'scalpel-nc-'));

// 1. Reconstruct: the smallest trigger sending the defender's clean images to each label; flag outliers.
const defender = await loadDefenderData({ defenderData: '300', seed: 0 }); // 300 images of the training split
const r = await reconstruct(task.model, defender, { steps: 150, batchSize: 32, seed: 0 });
console.log(`mask L1 per label: ${r.labels.map((l) => l.l1.toFixed(0)).join(' ')}; flagged: ${r.flagged.join(', ') || 'none'}`);
await writeReconstruction(dir, r, task.model, { model: path });

// 2. Repair: unlearn the flagged trigger (fine-tune on stamped defender images with their true labels).
if (r.flagged.length === 0) {
  console.log('no label flagged: nothing to unlearn at these tiny settings');
} else {
  const unlearn = REPAIR_METHODS.find((m) => m.name === 'unlearn');
  const { report: rep, model: repaired } = await repairModel(task.model, {
    method: unlearn,
    defenderData: '300',
    seed: 0,
    triggersDir: dir,
    training: { epochs: 1, lr: 0.01, batchSize: 32, frozenBatchNorm: false },
  });
  const out = join(dir, 'repaired.onnx');
  writeModel(repaired, out); // the library returns the model; the caller writes it
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `before: ACC ${pct(rep.before.acc)}, ASR ${pct(rep.before.asr)}; after: ACC ${pct(rep.after.acc)}, ASR ${pct(rep.after.asr)}; DER ${rep.der.toFixed(3)}`,
  );
  console.log(`wrote ${out}`);
}
