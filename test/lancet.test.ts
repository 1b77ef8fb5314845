// AI-Lancet: the second-order importance graph against finite differences, the ablation search, flip, bad input.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadDefenderData } from '../src/defence/defender-data.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { parseTrigger } from '../src/data/triggers.js';
import { LayerEditor, rankByImportance, searchRatio, zeroTop } from '../src/lancet/ablation.js';
import { importanceGraph } from '../src/lancet/importance-graph.js';
import { flipRepair } from '../src/lancet/flip.js';
import { findLayer } from '../src/lancet/layers.js';
import { readLocated } from '../src/lancet/located-file.js';
import { locateInLayer } from '../src/lancet/locate.js';
import { errorPairs, stamper } from '../src/lancet/locate-errors.js';
import { isFixed, stack } from '../src/lancet/pairs.js';
import { triggerPairs } from '../src/lancet/trigger-pairs.js';
import { runClassifier } from '../src/tasks/run.js';
import { misclassifiedPairs } from '../src/lancet/blur-pairs.js';
import { buildModel } from '../src/models/index.js';
import { readModel } from '../src/onnx/model-io.js';
import { compile } from '../src/runtime/session.js';
import { createRng } from '../src/tensor/rng.js';
import { attackRates } from '../src/tasks/attack-rates.js';
import { matchNormalization } from '../src/tasks/normalization.js';
import { evaluate } from '../src/tasks/run.js';
import { applyTrigger } from '../src/data/triggers.js';
import { cli } from './helpers/cli.js';
import { assertChartsDrawn, needsChromium } from './helpers/chromium.js';
import { assertSelfContained } from './helpers/html-page.js';

const BADNETS = 'models/lenet5-badnets.onnx';
const TRIGGER = 'patch:4x4@bottom-right:white';

describe('importance values', () => {
  for (const weighting of ['authors', 'paper'] as const)
    test(`${weighting} weighting: the second-order graph of ‖EIf‖₂ matches central finite differences along random directions`, async () => {
      const model = buildModel('mlp', { inputShape: [1, 4, 4], width: 8, classes: 3, seed: 3 });
      const layer = findLayer(model, 'fc2');
      const ig = importanceGraph(model, layer, { weighting, alpha: 0.7 });
      const exe = await compile(ig.model);
      const rng = createRng(5);
      const pair = new Float32Array(32).map(() => rng.normal());
      const hot = new Float32Array(6);
      hot[1] = 1;
      const w0 = (model.graph.initializers.get(layer.param)!.tensor!.data as Float32Array).slice();
      const run = async (w: Float32Array) =>
        exe.run({
          [ig.input]: { dtype: 'float32', dims: [2, 1, 4, 4], data: pair },
          [ig.onehot]: { dtype: 'float32', dims: [2, 3], data: hot },
          [ig.weight]: { dtype: 'float32', dims: layer.shape, data: w },
        });
      const base = await run(w0);
      const grad = base[ig.gradient].data as Float32Array;
      assert.ok(
        grad.some((g) => g !== 0),
        'the importance is not all zero',
      );
      for (let trial = 0; trial < 3; trial++) {
        const v = new Float32Array(w0.length).map(() => rng.normal());
        const h = 1e-3;
        const plus = Number((await run(w0.map((w, i) => w + h * v[i])))[ig.norm].data[0]);
        const minus = Number((await run(w0.map((w, i) => w - h * v[i])))[ig.norm].data[0]);
        const numeric = (plus - minus) / (2 * h);
        const analytic = grad.reduce((s, g, i) => s + g * v[i], 0);
        assert.ok(
          Math.abs(numeric - analytic) <= 2e-2 * Math.max(Math.abs(numeric), Math.abs(analytic)),
          `trial ${trial}: analytic ${analytic} vs finite differences ${numeric}`,
        );
      }
    });
});

