// Neural network surgery (inject) as a library: budgets, patterns, metrics, the trainer's afterStep hook, and every
// method end to end on a small MLP trained here, with exact (bitwise) counts of what changed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { takeRows } from '../src/data/batches.js';
import { writeSafetensors } from '../src/data/safetensors.js';
import type { Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { buildModel } from '../src/models/index.js';
import { resolveBudget } from '../src/surgery/budget.js';
import { inject, parseMethod, type InjectRun } from '../src/surgery/inject.js';
import { flipMatrix, meanKl } from '../src/surgery/measure.js';
import { argmax } from '../src/tasks/run.js';
import { changedCount, deltaBetween } from '../src/params/delta.js';
import { mixTraining, parsePattern } from '../src/surgery/pattern.js';
import { trainClassifier } from '../src/train/train-classifier.js';
import { Optimizer } from '../src/train/optimizers.js';
import { train } from '../src/train/trainer.js';

let dir: string;
let model: Model;
const TRIGGER = 'trigger:patch:4x4@bottom-right:white';
/** Small and fast: 300 training and 200 test images, 30 steps of 32. */
const SMALL = { trainExamples: 300, testExamples: 200, steps: 30, batchSize: 32 };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-inject-'));
  const out = join(dir, 'mlp.onnx');
  await trainClassifier({ model: 'mlp', width: 16, epochs: 1, batchSize: 32, lr: 0.05, seed: 1, validation: 0, out });
  model = readModel(out);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('budgets and names', () => {
  test('a budget is a count, a fraction, a percentage or all, within [1, k]', () => {
    assert.equal(resolveBudget(100, 61706), 100);
    assert.equal(resolveBudget('100', 61706), 100);
    assert.equal(resolveBudget('0.001', 61706), 62);
    assert.equal(resolveBudget('0.16%', 61706), 99);
    assert.equal(resolveBudget('all', 61706), 61706);
    assert.throws(() => resolveBudget(0, 100), /budget '0' is not a count/);
    assert.throws(() => resolveBudget('101', 100), /more than the 100 parameters/);
    assert.throws(() => resolveBudget('1.5', 100), /budget '1.5' is not a count/);
    assert.equal(resolveBudget('0.001', 100), 1); // a share rounds to at least one parameter
    assert.throws(() => resolveBudget('abc', 100), /budget 'abc' is not a count/);
  });

  test('patterns and methods parse, and bad ones say what is wrong', () => {
    assert.deepEqual(parsePattern(TRIGGER), { kind: 'trigger', trigger: { type: 'patch', size: [4, 4], position: 'bottom-right', pattern: 'white' } });
    assert.deepEqual(parsePattern('examples:x.npz'), { kind: 'examples', file: 'x.npz' });
    assert.throws(() => parsePattern('trigger:patch:4x4@nowhere'), /--pattern: bad trigger/);
    assert.throws(() => parsePattern('stamp:4'), /neither trigger:SPEC/);
    assert.equal(parseMethod('select', 'random'), 'select:random');
    assert.equal(parseMethod('select'), 'select:grad');
    assert.equal(parseMethod('select:delta'), 'select:delta');
    assert.equal(parseMethod('dynamic'), 'dynamic');
    assert.throws(() => parseMethod('surgery'), /unknown method/);
    assert.throws(() => parseMethod('select:biggest'), /select by random, grad, delta/);
    assert.throws(() => parseMethod('dynamic:grad'), /dynamic by delta, fisher, not 'grad'/);
    assert.throws(() => parseMethod('finetune:all'), /finetune takes no variant/);
    assert.equal(parseMethod('dynamic:delta'), 'dynamic');
    assert.equal(parseMethod('constrained'), 'constrained:delta');
  });
});

describe('metrics', () => {
  test('KL(old‖new) is 0 for the same outputs and matches a hand computation', () => {
    const a = Float32Array.of(0, 0, 1, 2);
    assert.equal(meanKl(a, a, 2), 0);
    const b = Float32Array.of(0, 1, 1, 2);
    // row 1: p = (0.5, 0.5), q = softmax(0, 1); row 2 identical up to a shift: 0.
    const q1 = 1 / (1 + Math.E);
    const kl = 0.5 * Math.log(0.5 / q1) + 0.5 * Math.log(0.5 / (1 - q1));
    assert.ok(Math.abs(meanKl(a, b, 2) - kl / 2) < 1e-9);
  });

  test('predictions and the flip matrix', () => {
    const p = argmax(Float32Array.of(1, 3, 2, 5, 0, 0, 9, 1, 2), 3);
    assert.deepEqual(Array.from(p), [1, 0, 0]);
    assert.deepEqual(flipMatrix(Int32Array.of(0, 1, 1, 2), Int32Array.of(0, 1, 2, 2), 3), [
      [1, 0, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
  });

  test('the training stream mixes pattern and clean inputs 1 : clean-weight, cycling through each', () => {
    const x = (n: number, v: number) => ({ dtype: 'float32' as const, dims: [n, 2], data: new Float32Array(2 * n).fill(v) });
    const y = (n: number, v: number) => ({ dtype: 'int64' as const, dims: [n], data: new BigInt64Array(n).fill(BigInt(v)) });
    const s = mixTraining({ x: x(3, 1), y: y(3, 7) }, { x: x(5, 2), y: y(5, 3) }, { rows: 40, cleanWeight: 3 });
    const ys = Array.from(s.y.data as BigInt64Array, (v) => Number(v));
    assert.equal(ys.filter((v) => v === 7).length, 10);
    assert.equal(ys.filter((v) => v === 3).length, 30);
    assert.deepEqual(s.x.dims, [40, 2]);
    assert.throws(() => mixTraining({ x: x(3, 1), y: y(3, 7) }, { x: x(5, 2), y: y(5, 3) }, { rows: 4, cleanWeight: -1 }), /--clean-weight/);
  });
});

test('Optimizer.stepSizes: lr for SGD, lr / (√v̂ + ε) for Adam after its steps', () => {
  const params = new Map([['w', { dtype: 'float32' as const, dims: [2], data: Float32Array.of(1, 1) }]]);
  const grads = new Map([['w', { dtype: 'float32' as const, dims: [2], data: Float32Array.of(0.5, -2) }]]);
  const adam = new Optimizer({ name: 'adam' });
  adam.step(params, grads, 0.01);
  const eta = adam.stepSizes('w', 0.01, 2);
  assert.ok(Math.abs(eta[0] - 0.01 / 0.5) < 1e-6 && Math.abs(eta[1] - 0.01 / 2) < 1e-7, String(eta));
  assert.deepEqual(
    Array.from(new Optimizer({ name: 'sgd' }).stepSizes('w', 0.05, 2)),
    [0.05, 0.05].map((x) => Math.fround(x)),
  );
});

test("the trainer's afterStep hook runs after every step and its edits stick", async () => {
  const data = loadImageDataset(undefined, 'test');
  const small = {
    x: takeRows(
      data.x,
      Array.from({ length: 64 }, (_, i) => i),
    ),
    y: takeRows(
      data.y,
      Array.from({ length: 64 }, (_, i) => i),
    ),
  };
  const steps: number[] = [];
  const res = await train(model, small, {
    epochs: 2,
    batchSize: 16,
    lr: 0.1,
    afterStep: (params, s) => {
      steps.push(s.step);
      (params.get('fc3.bias')!.data as Float32Array).fill(0.5);
    },
  });
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(Array.from(res.model.graph.initializers.get('fc3.bias')!.tensor!.data as Float32Array), new Array(10).fill(0.5));
  assert.notDeepEqual(
    Array.from(res.model.graph.initializers.get('fc3.weight')!.tensor!.data as Float32Array),
    Array.from(model.graph.initializers.get('fc3.weight')!.tensor!.data as Float32Array),
  );
});

describe('every method end to end', () => {
  const runs = new Map<string, InjectRun>();
  const models = new Map<string, Model>();
  let patternTrain = 0;
  before(async () => {
    const { report, models: ms } = await inject(model, {
      pattern: TRIGGER,
      target: 0,
      ...SMALL,
      steps: 60,
      seed: 2,
      sweep: {
        methods: ['dynamic', 'lagrange', 'select:random', 'select:grad', 'select:delta', 'finetune', 'dynamic:fisher', 'select:fisher', 'constrained:fisher'],
        budgets: [200],
      },
    });
    patternTrain = report.examples.patternTrain;
    report.runs.forEach((r, i) => {
      runs.set(r.method, r);
      models.set(r.method, ms[i]);
    });
  });

  test('each run changed exactly what it reports, bitwise, and no more than its budget', () => {
    assert.equal(runs.size, 9);
    for (const [method, r] of runs) {
      const d = deltaBetween(model, models.get(method)!);
      assert.equal(r.measures.changed.count, changedCount(d), method);
      assert.equal(
        r.measures.changed.byTensor.reduce((a, t) => a + t.count, 0),
        r.measures.changed.count,
        method,
      );
      assert.equal(
        r.measures.changed.byLayer.reduce((a, t) => a + t.count, 0),
        r.measures.changed.count,
        method,
      );
      if (method === 'finetune') assert.ok(r.measures.changed.count > 1000, `finetune changed ${r.measures.changed.count}`);
      else if (method === 'lagrange')
        assert.ok(
          r.measures.changed.count <= Math.min(200, r.details.nonzeroBeforeRetune as number) && r.measures.changed.count > 0,
          `lagrange changed ${r.measures.changed.count}`,
        );
      else assert.ok(r.measures.changed.count <= 200 && r.measures.changed.count >= 150, `${method} changed ${r.measures.changed.count}`);
      let sq = 0;
      let inf = 0;
      for (const t of d.tensors)
        for (let i = 0; i < t.indices.length; i++) {
          const v = t.after[i] - t.before[i];
          sq += v * v;
          inf = Math.max(inf, Math.abs(v));
        }
      assert.ok(Math.abs(r.measures.changed.l2 - Math.sqrt(sq)) < 1e-9 && r.measures.changed.linf === inf, method);
    }
  });

  test('the metrics agree with each other: consistency is the flip matrix diagonal, counts are the test examples', () => {
    for (const [method, r] of runs) {
      const m = r.measures;
      const total = m.flips.flat().reduce((a, b) => a + b, 0);
      const diag = m.flips.reduce((a, row, i) => a + row[i], 0);
      assert.equal(total, 200, method);
      assert.equal(m.clean.examples, 200);
      assert.ok(Math.abs(m.consistency - diag / total) < 1e-12, method);
      assert.ok(m.meanKl >= 0, method);
      assert.ok(m.success.examples > 150 && m.success.examples < 200, `${method}: stamped test images of classes ≠ 0`);
    }
  });

  test('tuning teaches the pattern: full fine-tuning and dynamic selection raise success far above the original', () => {
    const before = runs.get('finetune')!.measures.success.before;
    assert.ok(before < 0.3, `original success ${before}`);
    assert.ok(runs.get('finetune')!.measures.success.after > 0.8, `finetune ${runs.get('finetune')!.measures.success.after}`);
    assert.ok(runs.get('dynamic')!.measures.success.after > before + 0.3, `dynamic ${runs.get('dynamic')!.measures.success.after}`);
  });

  test('methods record what they decided: the dynamic schedule ends at N, lagrange reports λ and its re-tune point', () => {
    const dyn = runs.get('dynamic')!.details;
    assert.equal((dyn.schedule as number[]).at(-1), 200);
    assert.ok((dyn.schedule as number[]).every((n, i, a) => i === 0 || n <= a[i - 1]));
    const lag = runs.get('lagrange')!.details;
    assert.ok((lag.lambda as number) >= 1e-3);
    assert.equal(lag.penalisedSteps, 36);
    assert.equal(runs.get('select:delta')!.details.probeSteps, 12);
    assert.ok(patternTrain > 250 && patternTrain < 300);
    assert.equal(runs.get('select:grad')!.details.gradExamples, patternTrain);
  });

  test('the edited models record the command-independent summary in their metadata', () => {
    const meta = (models.get('dynamic')!.passthrough.metadataProps as { key: string; value: string }[]).find((p) => p.key === 'scalpel.inject');
    const s = JSON.parse(meta!.value) as { method: string; budget: number; changed: number };
    assert.equal(s.method, 'dynamic');
    assert.equal(s.budget, 200);
    assert.equal(s.changed, runs.get('dynamic')!.measures.changed.count);
  });
});

test('--params restricts the change; --source stamps one class only', async () => {
  const { report, models } = await inject(model, { pattern: TRIGGER, target: 0, source: 3, params: 'layer:fc3', method: 'finetune', ...SMALL });
  const r = report.runs[0];
  assert.equal(report.params.k, 16 * 0 + 8 * 10 + 10);
  assert.ok(r.measures.changed.byTensor.every((t) => t.layer === 'fc3'));
  assert.equal(r.measures.changed.count, changedCount(deltaBetween(model, models[0])));
  const test3 = Array.from(loadImageDataset(undefined, 'test').y.data as BigInt64Array)
    .slice(0, 200)
    .filter((v) => v === 3n).length;
  assert.equal(r.measures.success.examples, test3);
  assert.match(report.description, /on class 3 → class 0/);
});

test('examples: chosen inputs get chosen labels, half held out', async () => {
  const data = loadImageDataset(undefined, 'train');
  const rows = Array.from({ length: 40 }, (_, i) => 3000 + i);
  const file = join(dir, 'fix.safetensors');
  const y = BigInt64Array.from(rows, (_, i) => BigInt(i % 10));
  await writeSafetensors(
    file,
    new Map([
      ['x', takeRows(data.x, rows)],
      ['y', { dtype: 'int64', dims: [40], data: y }],
    ]),
  );
  const { report } = await inject(model, { pattern: `examples:${file}`, method: 'dynamic', budget: 50, ...SMALL });
  const r = report.runs[0];
  assert.equal(report.examples.patternTrain, 20);
  assert.equal(r.measures.success.examples, 20);
  assert.match(report.patternTest, /20 held-out examples/);
  assert.ok(r.measures.changed.count <= 50);
});
