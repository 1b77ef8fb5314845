// The surgery method table (one contract, parser, flags and help from it), the clean Fisher against its exact value,
// the clean stream's augmentations, and the constrained method's multiplier and reproducibility.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { takeRows } from '../src/data/batches.js';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import type { Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { augmentImages } from '../src/surgery/augment.js';
import { cleanFisher, fisherRatio } from '../src/train/fisher.js';
import { inject } from '../src/surgery/inject.js';
import { runClassifier } from '../src/tasks/run.js';
import { methodHelp, methodNames, parseMethod, settingFlags, SURGERY_METHODS } from '../src/surgery/methods.js';
import { Rng } from '../src/tensor/rng.js';
import { trainClassifier } from '../src/train/train-classifier.js';
import { cli } from './helpers/cli.js';

let dir: string;
let model: Model;
const TRIGGER = 'trigger:patch:4x4@bottom-right:white';
const SMALL = { trainExamples: 300, testExamples: 200, steps: 30, batchSize: 32 };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-methods-'));
  const out = join(dir, 'mlp.onnx');
  await trainClassifier({ model: 'mlp', width: 16, epochs: 1, batchSize: 32, lr: 0.05, seed: 1, validation: 0, out });
  model = readModel(out);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the method table', () => {
  test('every method and variant parses from its name; the help and the flags come from the table', () => {
    assert.deepEqual(
      SURGERY_METHODS.map((m) => m.name),
      ['dynamic', 'constrained', 'lagrange', 'select', 'finetune'],
    );
    for (const n of methodNames()) assert.ok(parseMethod(n).startsWith(n.split(':')[0]), n);
    const help = methodHelp();
    for (const m of SURGERY_METHODS) assert.ok(help.includes(`\n\n${m.name}`), m.name);
    assert.ok(help.includes('--kl-bound (0.05)') && help.includes('--every (10)') && help.includes('--every (5)'), help);
    assert.ok(!/\{\w+\}/.test(help), 'every placeholder is filled');
    const every = settingFlags().find((f) => f.flag === '--every <n>')!;
    assert.match(every.description, /dynamic, constrained: steps between prunings \(10\); lagrange: steps between λ updates \(5\)/);
    assert.equal(new Set(settingFlags().map((f) => f.flag)).size, settingFlags().length);
  });

  test('scalpel inject --help lists every method from the table, and a setting flag reaches the method', async () => {
    const r = await cli(['inject', '--help']);
    assert.equal(r.code, 0);
    for (const m of SURGERY_METHODS) assert.ok(r.stdout.includes(`\n${m.name}`), m.name);
    assert.match(r.stdout, /--kl-bound <nats>/);
    assert.match(r.stdout, /--fisher-epsilon <ε>/);
  });
});

describe('the clean Fisher', () => {
  test("the last layer's bias: F(b_c) matches the exact E_x[p_c (1 − p_c)] within sampling error", async () => {
    const d = loadImageDataset(undefined, 'train');
    const rows = Array.from({ length: 1024 }, (_, i) => i);
    const clean = { x: takeRows(d.x, rows), y: takeRows(d.y, rows) };
    const [F] = await cleanFisher(model, ['fc3.bias'], clean, { examples: 1024, seed: 4 });
    const { logits, classes } = await runClassifier(model, clean);
    const exact = new Float64Array(classes);
    for (let i = 0; i < 1024; i++) {
      const z = logits.subarray(i * classes, (i + 1) * classes);
      const m = Math.max(...z);
      const e = Array.from(z, (v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      e.forEach((v, c) => (exact[c] += ((v / s) * (1 - v / s)) / 1024));
    }
    const total = exact.reduce((a, b) => a + b, 0);
    const got = F.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(got - total) / total < 0.1, `ΣF ${got} against ${total}`);
    for (let c = 0; c < classes; c++) assert.ok(F[c] >= 0);
  });

  test('the ratio ranks an entry the clean outputs do not feel above one they do, at equal pattern gradient', () => {
    const r = fisherRatio([Float32Array.of(1, 1, 2)], [Float32Array.of(0, 4, 1)], 0.01);
    assert.ok(r[0][0] > r[0][2] && r[0][2] > r[0][1], String(r[0]));
    assert.ok(Math.abs(r[0][1] - 1 / Math.sqrt(4 + (0.01 * 5) / 3)) < 1e-6);
  });
});

test('augmentation: no shift and no noise is the identity; a shift moves every image by whole pixels', () => {
  const d = loadImageDataset(undefined, 'test');
  const x = takeRows(d.x, [0, 1, 2, 3]);
  assert.deepEqual(augmentImages(x, { shift: 0, noise: 0, scale: 1 }, new Rng(1)).data, x.data);
  const a = augmentImages(x, { shift: 2, noise: 0, scale: 1 }, new Rng(1));
  const src = x.data as Float32Array;
  const out = a.data as Float32Array;
  for (let i = 0; i < 4; i++) {
    let found = false;
    for (let dy = -2; dy <= 2 && !found; dy++) {
      for (let dx = -2; dx <= 2 && !found; dx++) {
        let ok = true;
        for (let yy = 2; yy < 26 && ok; yy++)
          for (let xx = 2; xx < 26 && ok; xx++) ok = out[i * 784 + yy * 28 + xx] === src[i * 784 + (yy - dy) * 28 + (xx - dx)];
        found = ok;
      }
    }
    assert.ok(found, `image ${i} is a shifted copy`);
  }
  const noisy = augmentImages(x, { shift: 0, noise: 0.5, scale: 2 }, new Rng(1)).data as Float32Array;
  let s2 = 0;
  for (let i = 0; i < noisy.length; i++) s2 += (noisy[i] - src[i]) ** 2;
  assert.ok(Math.abs(Math.sqrt(s2 / noisy.length) - 1) < 0.05, 'noise std = noise × scale');
});

describe('constrained', () => {
  test('a tight bound raises the multiplier and keeps the clean outputs closer than a loose one; runs repeat bit for bit', async () => {
    const go = (klBound: number) =>
      inject(model, {
        pattern: TRIGGER,
        target: 0,
        ...SMALL,
        steps: 60,
        seed: 3,
        method: 'constrained:fisher',
        budget: 200,
        settings: { klBound, fisherExamples: 64 },
        runtime: { threads: 1 },
      });
    const tight = await go(1e-4);
    const loose = await go(10);
    const t = tight.report.runs[0];
    const l = loose.report.runs[0];
    assert.ok((t.details.multiplier as number) > 1, `tight μ ${t.details.multiplier}`);
    assert.equal(l.details.multiplier, 0);
    assert.ok(t.measures.meanKl < l.measures.meanKl, `KL ${t.measures.meanKl} against ${l.measures.meanKl}`);
    assert.ok(t.measures.changed.count <= 200 && l.measures.changed.count <= 200);
    const again = await go(1e-4);
    const bits = (m: Model) => Buffer.concat([...m.graph.initializers.values()].map((i) => Buffer.from((i.tensor!.data as Float32Array).buffer.slice(0))));
    assert.ok(bits(again.models[0]).equals(bits(tight.models[0])), 'same seed, one thread: the same bits');
  });
});