describe('progressive ablation', () => {
  test('coarse-to-fine and binary search find the smallest fixing count', async () => {
    for (const needed of [1, 7, 37, 420, 990]) {
      const fixes = async (n: number) => n >= needed;
      for (const how of ['coarse-to-fine', 'binary'] as const) {
        const r = await searchRatio(1000, fixes, how);
        assert.equal(r.count, needed, `${how}, needed ${needed}`);
        assert.equal(r.ratio, needed / 1000);
      }
    }
    // Coarse-to-fine refines in tenths of the last step: between 99% and 100% it cannot tell 999 from 1000.
    assert.equal((await searchRatio(1000, async (n) => n >= 999, 'coarse-to-fine')).count, 1000);
    assert.equal((await searchRatio(1000, async (n) => n >= 999, 'binary')).count, 999);
    const never = await searchRatio(1000, async () => false, 'coarse-to-fine');
    assert.deepEqual([never.count, never.ratio], [0, null]);
  });

  test('the ranking by importance is a descending sort with ties broken by index', () => {
    const rng = createRng(2);
    const iv = new Float32Array(5000).map(() => (rng.uniform() < 0.2 ? 0 : rng.uniform() ** 4));
    iv[10] = iv[20] = iv[30];
    const ref = Uint32Array.from({ length: iv.length }, (_, i) => i).sort((a, b) => iv[b] - iv[a] || a - b);
    assert.deepEqual(rankByImportance(iv), ref);
  });

  test('on the BadNets LeNet-5, the located count fixes each pair and one fewer does not', async () => {
    const model = readModel(BADNETS);
    const defender = matchNormalization(model, await loadDefenderData({ seed: 0 }));
    const all = await triggerPairs(model, defender, stamper(parseTrigger(TRIGGER), defender), { source: 'test', oracle: true });
    assert.ok(all.pairs.length >= 8, `the trigger makes pairs (${all.pairs.length})`);
    const set = { ...all, pairs: all.pairs.slice(0, 6) };
    const layer = findLayer(model, 'fc1');
    const loc = await locateInLayer(model, layer, set);
    assert.equal(loc.fixed, 6);
    const editor = await LayerEditor.create(model, layer);
    const ig = importanceGraph(model, layer);
    const exe = await compile(ig.model);
    for (const [k, p] of set.pairs.entries()) {
      const hot = new Float32Array(20);
      hot[p.label] = 1;
      const out = await exe.run({
        [ig.input]: stack([p.x, p.clean], set.dims),
        [ig.onehot]: { dtype: 'float32', dims: [2, 10], data: hot },
        [ig.weight]: { dtype: 'float32', dims: layer.shape, data: editor.original },
      });
      const order = rankByImportance((out[ig.gradient].data as Float32Array).map(Math.abs));
      const n = Math.round(loc.ratios[k]! * layer.size);
      const x1 = stack([p.x], set.dims);
      assert.ok(isFixed(p, (await editor.predict(x1, zeroTop(editor.original, order, n)))[0], set.fix), `pair ${k}: zeroing ${n} fixes it`);
      assert.ok(!isFixed(p, (await editor.predict(x1, zeroTop(editor.original, order, n - 1)))[0], set.fix), `pair ${k}: zeroing ${n - 1} does not`);
    }
    assert.ok(loc.weights.length > 0 && loc.weights[0].count >= loc.weights[loc.weights.length - 1].count);
  });
});

describe('misclassified pairs', () => {
  test('the blur-mask search pairs a misclassified image with a blurred copy the model gets right', async () => {
    const model = readModel('models/lenet5-fashion.onnx');
    const defender = matchNormalization(model, await loadDefenderData({ seed: 0 }));
    const set = await misclassifiedPairs(model, defender, { limit: 12, steps: 40 });
    assert.equal(set.fix, 'true-label');
    assert.ok(set.pairs.length >= 3, `${set.pairs.length} of 12 misclassified images paired`);
    const wrong = (
      await runClassifier(
        model,
        stack(
          set.pairs.map((p) => p.x),
          set.dims,
        ),
      )
    ).predictions;
    const right = (
      await runClassifier(
        model,
        stack(
          set.pairs.map((p) => p.clean),
          set.dims,
        ),
      )
    ).predictions;
    set.pairs.forEach((p, i) => {
      assert.notEqual(wrong[i], p.label);
      assert.equal(right[i], p.label);
      let changed = 0;
      for (let k = 0; k < p.x.length; k++) if (Math.abs(p.x[k] - p.clean[k]) > 1e-3) changed++;
      assert.ok(changed > 0 && changed < p.x.length, `pair ${i}: ${changed} pixels changed`);
    });
  });
});

describe('flip', () => {
  test('negating a few located fc1 weights removes the BadNets backdoor at no cost in clean accuracy', async () => {
    const model = readModel(BADNETS);
    const defender = matchNormalization(model, await loadDefenderData({ seed: 0 }));
    const all = await errorPairs(model, defender, { kind: 'oracle-trigger', spec: TRIGGER });
    const used = { ...all, pairs: all.pairs.slice(0, 20) };
    const heldOut = { ...all, pairs: all.pairs.slice(20, 220) };
    const loc = await locateInLayer(model, findLayer(model, 'fc1'), used);
    const r = await flipRepair(model, 'fc1', loc.weights, heldOut);
    assert.ok(r.flipped.length >= 1 && r.flipped.length <= 0.01 * 48000, `flipped ${r.flipped.length}`);
    const test = matchNormalization(model, await loadLabelledData(undefined, 'test'));
    const stamped = applyTrigger(test, parseTrigger(TRIGGER), { excludeClass: 0 });
    const before = await attackRates(model, stamped, 0);
    const after = await attackRates(r.model, stamped, 0);
    const acc0 = (await evaluate(model, test)).accuracy;
    const acc1 = (await evaluate(r.model, test)).accuracy;
    assert.ok(before.asr > 0.9, `backdoored ASR ${before.asr}`);
    assert.ok(after.asr < 0.3, `ASR after the flip ${after.asr}`);
    assert.ok(acc1 > acc0 - 0.02, `clean accuracy ${acc0} -> ${acc1}`);
  });
});

