// Every edit as an exact, reversible delta: compare two models, save what changed, apply it to the base model,
// and revert it, bit for bit. Here the shipped LeNet-5 against its corruption-hardened fine-tune.
// `node examples/diff-apply.mjs` in a checkout (after `npm ci`) or in any project that has installed scalpel.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { applyDelta, changedCount, diffModels, paramsHash, readDelta, readModel, SHIPPED_MODELS, writeDelta } from 'scalpel';

const base = readModel(SHIPPED_MODELS['lenet5-fashion']);
const hardened = readModel(SHIPPED_MODELS['lenet5-fashion-hardened']);

// What differs: bitwise, by tensor and by layer, with the norms of the change.
const { report, delta } = diffModels(base, hardened, { top: 3 });
console.log(`${report.changed} of ${report.params.entries} entries differ (${(100 * report.fraction).toFixed(1)}%)`);
for (const l of report.byLayer) console.log(`  layer ${l.group}: ${l.changed} of ${l.size}`);

// The delta as a file (safetensors: indices, before and after per tensor), read back and applied to the base.
const file = join(tmpdir(), 'lenet5-hardening.delta.safetensors');
await writeDelta(file, delta);
const saved = await readDelta(file);
const edited = applyDelta(base, saved);
console.log(`applied ${changedCount(saved)} entries: ${paramsHash(edited) === paramsHash(hardened) ? 'the hardened parameters exactly' : 'MISMATCH'}`);

// Reverting gives back the original bytes.
const back = applyDelta(edited, saved, { revert: true });
console.log(`reverted: ${paramsHash(back) === paramsHash(base) ? 'the original parameters exactly' : 'MISMATCH'}`);
