// train and eval end to end: real training on the embedded subset, exported models in plain onnxruntime, bad input.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { cli, type CliResult } from './helpers/cli.js';
import { takeRows } from '../src/data/batches.js';
import { EMBEDDED_SUBSET_DIR, loadImageDataset } from '../src/data/fashion-mnist.js';
import { writeSafetensors } from '../src/data/safetensors.js';
import { getMetadata } from '../src/onnx/metadata.js';
import { readModel } from '../src/onnx/model-io.js';
import { compile } from '../src/runtime/session.js';
import { trainClassifier } from '../src/train/train-classifier.js';

type Result = CliResult;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-train-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function fresh(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  return d;
}

test('train writes a model that learns, records its normalisation, and runs in plain onnxruntime with the same outputs', async () => {
  const out = join(fresh('lenet'), 'lenet.onnx');
  const r = await cli(['train', '--model', 'lenet5', '--epochs', '2', '--seed', '3', '-o', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { test: { accuracy: number }; history: { trainLoss: number }[] };
  assert.ok(report.test.accuracy > 0.65, `test accuracy ${report.test.accuracy}`);
  assert.ok(report.history[1].trainLoss < report.history[0].trainLoss);
  const model = readModel(out);
  assert.deepStrictEqual(JSON.parse(getMetadata(model, 'scalpel.normalization')!), { mean: 0.286, std: 0.353 });
  assert.match(getMetadata(model, 'scalpel.train_command')!, /--model lenet5/);

  const data = loadImageDataset(undefined, 'test');
  const x = takeRows(data.x, [0, 1, 2, 3, 4, 5, 6, 7]);
  const ours = (await (await compile(model)).run({ x }))['logits'];
  const plain = await ort.InferenceSession.create(readFileSync(out));
  const theirs = (await plain.run({ x: new ort.Tensor('float32', x.data as Float32Array, x.dims) }))['logits'];
  assert.deepStrictEqual(Array.from(theirs.data as Float32Array), Array.from(ours.data as Float32Array));

  const e = await cli(['eval', out, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const ev = JSON.parse(e.stdout) as { accuracy: number; confusion: number[][]; perClassAccuracy: number[] };
  assert.equal(ev.accuracy, report.test.accuracy);
  assert.equal(
    ev.confusion.flat().reduce((a, b) => a + b, 0),
    1000,
  );
  assert.equal(ev.perClassAccuracy.length, 10);
});

test('a BadNets-poisoned model learns its backdoor; eval reports the attack success rate', async () => {
  const out = join(fresh('badnets'), 'bad.onnx');
  const trig = 'patch:4x4@bottom-right:white';
  const r = await cli(['train', '--model', 'lenet5', '--epochs', '4', '--poison', trig, '--poison-rate', '0.1', '--target', '0', '-o', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).poisoned, 400);
  const e = JSON.parse((await cli(['eval', out, '--trigger', trig, '--target', '0', '--json'])).stdout) as {
    attack: { successRate: number; examples: number };
  };
  assert.ok(e.attack.successRate > 0.8, `attack success ${e.attack.successRate}`);
  assert.equal(e.attack.examples, 1000 - 107);
});

test('an interrupted run writes no model, and its checkpoint resumes', async () => {
  const d = fresh('interrupt');
  const out = join(d, 'm.onnx');
  const ckpt = join(d, 'run.ckpt');
  const abort = new AbortController();
  let steps = 0;
  const r = await trainClassifier({
    model: 'mlp',
    out,
    epochs: 1,
    checkpoint: ckpt,
    signal: abort.signal,
    onStep: () => {
      if (++steps === 5) abort.abort();
    },
  });
  assert.equal(r.completed, false);
  assert.ok(!existsSync(out), 'no model written by an interrupted run');
  assert.ok(existsSync(ckpt));
  const resumed = await trainClassifier({ model: 'mlp', out, epochs: 1, checkpoint: ckpt, resume: ckpt });
  assert.equal(resumed.completed, true);
  assert.ok(existsSync(out));
  assert.deepStrictEqual(readdirSync(d).sort(), ['m.onnx', 'run.ckpt']);
});

test('bad data gives one clear error and writes nothing', async () => {
  const d = fresh('bad');
  const out = join(d, 'm.onnx');
  const oneLine = (r: Result) => {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^scalpel: error: /);
    assert.ok(!existsSync(out));
  };
  // Images of the wrong size for the model.
  const small = join(d, 'small.safetensors');
  await writeSafetensors(small, {
    x: { dtype: 'float32', dims: [4, 1, 16, 16], data: new Float32Array(4 * 256) },
    y: { dtype: 'int64', dims: [4], data: new BigInt64Array(4) },
  });
  let r = await cli(['train', '--model', 'lenet5', '--data', small, '-o', out]);
  oneLine(r);
  assert.match(r.stderr, /\[1, 16, 16\] do not fit the model input 'x'/);
  // Labels out of range for a 10-class model.
  const wide = join(d, 'wide.safetensors');
  await writeSafetensors(wide, {
    x: { dtype: 'float32', dims: [2, 1, 28, 28], data: new Float32Array(2 * 784) },
    y: { dtype: 'int64', dims: [2], data: BigInt64Array.from([3n, 12n]) },
  });
  r = await cli(['eval', join(dir, 'lenet', 'lenet.onnx'), '--data', wide]);
  oneLine(r);
  assert.match(r.stderr, /label 12 at example 1 is out of range for a model with 10 classes/);
  // Truncated and empty IDX files.
  const idx = join(d, 'idx');
  mkdirSync(idx);
  for (const f of readdirSync(EMBEDDED_SUBSET_DIR)) copyFileSync(join(EMBEDDED_SUBSET_DIR, f), join(idx, f));
  const images = join(idx, 'train-images-idx3-ubyte.gz');
  writeFileSync(images, readFileSync(images).subarray(0, 5000));
  r = await cli(['train', '--model', 'lenet5', '--data', idx, '-o', out]);
  oneLine(r);
  assert.match(r.stderr, /train-images-idx3-ubyte\.gz/);
  writeFileSync(images, '');
  r = await cli(['train', '--model', 'lenet5', '--data', idx, '-o', out]);
  oneLine(r);
  assert.match(r.stderr, /empty/);
  // A missing directory, and two model sources at once.
  r = await cli(['train', '--model', 'lenet5', '--data', join(d, 'nowhere'), '-o', out]);
  oneLine(r);
  assert.match(r.stderr, /data not found/);
  r = await cli(['train', '--model', 'lenet5', '--from', join(dir, 'lenet', 'lenet.onnx'), '-o', out]);
  assert.equal(r.code, 2);
});

test("fine-tuning a model with BatchNorm: batch statistics by default for train, frozen with --batchnorm frozen (harden's default)", async () => {
  const d = fresh('batchnorm');
  // The PyTorch ResNet fixture takes 16×16 images: the centre of 256 embedded training images, as a tensor file.
  const src = loadImageDataset(EMBEDDED_SUBSET_DIR, 'train');
  const rows = [...Array(256).keys()];
  const x28 = takeRows(src.x, rows).data as Float32Array;
  const x = new Float32Array(256 * 256);
  for (let i = 0; i < 256; i++) for (let r = 0; r < 16; r++) x.set(x28.subarray(i * 784 + (r + 6) * 28 + 6, i * 784 + (r + 6) * 28 + 22), i * 256 + r * 16);
  const data = join(d, 'crops.safetensors');
  await writeSafetensors(data, { x: { dtype: 'float32', dims: [256, 1, 16, 16], data: x }, y: takeRows(src.y, rows) });
  const model = new URL('./fixtures/torch/resnet.onnx', import.meta.url).pathname;
  const stat = (file: string) => Array.from(readModel(file).graph.initializers.get('bn1.running_mean')!.tensor!.data as Float32Array);
  const base = ['train', '--from', model, '--data', data, '--epochs', '1', '--batch', '32', '--validation', '0', '--lr', '0.01'];
  for (const [mode, moves] of [
    [undefined, true],
    ['frozen', false],
  ] as const) {
    const out = join(d, `${mode ?? 'default'}.onnx`);
    const r = await cli([...base, ...(mode ? ['--batchnorm', mode] : []), '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.stringify(stat(out)) !== JSON.stringify(stat(model)), moves, `running statistics with --batchnorm ${mode ?? '(default)'}`);
  }
  assert.match((await cli(['harden', '--help'])).stdout, /--batchnorm <mode>[\s\S]*default: "frozen"/);
  assert.match((await cli(['train', '--help'])).stdout, /--batchnorm <mode>[\s\S]*default: "batch"/);
});