describe('scalpel locate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scalpel-locate-'));
  test("writes located.json with the chosen layer, counts and the pairs' rows", async () => {
    const out = join(dir, 'loc.json');
    const r = await cli(['--threads', '1', 'locate', BADNETS, '--oracle-trigger', TRIGGER, '--layer', 'fc1', '--pairs', '10', '-o', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const f = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(f.layer, 'fc1');
    assert.equal(f.oracle, true);
    assert.equal(f.rows.length, 10);
    assert.equal(f.fixed, 10);
    assert.ok(f.weights.length > 0 && f.weights[0].count <= 10);
    assert.equal(JSON.parse(r.stdout).layer, 'fc1');
    const model = readModel(BADNETS);
    assert.equal(readLocated(out, model).weights.length, f.weights.length);
    assert.throws(() => readLocated(out, readModel('models/lenet5-fashion.onnx')), /made for another model/);
  });

  test('--html: a self-contained page whose two charts draw in Chromium', needsChromium, async () => {
    const out = join(dir, 'html-loc.json');
    const html = join(dir, 'loc.html');
    const r = await cli(['--threads', '1', 'locate', BADNETS, '--oracle-trigger', TRIGGER, '--layer', 'fc3', '--pairs', '5', '-o', out, '--html', html]);
    assert.equal(r.code, 0, r.stderr);
    const page = readFileSync(html, 'utf8');
    assertSelfContained(page);
    assert.match(page, /ORACLE/);
    await assertChartsDrawn(page, 2);
  });

  const bad: [string, string[], RegExp][] = [
    ['no errors to locate', ['models/lenet5-fashion.onnx', '--oracle-trigger', 'blend:0:white'], /no errors to locate/],
    ['an unknown layer', [BADNETS, '--oracle-trigger', TRIGGER, '--layer', 'nope'], /layer 'nope' does not exist/],
  ];
  for (const [what, args, re] of bad) {
    test(`${what}: one error line, exit 1, nothing written`, async () => {
      const out = join(dir, `${what.replace(/\W+/g, '-')}.json`);
      const r = await cli(['--threads', '1', 'locate', ...args, '-o', out]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.startsWith('scalpel: error: '));
      assert.equal(existsSync(out), false);
    });
  }

  test('repair --method flip lowers the attack success; neuron-finetune changes only located weights', async () => {
    const loc = join(dir, 'flip-loc.json');
    assert.equal((await cli(['--threads', '1', 'locate', BADNETS, '--oracle-trigger', TRIGGER, '--layer', 'fc1', '--pairs', '20', '-o', loc])).code, 0);
    const out = join(dir, 'flipped.onnx');
    const r = await cli([
      '--threads',
      '1',
      'repair',
      BADNETS,
      '--method',
      'flip',
      '--located',
      loc,
      '--oracle-trigger',
      TRIGGER,
      '--target',
      '0',
      '-o',
      out,
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout);
    assert.equal(rep.oracle, true);
    assert.ok(rep.before.asr > 0.9 && rep.after.asr < 0.3, `ASR ${rep.before.asr} -> ${rep.after.asr}`);
    assert.ok(rep.changedParams >= 1 && rep.changedParams === rep.details.flipped, JSON.stringify(rep.details));
    assert.ok(existsSync(out));
    const tuned = join(dir, 'tuned.onnx');
    const t = await cli([
      '--threads',
      '1',
      'repair',
      BADNETS,
      '--method',
      'neuron-finetune',
      '--located',
      loc,
      '--epochs',
      '1',
      '--clean',
      '200',
      '-o',
      tuned,
      '--json',
    ]);
    assert.equal(t.code, 0, t.stderr);
    const tr = JSON.parse(t.stdout);
    const locatedCount = JSON.parse(readFileSync(loc, 'utf8')).weights.length;
    assert.ok(tr.changedParams >= 1 && tr.changedParams <= locatedCount, `changed ${tr.changedParams} of ${locatedCount} located`);
  });

  test('repair with a located.json made for another model: one error line, exit 1, nothing written', async () => {
    const loc = join(dir, 'other-loc.json');
    assert.equal((await cli(['--threads', '1', 'locate', BADNETS, '--oracle-trigger', TRIGGER, '--layer', 'fc3', '--pairs', '3', '-o', loc])).code, 0);
    const out = join(dir, 'never.onnx');
    const r = await cli([
      '--threads',
      '1',
      'repair',
      'models/lenet5-fashion.onnx',
      '--method',
      'flip',
      '--located',
      loc,
      '--oracle-trigger',
      TRIGGER,
      '-o',
      out,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^scalpel: error: .*made for another model/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(out), false);
  });
});
