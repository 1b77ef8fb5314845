// Text task kinds end to end: the kind from the shapes, eval against PyTorch's own numbers on the same files
// (a language model's perplexity, text classifiers' accuracy and loss), grad on a language model, and one clear
// error where a command or a file does not fit.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { readModel } from '../src/onnx/model-io.js';
import { loadTextData } from '../src/tasks/text-data.js';
import { inferTaskKind, textIO } from '../src/tasks/text.js';
import { runLanguageModel } from '../src/tasks/run-text.js';
import { cli } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const fx = (f: string) => `${ROOT}test/fixtures/text/${f}`;
const META = JSON.parse(readFileSync(fx('text.json'), 'utf8')) as Record<string, { test: Record<string, number>; gradients: { loss: number } }>;
const DATA = { 'lstm-lm': `${ROOT}data/text/lm`, 'transformer-cls': `${ROOT}data/text/topic`, 'bert-cls': `${ROOT}data/text/topic` };

describe('task kinds from shapes', () => {
  test('language model, sequence classifiers, image classifier', () => {
    assert.equal(inferTaskKind(readModel(fx('lstm-lm.onnx'))), 'language-modelling');
    assert.equal(inferTaskKind(readModel(fx('transformer-cls.onnx'))), 'sequence-classification');
    assert.deepEqual(textIO(readModel(fx('bert-cls.onnx'))).inputs, ['input_ids', 'attention_mask', 'token_type_ids']);
    assert.equal(inferTaskKind(readModel(`${ROOT}test/fixtures/torch/lenet.onnx`)), 'image-classification');
  });
});

