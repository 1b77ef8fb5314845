// The pieces every backdoor defence shares: the defender's data, trigger files, and the ACC/ASR/RA/DER judging.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.js';
import { defenderData, loadDefenderData, parseDefenderSpec } from '../src/defence/defender-data.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { readTriggerFile, writeTriggerFile } from '../src/data/trigger-file.js';
import { applyTrigger, formatTrigger, parseTrigger, stampImages, type MaskTrigger } from '../src/data/triggers.js';
import { readModel } from '../src/onnx/model-io.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { defenceMetrics, der } from '../src/defence/metrics.js';

const BADNETS = 'models/lenet5-badnets.onnx';
const PATCH = 'patch:4x4@bottom-right:white';
const NORM = { mean: 0.286, std: 0.353 };

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-defence-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function rowHashes(x: HostTensor): string[] {
  const len = x.dims.slice(1).reduce((a, b) => a * b, 1);
  const d = x.data as Float32Array;
  return Array.from({ length: x.dims[0] }, (_, i) =>
    createHash('sha1')
      .update(d.subarray(i * len, (i + 1) * len))
      .digest('hex'),
  );
}

/** The BadNets patch as a mask-and-pattern trigger: mask 1 on the 4×4 bottom-right square, pattern white there. */
function patchAsMask(h = 28, w = 28): MaskTrigger {
  const mask = new Float32Array(h * w);
  const pattern = new Float32Array(h * w);
  for (let i = h - 4; i < h; i++)
    for (let j = w - 4; j < w; j++) {
      mask[i * w + j] = 1;
      pattern[i * w + j] = 1;
    }
  return { type: 'mask', size: [h, w], channels: 1, mask, pattern };
}

describe('defender data', () => {
  test('a seeded 5% of the training split: same seed same rows, another seed other rows, rows are the training rows', async () => {
    const train = await loadLabelledData(undefined, 'train');
    const a = defenderData(train, { seed: 3 });
    const b = defenderData(train, { seed: 3 });
    const c = defenderData(train, { seed: 4 });
    assert.equal(a.x.dims[0], Math.round(0.05 * train.x.dims[0]));
    assert.deepStrictEqual(a.indices, b.indices);
    assert.notDeepStrictEqual(a.indices, c.indices);
    const all = rowHashes(train.x);
    rowHashes(a.x).forEach((h, i) => assert.equal(h, all[a.indices[i]]));
    assert.deepStrictEqual(
      Array.from(a.y.data as BigInt64Array),
      Array.from(a.indices, (r) => (train.y.data as BigInt64Array)[r]),
    );
    assert.equal(defenderData(train, { count: 17 }).x.dims[0], 17);
  });

  test('never holds a test image', async () => {
    const test = new Set(rowHashes((await loadLabelledData(undefined, 'test')).x));
    const d = await loadDefenderData({ defenderData: '0.5', seed: 1 });
    assert.equal(d.x.dims[0], 2000);
    for (const h of rowHashes(d.x)) assert.ok(!test.has(h), 'a defender image is a test image');
  });

  test('flag values: fraction, percentage, count, file; bad ones are clear errors', async () => {
    assert.deepStrictEqual(parseDefenderSpec('0.1'), { kind: 'share', fraction: 0.1 });
    assert.deepStrictEqual(parseDefenderSpec('10%'), { kind: 'share', fraction: 0.1 });
    assert.deepStrictEqual(parseDefenderSpec('300'), { kind: 'share', count: 300 });
    assert.deepStrictEqual(parseDefenderSpec('d.npz'), { kind: 'file', path: 'd.npz' });
    assert.deepStrictEqual(parseDefenderSpec(undefined), { kind: 'share' });
    assert.deepStrictEqual(parseDefenderSpec('all'), { kind: 'share', fraction: 1 });
    await assert.rejects(loadDefenderData({ defenderData: '0' }), /defenderData '0' is not a count/);
    await assert.rejects(loadDefenderData({ defenderData: '0..5' }), /defenderData '0\.\.5' is not a count/);
    await assert.rejects(loadDefenderData({ defenderData: '99999' }), /asked for 99999 examples but .* has 4000/);
    await assert.rejects(loadDefenderData({ defenderData: join(dir, 'missing.npz') }), /defenderData: .*missing.npz not found/);
    const train = await loadLabelledData(undefined, 'train');
    assert.equal(defenderData(train, { fraction: 0.0001 }).x.dims[0], 1, 'a share rounds to at least one example');
    assert.throws(() => defenderData(train, { fraction: 1.5 }), /fraction must be in \(0, 1\]/);
  });
});

