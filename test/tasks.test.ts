// src/tasks/: one way in for a user's model — classifier facts and refusals, the normalisation choice, and the one
// runner (padded for graphs that hard-code their batch), checked on PyTorch exports scalpel did not make.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { buildModel } from '../src/models/index.js';
import { getMetadata } from '../src/onnx/metadata.js';
import { readModel } from '../src/onnx/model-io.js';
import { checkClass, checkDataFits, classifierIO, imageShape } from '../src/tasks/classifier.js';
import { chooseNormalization, parseNormalization, renormalize } from '../src/tasks/normalization.js';
import { openClassifier } from '../src/tasks/open.js';
import { argmax, runClassifier } from '../src/tasks/run.js';
import { loadTaskData } from '../src/tasks/task-data.js';

const FIX = 'test/fixtures/user';
const ref = JSON.parse(readFileSync(`${FIX}/user.json`, 'utf8')) as { pixels01: { correct: number; testExamples: number; loss: number } };

describe('classifier facts', () => {
  test('a classifier: input, output, classes, image shape; no fixed batch once freed', async () => {
    const task = await openClassifier('models/lenet5-fashion.onnx');
    assert.equal(task.kind, 'image-classification');
    assert.equal(task.classes, 10);
    assert.equal(task.fixedBatch, undefined);
    assert.deepEqual(imageShape(task), { channels: 1, height: 28, width: 28 });
    assert.equal(task.input, task.model.graph.inputs[0].name);
    assert.equal(task.output, task.model.graph.outputs[0].name);
  });

  test('a graph that hard-codes its batch keeps it, and says so', async () => {
    const notes: string[] = [];
    const task = await openClassifier(`${FIX}/merged-static.onnx`, { normalize: { mean: 0, std: 1 }, onNote: (n) => notes.push(n) });
    assert.equal(task.fixedBatch, 32);
    assert.match(notes.join('\n'), /graph depends on it/);
  });

  test('a model that is not a classifier is refused with one sentence naming it', () => {
    const one = buildModel('mlp', { width: 4, classes: 1 });
    assert.throws(
      () => classifierIO(one, 'one.onnx'),
      /^Error: one.onnx is not a classifier: its first output 'logits' is \[batch, 1\], not logits \[batch, classes\] with at least 2 classes$/,
    );
    // 784 outputs per example is not a classifier of 10-class data, whatever the shape allows.
    const wide = buildModel('mlp', { width: 4, classes: 784 });
    return loadLabelledData(undefined, 'test').then((test) => {
      assert.throws(() => checkDataFits(wide, test), /gives 784 values per example, but .* has 10 classes/);
    });
  });

  test('labels given by the user are checked against the classes', () => {
    assert.doesNotThrow(() => checkClass(10, 9, 'target'));
    assert.throws(() => checkClass(10, 10, 'target'), /target 10 is out of range: the model has classes 0 to 9/);
    assert.throws(() => checkClass(10, -1, 'source'), /source -1 is out of range/);
    assert.throws(() => checkClass(10, 1.5, 'target'), /out of range/);
  });

  test('image work refuses a classifier of token sequences', () => {
    const text = readModel('test/fixtures/torch/transformer.onnx');
    assert.throws(() => imageShape(text, 'text.onnx'), /text.onnx does not take images: its input '.*' is \[/);
  });
});

describe('normalisation', () => {
  test('the flag wins, then the metadata, then an assumed one with one warning that a written model keeps as assumed', () => {
    const m = readModel(`${FIX}/pixels01-dynamic.onnx`);
    const warnings: string[] = [];
    const assumed = chooseNormalization(m, { onWarning: (w) => warnings.push(w), name: 'user.onnx' });
    assert.equal(assumed.source, 'assumed');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /user.onnx records no input normalisation; assuming Fashion-MNIST's/);
    // The guess is recorded so that data follow it, but as a guess: choosing again warns again.
    assert.equal(chooseNormalization(m, { onWarning: (w) => warnings.push(w) }).source, 'assumed');
    assert.equal(warnings.length, 2);
    const given = chooseNormalization(m, { given: { mean: 0.5, std: 0.5 } });
    assert.deepEqual(given, { mean: 0.5, std: 0.5, source: 'flag' });
    assert.deepEqual(chooseNormalization(m, { onWarning: (w) => warnings.push(w) }), { mean: 0.5, std: 0.5, source: 'model' });
    assert.equal(warnings.length, 2);
    assert.equal(JSON.parse(getMetadata(m, 'scalpel.normalization')!).mean, 0.5);
  });

  test("float tensor files are the user's business: nothing is assumed or warned", () => {
    const m = readModel(`${FIX}/pixels01-dynamic.onnx`);
    const warnings: string[] = [];
    assert.equal(chooseNormalization(m, { images: false, onWarning: (w) => warnings.push(w) }).source, 'assumed');
    assert.deepEqual(warnings, []);
    assert.equal(getMetadata(m, 'scalpel.normalization'), undefined);
  });

  test('parse and re-normalise: per channel, none, and bad values', () => {
    assert.deepEqual(parseNormalization('none'), { mean: 0, std: 1 });
    assert.deepEqual(parseNormalization('0.5/0.4/0.3,0.2/0.2/0.2'), { mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] });
    assert.throws(() => parseNormalization('0.5,0'), /std > 0/);
    assert.throws(() => parseNormalization('0.5/0.4,0.2/0.2/0.2'), /2 means but 3 standard deviations/);
    const data = {
      x: { dtype: 'float32' as const, dims: [1, 1, 1, 2], data: Float32Array.of(0, 1) },
      y: { dtype: 'int64' as const, dims: [1], data: BigInt64Array.of(0n) },
      classes: 1,
      source: 't',
      normalization: { mean: 0, std: 1 },
    };
    const r = renormalize(data, { mean: 0.5, std: 0.5 });
    assert.deepEqual(Array.from(r.x.data as Float32Array), [-1, 1]);
  });
});

describe('the runner', () => {
  test('arg-max per row, the first on ties', () => {
    assert.deepEqual(Array.from(argmax(Float32Array.of(0, 2, 1, 5, 3, 4, 1, 1, 0), 3)), [1, 0, 0]);
  });

  test('a fixed-batch export runs padded and matches PyTorch; the same predictions as the dynamic export', async () => {
    const fixed = await openClassifier(`${FIX}/merged-static.onnx`, { normalize: { mean: 0, std: 1 } });
    const dynamic = await openClassifier(`${FIX}/pixels01-dynamic.onnx`, { normalize: { mean: 0, std: 1 } });
    const test = await loadTaskData(fixed.model, undefined, 'test');
    const a = await runClassifier(fixed.model, test, { batchSize: 100 });
    const b = await runClassifier(dynamic.model, test.x, { batchSize: 7 });
    assert.equal(a.examples, ref.pixels01.testExamples);
    assert.equal(Math.round(a.report!.accuracy * a.examples), ref.pixels01.correct);
    assert.ok(Math.abs(a.report!.loss - ref.pixels01.loss) < 1e-4);
    assert.equal(b.report, undefined);
    assert.deepEqual(Array.from(a.predictions), Array.from(b.predictions));
    let progressCalls = 0;
    await runClassifier(fixed.model, test, { onProgress: () => progressCalls++ });
    assert.equal(progressCalls, Math.ceil(1000 / 32));
  });
});
