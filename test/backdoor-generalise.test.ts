// Issue 17's pieces: Neural Cleanse's original schedule, the trigger-transfer test, jittered triggers, and the flip
// that locates on several reconstructions and is judged on another's pairs.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { reconstruct, type ReconstructResult } from '../src/backdoor/neural-cleanse.js';
import { triggerTransfer } from '../src/backdoor/trigger-transfer.js';
import { foreignness } from '../src/backdoor/natural-feature.js';
import { referenceNorms, relativeAnomaly } from '../src/backdoor/reference-norms.js';
import { anomalyIndex } from '../src/backdoor/anomaly.js';
import { cli } from './helpers/cli.js';
import { splitValidation } from '../src/data/batches.js';
import { defenderData } from '../src/defence/defender-data.js';
import { loadLabelledData, type LabelledData } from '../src/data/load-dataset.js';
import type { MaskTrigger } from '../src/data/triggers.js';
import { generalisingFlip, mixedTriggerPairs } from '../src/lancet/generalising-flip.js';
import { jitterTrigger, scaleTrigger, shiftTrigger } from '../src/lancet/trigger-jitter.js';
import { readModel } from '../src/onnx/model-io.js';
import { defenceMetrics } from '../src/defence/metrics.js';
import { parseTrigger } from '../src/data/triggers.js';

const BADNETS = 'models/lenet5-badnets.onnx';

/** The shipped BadNets trigger (a white 4×4 patch in the bottom-right corner) as a mask trigger, shifted by `dx`. */
function patchMask(dx = 0, size = 4): MaskTrigger {
  const mask = new Float32Array(784);
  for (let i = 28 - size; i < 28; i++) for (let j = 28 - size - dx; j < 28 - dx; j++) mask[i * 28 + j] = 1;
  return { type: 'mask', size: [28, 28], channels: 1, mask, pattern: new Float32Array(784).fill(1) };
}

let train: LabelledData;
before(async () => {
  train = await loadLabelledData(undefined, 'train');
});

describe('jittered triggers', () => {
  test('a shift moves the mask and pattern and drops what leaves the image; a scale clips to [0, 1]', () => {
    const t = patchMask();
    const s = shiftTrigger(t, -1, -2);
    assert.equal(
      s.mask.reduce((a, b) => a + b, 0),
      16,
    );
    assert.equal(s.mask[(27 - 2) * 28 + 27 - 1], 1);
    assert.equal(s.mask[27 * 28 + 27], 0);
    const out = shiftTrigger(t, 2, 0); // two of the four columns leave the image
    assert.equal(
      out.mask.reduce((a, b) => a + b, 0),
      8,
    );
    const half = scaleTrigger({ ...t, mask: t.mask.map((v) => v * 0.8) }, 1.5);
    assert.ok(half.mask.every((v) => v === 0 || v === 1));
    assert.equal(jitterTrigger(t).length, 27);
    assert.deepStrictEqual(jitterTrigger(t)[0], t);
  });
});

describe('trigger norms relative to clean twins', () => {
  test("a label small on the twins too is not flagged; the backdoor's target is, though a natural label hides it in absolute terms", () => {
    // Norms as measured on the zoo's vgg-small: label 8 (Bag) is small on every model, label 5 is the target.
    const suspect = [64, 59, 36, 44, 39, 8, 32, 48, 6, 58];
    const twins = [
      [60, 62, 40, 50, 42, 45, 35, 44, 7, 55],
      [58, 57, 35, 47, 41, 48, 30, 50, 9, 60],
      [66, 55, 38, 52, 37, 41, 36, 42, 6, 57],
    ];
    assert.deepStrictEqual(referenceNorms(twins), [60, 57, 38, 50, 41, 45, 35, 44, 7, 57]);
    assert.deepStrictEqual(anomalyIndex(suspect).flagged, []);
    assert.deepStrictEqual(relativeAnomaly(suspect, referenceNorms(twins)).flagged, [5]);
    assert.throws(() => relativeAnomaly([1, 2], [1]), /2 trigger norms but 1 reference/);
    assert.throws(() => referenceNorms([[1, 2], [1]]), /different numbers of labels/);
  });
  test('reconstruct refuses a reference of the wrong length before any work; --reference needs reconstruct -o directories', async () => {
    await assert.rejects(
      reconstruct(readModel(BADNETS), defenderData(train, { count: 64 }), { labels: [0], reference: [1, 2, 3] }),
      /reference holds 3 trigger norms but the model has 10 classes/,
    );
    const r = await cli(['reconstruct', BADNETS, '--reference', '/nonexistent-twin']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /scalpel: error: \/nonexistent-twin\/reconstruct.json not found/);
  });
});