describe('trigger files', () => {
  test('round trip through safetensors, and parseTrigger(file:) reads it', async () => {
    const t = patchAsMask();
    t.mask[3] = 0.25;
    t.pattern[5] = 0.75;
    const path = join(dir, 'trigger.safetensors');
    await writeTriggerFile(path, t, { label: '0' });
    const back = readTriggerFile(path);
    assert.deepStrictEqual(Array.from(back.mask), Array.from(t.mask));
    assert.deepStrictEqual(Array.from(back.pattern), Array.from(t.pattern));
    assert.deepStrictEqual(back.size, [28, 28]);
    const parsed = parseTrigger(`file:${path}`);
    assert.equal(parsed.type, 'mask');
    assert.equal(formatTrigger(parsed), `file:${path}`);
  });

  test('stamps (1 − m)⊙x + m⊙p in pixel space: a 0/1 mask of the BadNets square equals the patch; a half mask averages', async () => {
    const test = await loadLabelledData(undefined, 'test');
    const viaPatch = stampImages(test.x, parseTrigger(PATCH), NORM).data as Float32Array;
    const viaMask = stampImages(test.x, patchAsMask(), NORM).data as Float32Array;
    for (let i = 0; i < viaPatch.length; i++) assert.ok(Math.abs(viaPatch[i] - viaMask[i]) < 1e-6, `value ${i}`);
    const half: MaskTrigger = { type: 'mask', size: [28, 28], channels: 1, mask: new Float32Array(784).fill(0.5), pattern: new Float32Array(784).fill(1) };
    const x = test.x.data as Float32Array;
    const h = stampImages(test.x, half, NORM).data as Float32Array;
    for (const i of [0, 100, 5000, 783999]) {
      const pixel = x[i] * NORM.std + NORM.mean;
      assert.ok(Math.abs(h[i] * NORM.std + NORM.mean - (0.5 * pixel + 0.5)) < 1e-5);
    }
  });

  test('bad files: wrong size for the images, values out of range, missing tensors', async () => {
    const small = join(dir, 'small.safetensors');
    await writeTriggerFile(small, patchAsMask(32, 32));
    const test = await loadLabelledData(undefined, 'test');
    assert.throws(() => applyTrigger(test, parseTrigger(`file:${small}`)), /is 32×32 with 1 channel\(s\) but the images are 28×28 with 1/);
    const bad = patchAsMask();
    bad.mask[0] = 1.5;
    const out = join(dir, 'bad.safetensors');
    await writeTriggerFile(out, bad);
    assert.throws(() => parseTrigger(`file:${out}`), /mask value 1.5 at index 0 is not in \[0, 1\]/);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, 'not a file');
    assert.throws(() => parseTrigger(`file:${junk}`), /is not a valid safetensors file/);
    assert.throws(() => parseTrigger(`file:${join(dir, 'none.safetensors')}`), /trigger file not found/);
    const r = await cli(['eval', BADNETS, '--trigger', `file:${small}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^scalpel: error: trigger .*small.safetensors is 32×32 .* but the images are 28×28/);
  });
});

describe('judging a defence', () => {
  test('DER = [max(0, ΔASR) − max(0, ΔACC) + 1] / 2 with Δ = backdoored − defended', () => {
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);
    close(der({ acc: 0.91, asr: 0.99 }, { acc: 0.89, asr: 0.05 }), (0.94 - 0.02 + 1) / 2);
    close(der({ acc: 0.9, asr: 0.9 }, { acc: 0.9, asr: 0.9 }), 0.5);
    close(der({ acc: 0.9, asr: 0.5 }, { acc: 0.95, asr: 0.7 }), 0.5); // both changes for the better/worse clipped at 0
    close(der({ acc: 0.9, asr: 1 }, { acc: 0.9, asr: 0 }), 1);
    close(der({ acc: 1, asr: 0 }, { acc: 0, asr: 0 }), 0);
  });

  test('ACC, ASR and RA of the shipped BadNets LeNet-5 agree with a count of its own predictions, and with eval', async () => {
    const model = readModel(BADNETS);
    const test = await loadLabelledData(undefined, 'test');
    const m = await defenceMetrics(model, test, { trigger: parseTrigger(PATCH), target: 0 });
    const y = Array.from(test.y.data as BigInt64Array, Number);
    const nonTarget = y.filter((v) => v !== 0).length;
    assert.equal(m.examples, 1000);
    assert.equal(m.stampedExamples, nonTarget);
    const exe = await compile(model);
    const argmax = (logits: Float32Array, i: number) => {
      let b = 0;
      for (let k = 1; k < 10; k++) if (logits[i * 10 + k] > logits[i * 10 + b]) b = k;
      return b;
    };
    const clean = (await exe.run({ x: test.x }))['logits'].data as Float32Array;
    const stamped = applyTrigger(test, parseTrigger(PATCH), { excludeClass: 0 });
    const bad = (await exe.run({ x: stamped.x }))['logits'].data as Float32Array;
    const sy = Array.from(stamped.y.data as BigInt64Array, Number);
    assert.equal(m.acc, y.filter((v, i) => argmax(clean, i) === v).length / 1000);
    assert.equal(m.asr, sy.filter((_, i) => argmax(bad, i) === 0).length / nonTarget);
    assert.equal(m.ra, sy.filter((v, i) => argmax(bad, i) === v).length / nonTarget);
    assert.ok(m.asr > 0.9 && m.ra < 0.1, `asr ${m.asr}, ra ${m.ra}`);

    const e = JSON.parse((await cli(['eval', BADNETS, '--trigger', PATCH, '--target', '0', '--json'])).stdout) as {
      accuracy: number;
      attack: { successRate: number; robustAccuracy: number };
    };
    assert.equal(e.accuracy, m.acc);
    assert.equal(e.attack.successRate, m.asr);
    assert.equal(e.attack.robustAccuracy, m.ra);
    // The same trigger written as a file measures the same.
    const file = join(dir, 'patch.safetensors');
    await writeTriggerFile(file, patchAsMask());
    const f = JSON.parse((await cli(['eval', BADNETS, '--trigger', `file:${file}`, '--target', '0', '--json'])).stdout) as { attack: { successRate: number } };
    assert.equal(f.attack.successRate, m.asr);
  });

  test('a target outside the model classes is an error', async () => {
    const test = await loadLabelledData(undefined, 'test');
    await assert.rejects(
      defenceMetrics(readModel(BADNETS), test, { trigger: parseTrigger(PATCH), target: 12 }),
      /target label 12 is out of range for a model with 10 classes/,
    );
  });
});
