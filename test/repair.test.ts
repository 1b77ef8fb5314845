// scalpel repair end to end on the shipped BadNets LeNet-5 with the embedded data: each method, the judging, bad input.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.js';
import { lastConv, pruneChannels } from '../src/backdoor/fine-prune.js';
import { unlearningSet } from '../src/backdoor/unlearn.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { parseTrigger } from '../src/data/triggers.js';
import { getMetadata } from '../src/onnx/metadata.js';
import { readModel } from '../src/onnx/model-io.js';
import { applyDelta, paramsHash } from '../src/params/delta.js';
import { readDelta } from '../src/params/delta-file.js';
import { assertSelfContained } from './helpers/html-page.js';
import { assertChartsDrawn, needsChromium } from './helpers/chromium.js';

const BADNETS = 'models/lenet5-badnets.onnx';
const PATCH = 'patch:4x4@bottom-right:white';
// 400 defender images (360 to train on, 40 to validate), one or two short epochs: seconds per run.
const SMALL = ['--defender-data', '400', '--epochs', '2'];

interface Report {
  method: string;
  oracle: boolean;
  triggerSource: string;
  triggerLabels: number[];
  before: { acc: number; asr: number; ra: number };
  after: { acc: number; asr: number; ra: number };
  der: number;
  changedParams: number;
  totalParams: number;
  seconds: number;
  details: Record<string, unknown>;
  defender: { source: string; train: number; validation: number };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-repair-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function checkDer(r: Report): void {
  const expected = (Math.max(0, r.before.asr - r.after.asr) - Math.max(0, r.before.acc - r.after.acc) + 1) / 2;
  assert.ok(Math.abs(r.der - expected) < 1e-12, `DER ${r.der} ≠ ${expected}`);
}

describe('repair methods, end to end', () => {
  test('finetune: writes the model and its delta; the table, DER and parameters changed agree with the files', async () => {
    const out = join(dir, 'ft.onnx');
    const delta = join(dir, 'ft.delta.safetensors');
    const r = await cli(['repair', BADNETS, '--method', 'finetune', ...SMALL, '-o', out, '--delta', delta, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Report;
    assert.equal(j.method, 'finetune');
    assert.equal(j.triggerSource, 'none');
    assert.deepStrictEqual([j.defender.train, j.defender.validation], [360, 40]);
    assert.match(j.defender.source, /defender: 400 examples of the training split, seed 0/);
    assert.ok(j.before.asr > 0.9, 'the shipped model is backdoored');
    checkDer(j);
    const base = readModel(BADNETS);
    const repaired = readModel(out);
    const d = await readDelta(delta);
    assert.equal(d.baseHash, paramsHash(base));
    assert.equal(paramsHash(applyDelta(base, d)), paramsHash(repaired));
    assert.equal(
      j.changedParams,
      d.tensors.reduce((a, t) => a + t.indices.length, 0),
    );
    assert.ok(j.changedParams > 0 && j.changedParams <= j.totalParams);
    assert.match(getMetadata(repaired, 'scalpel.repair_command')!, /repair .* --method finetune/);
    assert.deepStrictEqual(JSON.parse(getMetadata(repaired, 'scalpel.repair')!), { method: 'finetune', oracle: false, triggers: 'none', labels: [] });
  });

  test('fine-prune: prunes the least active channels of the last conv while the validation drop stays within --max-drop; they stay zero', async () => {
    const out = join(dir, 'fp.onnx');
    const r = await cli(['repair', BADNETS, '--method', 'fine-prune', ...SMALL, '--max-drop', '4', '-o', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Report & {
      details: { pruned: number[]; steps: { pruned: number; validationAccuracy: number }[]; validationBefore: number; channels: number };
    };
    checkDer(j);
    const d = j.details;
    assert.equal(d.channels, 16);
    // The rule: every accepted step within 4 points; the step after the last accepted one (if any) beyond.
    const k = d.pruned.length;
    for (const s of d.steps.slice(0, k)) assert.ok((d.validationBefore - s.validationAccuracy) * 100 <= 4);
    if (k < 15) assert.ok((d.validationBefore - d.steps[k].validationAccuracy) * 100 > 4);
    const w = readModel(out).graph.initializers.get('conv2.weight')!.tensor!.data as Float32Array;
    const per = w.length / 16;
    for (const c of d.pruned)
      assert.ok(
        w.subarray(c * per, (c + 1) * per).every((v) => v === 0),
        `channel ${c} is zero`,
      );
    const all = await cli([
      'repair',
      BADNETS,
      '--method',
      'fine-prune',
      '--defender-data',
      '400',
      '--epochs',
      '1',
      '--max-drop',
      '100',
      '-o',
      join(dir, 'fp-all.onnx'),
      '--json',
    ]);
    assert.equal((JSON.parse(all.stdout) as { details: { pruned: number[] } }).details.pruned.length, 15, 'with no limit, all channels but one go');
  });

  test('unlearn with the oracle trigger lowers the attack success, and says it is an oracle run', async () => {
    const out = join(dir, 'ul.onnx');
    const html = join(dir, 'ul.html');
    const r = await cli(['repair', BADNETS, '--method', 'unlearn', ...SMALL, '--oracle-trigger', PATCH, '--target', '0', '-o', out, '--html', html, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Report;
    assert.equal(j.oracle, true);
    assert.equal(j.triggerSource, 'oracle');
    assert.equal(j.details.stamped, 72);
    assert.ok(j.after.asr < j.before.asr - 0.3, `ASR ${j.before.asr} → ${j.after.asr}`);
    checkDer(j);
    const page = readFileSync(html, 'utf8');
    assertSelfContained(page);
    assert.match(page, /ORACLE/);
    if (!needsChromium.skip) await assertChartsDrawn(page, 1);
    assert.match(getMetadata(readModel(out), 'scalpel.repair')!, /"oracle":true/);
    const text = await cli([
      'repair',
      BADNETS,
      '--method',
      'unlearn',
      '--defender-data',
      '200',
      '--epochs',
      '1',
      '--oracle-trigger',
      PATCH,
      '-o',
      join(dir, 'ul2.onnx'),
    ]);
    assert.match(text.stdout, /ORACLE/);
    assert.match(text.stdout, /DER \d\.\d{4}/);
  });

  test('unlearn with reconstructed triggers (reconstruct -o DIR, then --triggers DIR)', async () => {
    const nc = join(dir, 'nc');
    const rc = await cli(['reconstruct', BADNETS, '--defender-data', '400', '--batch', '32', '-o', nc]);
    assert.equal(rc.code, 0, rc.stderr);
    const r = await cli(['repair', BADNETS, '--method', 'unlearn', ...SMALL, '--triggers', nc, '-o', join(dir, 'ul-nc.onnx'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Report;
    assert.equal(j.oracle, false);
    assert.equal(j.triggerSource, 'reconstructed');
    assert.ok(j.triggerLabels.includes(0), `flagged ${j.triggerLabels}`);
    assert.ok(j.after.asr < j.before.asr, `ASR ${j.before.asr} → ${j.after.asr}`);
  });
});

describe('repair helpers', () => {
  test('unlearningSet stamps a seeded 20% and keeps every label', async () => {
    const test = await loadLabelledData(undefined, 'test');
    const { data, stamped } = unlearningSet(test, [{ label: 0, trigger: parseTrigger(PATCH) }], 0.2, 1);
    assert.equal(stamped, 200);
    assert.deepStrictEqual(data.y.data, test.y.data);
    const x0 = test.x.data as Float32Array;
    const x1 = data.x.data as Float32Array;
    let changed = 0;
    for (let i = 0; i < 1000; i++) if (x1.subarray(i * 784, (i + 1) * 784).some((v, k) => v !== x0[i * 784 + k])) changed++;
    assert.ok(changed <= 200 && changed > 150, `${changed} images changed`);
  });

  test('pruning zeroes the channel in the conv weight and bias, and in a following BatchNorm', () => {
    const r20 = readModel('models/resnet20-fashion.onnx');
    const layer = lastConv(r20);
    assert.equal(layer.channels, 64);
    assert.equal(layer.params.length, 3, `${layer.params}`); // weight, BN scale and BN bias (the conv has no bias)
    // The ranking reads the pruned unit's own output: the BN that ends the residual branch, not the Add after it
    // (which mixes in the shortcut that pruning leaves alone).
    const producer = r20.graph.nodes.find((n) => n.outputs.includes(layer.activation))!;
    assert.equal(producer.opType, 'BatchNormalization');
    assert.ok(layer.preActivation);
    const lenet = lastConv(readModel(BADNETS));
    assert.equal(lenet.preActivation, false);
    assert.equal(readModel(BADNETS).graph.nodes.find((n) => n.outputs.includes(lenet.activation))!.opType, 'Relu');
    const { model, masks } = pruneChannels(r20, layer, [5]);
    for (const p of layer.params) {
      const t = model.graph.initializers.get(p)!.tensor!;
      const per = t.data.length / 64;
      assert.ok((t.data as Float32Array).subarray(5 * per, 6 * per).every((v) => v === 0));
      assert.ok((t.data as Float32Array).subarray(0, per).some((v) => v !== 0));
      assert.equal(
        masks.get(p)!.reduce((a, b) => a + b, 0),
        t.data.length - per,
      );
    }
  });
});

describe('repair: bad input', () => {
  test('--max-drop negative, a missing triggers directory, no flagged label, both trigger sources; nothing written', async () => {
    const out = join(dir, 'bad', 'x.onnx');
    const ok = join(dir, 'never.onnx');
    const r1 = await cli(['repair', BADNETS, '--method', 'fine-prune', '--max-drop', '-1', '-o', ok]);
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /^scalpel: error: --max-drop must be between 0 and 100 accuracy points, got -1\n$/);
    const r2 = await cli(['repair', BADNETS, '--method', 'unlearn', '--triggers', join(dir, 'nowhere'), '--defender-data', '100', '-o', ok]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /^scalpel: error: .*nowhere\/reconstruct.json not found/);
    const clean = join(dir, 'nc-clean');
    await cli(['reconstruct', 'models/lenet5-fashion.onnx', '--defender-data', '100', '--labels', '1,2,3', '--steps', '30', '-o', clean]);
    const flagged = JSON.parse(readFileSync(join(clean, 'reconstruct.json'), 'utf8')).flagged as number[];
    if (flagged.length === 0) {
      const r3 = await cli(['repair', 'models/lenet5-fashion.onnx', '--method', 'unlearn', '--triggers', clean, '--defender-data', '100', '-o', ok]);
      assert.equal(r3.code, 1);
      assert.match(r3.stderr, /^scalpel: error: unlearn needs a trigger, but trigger reconstruction flagged no label/);
    }
    const r4 = await cli(['repair', BADNETS, '--method', 'unlearn', '--triggers', clean, '--oracle-trigger', PATCH, '-o', ok]);
    assert.equal(r4.code, 2);
    const r5 = await cli(['repair', BADNETS, '--method', 'finetune', '-o', out]);
    assert.equal(r5.code, 1);
    assert.match(r5.stderr, /directory .* does not exist/);
    const r6 = await cli(['repair', BADNETS, '--method', 'nope', '-o', ok]);
    assert.equal(r6.code, 2);
    const r7 = await cli(['repair', BADNETS, '--method', 'finetune', '-o', BADNETS]);
    assert.equal(r7.code, 1);
    assert.match(r7.stderr, /refusing to overwrite the input model/);
    assert.ok(!existsSync(ok), 'nothing written');
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')));
  });
});

describe('help', () => {
  test("repair --help lists every method of the table and the methods' own flags; reconstruct --help explains the defender data", async () => {
    const r = await cli(['help', 'repair']);
    assert.equal(r.code, 0);
    for (const m of ['unlearn', 'fine-prune', 'finetune']) assert.match(r.stdout, new RegExp(`${m}: `));
    assert.match(r.stdout, /--max-drop <points>/);
    assert.match(r.stdout, /ORACLE/);
    const n = await cli(['reconstruct', '--help']);
    assert.match(n.stdout, /5% of\s+the\s+clean\s+training\s+split/);
    assert.match(n.stdout, /anomaly\s+index/);
  });
});