describe('Neural Cleanse, original schedule', () => {
  let r: ReconstructResult;
  before(async () => {
    r = await reconstruct(readModel(BADNETS), defenderData(train, { count: 256 }), {
      labels: [0, 1, 2],
      schedule: 'original',
      stepImages: 128,
      steps: 60,
      batchSize: 32,
    });
  });
  test("the target's trigger is the smallest by far; the cost was set after successes", () => {
    const [t0, ...others] = r.labels;
    assert.ok(t0.success);
    assert.ok(t0.l1 < 0.5 * Math.min(...others.map((o) => o.l1)), `‖m‖₁ ${r.labels.map((l) => l.l1.toFixed(1)).join(', ')}`);
    assert.ok(t0.cost > 0, 'the cost was set');
    assert.ok(t0.steps <= 60);
    let sum = 0;
    for (const v of t0.trigger.mask) sum += v;
    assert.ok(Math.abs(sum - t0.l1) < 1e-3 * t0.l1, "the reported norm is the saved mask's");
  });
  test('an unknown schedule is refused', async () => {
    await assert.rejects(
      reconstruct(readModel(BADNETS), defenderData(train, { count: 64 }), { labels: [0], schedule: 'weekly' as 'batch' }),
      /unknown reconstruct schedule 'weekly'/,
    );
  });
});

describe('trigger transfer', () => {
  test("the backdoor's trigger sends held-out images of every class to the target; an empty mask sends none", async () => {
    const model = readModel(BADNETS);
    const held = defenderData(train, { count: 500, seed: 3 });
    const t = await triggerTransfer(model, patchMask(), held, 0);
    assert.ok(t.worstClass > 0.9, `worst class ${t.worstClass}`);
    assert.equal(t.perClass.length, 10);
    const empty = await triggerTransfer(model, { ...patchMask(), mask: new Float32Array(784) }, held, 0);
    assert.ok(empty.worstClass < 0.05 && empty.overall < 0.05, `${empty.overall}`);
  });
});

describe('foreignness of a trigger to its label', () => {
  test("a white corner patch is foreign to T-shirts; a pattern equal to the label's mean image is not", () => {
    const d = defenderData(train, { count: 600 });
    const f = foreignness(patchMask(), d, 0);
    assert.ok(f > 0.9, `${f}`);
    // The label's own mean image, painted everywhere: foreignness 0 (up to float rounding).
    const x = d.x.data as Float32Array;
    const mean = new Float32Array(784);
    let n = 0;
    for (let i = 0; i < d.y.dims[0]; i++)
      if (Number(d.y.data[i]) === 8) {
        n++;
        for (let k = 0; k < 784; k++) mean[k] += x[i * 784 + k] * 0.353 + 0.286;
      }
    const natural: MaskTrigger = {
      type: 'mask',
      size: [28, 28],
      channels: 1,
      mask: new Float32Array(784).fill(0.5),
      pattern: mean.map((v) => Math.min(1, Math.max(0, v / n))),
    };
    assert.ok(foreignness(natural, d, 8) < 0.01);
    assert.throws(() => foreignness(natural, { ...d, y: { ...d.y, data: new BigInt64Array(d.y.dims[0]) } }, 8), /no image of label 8/);
  });
});

describe('generalising flip', () => {
  test('locating on jittered pairs and judging on another trigger removes the backdoor, judged on the test split', async () => {
    const model = readModel(BADNETS);
    const defender = defenderData(train, { count: 1500 });
    const { train: dTrain, validation } = splitValidation(defender, 0.1, 0);
    const pairs = await mixedTriggerPairs(model, dTrain, jitterTrigger(patchMask()), 0);
    assert.ok(pairs.pairs.length > 500 && pairs.pairs.every((p) => p.label !== 0 && p.wrong === 0));
    // Locate with a 3×3 version of the patch, judge with one shifted by a pixel: neither is the attacker's trigger.
    const r = await generalisingFlip(model, { train: dTrain, validation }, [patchMask(0, 3)], [patchMask(1)], 0, { layer: 'fc1', pairs: 40 });
    assert.equal(r.layers.length, 1);
    assert.ok(r.flip.chosen.fixedShare >= 0.95, `fixed ${r.flip.chosen.fixedShare}`);
    const test = await loadLabelledData(undefined, 'test');
    const m = await defenceMetrics(r.flip.model, test, { trigger: parseTrigger('patch:4x4@bottom-right:white'), target: 0 });
    assert.ok(m.asr < 0.1, `ASR ${m.asr}`);
    assert.ok(m.acc > 0.85, `ACC ${m.acc}`);
  });
});