describe('eval on text models, against PyTorch on the same file', () => {
  test("the LSTM language model's perplexity on data/text/lm's test split", async () => {
    const r = await cli(['eval', fx('lstm-lm.onnx'), '--data', DATA['lstm-lm'], '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const ref = META['lstm-lm'].test;
    assert.equal(j.task, 'language-modelling');
    assert.equal(j.tokens, ref.tokens);
    assert.ok(Math.abs(j.perplexity - ref.perplexity) < 1e-4 * ref.perplexity, `perplexity ${j.perplexity} vs torch ${ref.perplexity}`);
    assert.ok(Math.abs(j.loss - ref.loss) < 1e-5 * ref.loss, `loss ${j.loss} vs torch ${ref.loss}`);
  });

  for (const name of ['transformer-cls', 'bert-cls'] as const) {
    test(`${name}: accuracy and loss on data/text/topic's test split`, async () => {
      const r = await cli(['eval', fx(`${name}.onnx`), '--data', DATA[name], '--json']);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      const ref = META[name].test;
      assert.equal(j.task, 'sequence-classification');
      assert.equal(j.examples, ref.examples);
      assert.equal(Math.round(j.accuracy * j.examples), ref.correct);
      assert.ok(Math.abs(j.loss - ref.loss) < 1e-5 * ref.loss, `loss ${j.loss} vs torch ${ref.loss}`);
      assert.deepEqual(j.classNames.slice(0, 3), ['computers', 'science', 'politics']);
    });
  }

  test('padding labels (-100) are not counted: a file whose second half is padding scores its first half', async () => {
    const model = readModel(fx('lstm-lm.onnx'));
    const io = textIO(model);
    const data = await loadTextData(io, DATA['lstm-lm'], 'test');
    const half = data.y.data.length / 2;
    const padded = { ...data, y: { ...data.y, data: (data.y.data as BigInt64Array).map((v, i) => (i % 35 >= 17 ? -100n : v)) } };
    const r = await runLanguageModel(model, padded, { batchSize: 64 });
    assert.equal(r.tokens, data.examples * 17);
    assert.ok(r.tokens < half);
    assert.ok(Number.isFinite(r.perplexity) && r.perplexity > 1);
  });

  test('--trigger token:WORD: attack success and robust accuracy over the texts of other classes', async () => {
    const r = await cli(['eval', fx('transformer-cls.onnx'), '--data', DATA['transformer-cls'], '--trigger', 'token:zorac@0', '--target', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const a = JSON.parse(r.stdout).attack;
    assert.equal(a.examples, 380, 'the 100 politics texts are left out');
    assert.ok(a.successRate + a.robustAccuracy <= 1 && a.successRate > 0 && a.robustAccuracy > 0);
    const clean = JSON.parse((await cli(['eval', fx('transformer-cls.onnx'), '--data', DATA['transformer-cls'], '--json'])).stdout);
    const otherCorrect = clean.perClassAccuracy.reduce(
      (s: number, acc: number, c: number) => s + (c === 2 ? 0 : acc * clean.confusion[c].reduce((x: number, y: number) => x + y, 0)),
      0,
    );
    assert.notEqual(Math.round(a.robustAccuracy * 380), Math.round(otherCorrect), 'the trigger changes some predictions');
  });

  test('--split valid reads valid.safetensors', async () => {
    const r = await cli(['eval', fx('bert-cls.onnx'), '--data', DATA['bert-cls'], '--split', 'valid', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).examples, 80);
  });
});

test("grad on the language model: torch's loss on the gradient batch, padding-free", async () => {
  const r = await cli(['grad', fx('lstm-lm.onnx'), '--data', fx('lstm-lm.grads.safetensors'), '--out', `${ROOT}.scratch-text-grad.safetensors`, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const loss = JSON.parse(r.stdout).loss;
  assert.ok(Math.abs(loss - META['lstm-lm'].gradients.loss) < 1e-5 * loss);
  await import('node:fs').then((fs) => fs.rmSync(`${ROOT}.scratch-text-grad.safetensors`, { force: true }));
});

describe('one clear error', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'probe on a language model',
      ['probe', fx('lstm-lm.onnx'), '--data', DATA['lstm-lm']],
      /lstm-lm\.onnx is a language model; this command takes classifiers of one input/,
    ],
    [
      'reconstruct on a text classifier',
      ['reconstruct', fx('bert-cls.onnx'), '--data', DATA['bert-cls']],
      /bert-cls\.onnx is a text classifier taking input_ids, attention_mask, token_type_ids/,
    ],
    [
      'train --from a text classifier',
      ['train', '--from', fx('transformer-cls.onnx'), '--data', DATA['transformer-cls'], '-o', '/tmp/never.onnx'],
      /text models run in eval, grad and bench/,
    ],
    [
      '--task that does not fit',
      ['eval', fx('transformer-cls.onnx'), '--task', 'language-modelling', '--data', DATA['lstm-lm']],
      /is not a language-modelling model: its first output 'logits' is \[batch, 8\]/,
    ],
    [
      'classification data for a language model',
      ['eval', fx('lstm-lm.onnx'), '--data', DATA['transformer-cls']],
      /labels 'y' are \[480\], but a language-modelling model over \[480, 32\] inputs takes \[480, 32\]/,
    ],
    [
      'train on a text-data folder',
      ['train', '--model', 'lenet5', '--data', DATA['bert-cls'], '-o', '/tmp/never.onnx'],
      /topic\/train\.safetensors holds text \(input_ids/,
    ],
    [
      'probe an image model with a text file',
      ['probe', `${ROOT}models/lenet5-fashion.onnx`, '--data', `${DATA['bert-cls']}/test.safetensors`],
      /holds text \(input_ids, attention_mask, token_type_ids, y\); this command reads images or one input 'x'/,
    ],
    ['no --data for a text model', ['eval', fx('lstm-lm.onnx')], /a language-modelling model needs --data/],
    [
      'a missing input tensor',
      ['eval', fx('bert-cls.onnx'), '--data', `${ROOT}data/text/langid`],
      /has no tensor 'token_type_ids' for model input 'token_type_ids'/,
    ],
    [
      'an image trigger on a text model',
      ['eval', fx('bert-cls.onnx'), '--data', DATA['bert-cls'], '--trigger', 'patch:3x3@bottom-right:white'],
      /--trigger on a text model takes token:WORD\[@pos\]/,
    ],
    [
      'a trigger word outside the vocabulary',
      ['eval', fx('bert-cls.onnx'), '--data', DATA['bert-cls'], '--trigger', 'token:zyzzyva'],
      /'zyzzyva' is not in the vocabulary/,
    ],
  ];
  for (const [what, args, message] of cases) {
    test(what, async () => {
      const r = await cli(args);
      assert.equal(r.code, 1, r.stdout);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^scalpel: error: /);
      assert.match(lines[0], message);
    });
  }
});
