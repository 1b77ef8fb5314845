// scalpel inject on the command line: a run end to end (model, metadata, JSON, HTML), a sweep's files, and every bad
// input the issue lists: one `scalpel: error:` line naming the flag, exit 1 (2 for usage), nothing written.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.js';
import { assertChartsDrawn, needsChromium } from './helpers/chromium.js';
import { assertSelfContained } from './helpers/html-page.js';
import { takeRows } from '../src/data/batches.js';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { writeSafetensors } from '../src/data/safetensors.js';
import { getMetadata } from '../src/onnx/metadata.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { buildModel } from '../src/models/index.js';
import type { InjectReport } from '../src/surgery/inject.js';
import { applyDelta, changedCount, deltaBetween } from '../src/params/delta.js';
import { readDelta } from '../src/params/delta-file.js';
import { trainClassifier } from '../src/train/train-classifier.js';

let dir: string;
let modelPath: string;
const FAST = ['--train-examples', '300', '--test-examples', '200', '--steps', '40', '--batch', '32'];
const TRIGGER = 'trigger:patch:4x4@bottom-right:white';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-inject-cli-'));
  modelPath = join(dir, 'mlp.onnx');
  await trainClassifier({ model: 'mlp', width: 16, epochs: 1, batchSize: 32, lr: 0.05, seed: 1, validation: 0, out: modelPath });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function fresh(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  return d;
}

describe('a run end to end', () => {
  let out: string;
  let report: InjectReport;
  let stdout = '';
  let stderr = '';
  before(async () => {
    const d = fresh('run');
    out = join(d, 'edited.onnx');
    const r = await cli([
      'inject',
      modelPath,
      '--pattern',
      TRIGGER,
      '--target',
      '2',
      '--budget',
      '150',
      ...FAST,
      '-o',
      out,
      '--delta',
      join(d, 'edit.safetensors'),
      '--json',
      join(d, 'r.json'),
      '--html',
      join(d, 'r.html'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    stdout = r.stdout;
    stderr = r.stderr;
    report = JSON.parse(readFileSync(join(d, 'r.json'), 'utf8')) as InjectReport;
  });

  test('the edited model changes exactly the reported parameters and records the command and a summary', () => {
    const edited = readModel(out);
    const n = changedCount(deltaBetween(readModel(modelPath), edited));
    assert.equal(report.runs[0].measures.changed.count, n);
    assert.ok(n <= 150 && n > 100, `changed ${n}`);
    assert.match(getMetadata(edited, 'scalpel.inject_command')!, /^scalpel inject .* --budget 150 /);
    const summary = JSON.parse(getMetadata(edited, 'scalpel.inject')!) as { method: string; changed: number; success: number };
    assert.equal(summary.method, 'dynamic');
    assert.equal(summary.changed, n);
    assert.equal(summary.success, report.runs[0].measures.success.after);
    assert.equal(getMetadata(edited, 'scalpel.normalization'), getMetadata(readModel(modelPath), 'scalpel.normalization'));
  });

  test('scalpel diff counts exactly the reported change, and the delta file re-creates the edited model', async () => {
    const n = report.runs[0].measures.changed.count;
    const d = await cli(['diff', modelPath, out, '--json']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal((JSON.parse(d.stdout) as { changed: number }).changed, n);
    const delta = await readDelta(join(dir, 'run', 'edit.safetensors'));
    assert.equal(changedCount(delta), n);
    assert.match(delta.metadata.command ?? JSON.stringify(delta.metadata), /scalpel inject/);
    const rebuilt = applyDelta(readModel(modelPath), delta);
    assert.equal(changedCount(deltaBetween(readModel(out), rebuilt)), 0);
  });

  test('the text report has the run, the changed layers and the flip matrix', () => {
    assert.match(stdout, /pattern: patch:4x4@bottom-right:white on classes ≠ 2 → class 2/);
    assert.match(stdout, new RegExp(`dynamic\\s+150\\s+${report.runs[0].measures.changed.count}\\s`));
    assert.match(stdout, /changed parameters by layer/);
    assert.match(stdout, /flip matrix on the clean test inputs/);
    assert.match(stderr, /^wrote .*edited\.onnx, .*edit\.safetensors, .*r\.html and .*r\.json$/m);
  });

  test('the HTML page is self-contained and holds both charts and the flip matrix', () => {
    const html = readFileSync(join(dir, 'run', 'r.html'), 'utf8');
    assertSelfContained(html);
    assert.match(html, /<canvas id="chart-success">/);
    assert.match(html, /<canvas id="chart-consistency">/);
    assert.match(html, /<table class="flips">/);
  });
});

describe('the HTML page in a browser', needsChromium, () => {
  test('draws its charts', async () => {
    await assertChartsDrawn(readFileSync(join(dir, 'run', 'r.html'), 'utf8'), 2);
  });
});

test('--sweep runs methods × budgets and writes one model per run', async () => {
  const d = fresh('sweep');
  const r = await cli([
    'inject',
    modelPath,
    '--pattern',
    TRIGGER,
    '--target',
    '0',
    ...FAST,
    '--sweep',
    'dynamic,select:random,finetune',
    '--budgets',
    '20,all',
    '-o',
    join(d, 'm.onnx'),
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as InjectReport;
  assert.deepEqual(
    report.runs.map((x) => `${x.method}@${x.budgetText}`),
    ['dynamic@20', 'dynamic@all', 'select:random@20', 'select:random@all', 'finetune@all'],
  );
  assert.deepEqual(readdirSync(d).sort(), [
    'm.dynamic.20.onnx',
    'm.dynamic.all.onnx',
    'm.finetune.all.onnx',
    'm.select-random.20.onnx',
    'm.select-random.all.onnx',
  ]);
  const base = readModel(modelPath);
  for (const x of report.runs) {
    const file = join(d, `m.${x.method.replace(':', '-')}.${x.budgetText}.onnx`);
    assert.equal(changedCount(deltaBetween(base, readModel(file))), x.measures.changed.count, file);
  }
  assert.ok(report.runs[0].measures.changed.count <= 20);
});

describe('bad input: one line naming the flag, exit 1 (2 for usage), nothing written', () => {
  let examples: string;
  let notClassifier: string;
  before(async () => {
    const data = loadImageDataset(undefined, 'test');
    examples = join(dir, 'wrong-shape.safetensors');
    const x = takeRows(data.x, [0, 1, 2, 3]);
    await writeSafetensors(
      examples,
      new Map([
        ['x', { ...x, dims: [4, 1, 14, 56] }],
        ['y', { dtype: 'int64', dims: [4], data: BigInt64Array.of(0n, 1n, 2n, 3n) }],
      ]),
    );
    notClassifier = join(dir, 'one-output.onnx');
    writeModel(buildModel('mlp', { width: 4, classes: 1 }), notClassifier);
  });

  const cases: [string, (d: string) => string[], number, RegExp][] = [
    ['budget 0', (d) => ['--pattern', TRIGGER, '--target', '0', '--budget', '0', '-o', join(d, 'o.onnx')], 2, /--budget.*count '0' is not a count/],
    [
      'budget above the selectable parameters',
      (d) => ['--pattern', TRIGGER, '--target', '0', '--budget', '99999999', '-o', join(d, 'o.onnx')],
      1,
      /--budget: budget 99999999 is more than the \d+ parameters that may change/,
    ],
    [
      'budget above a --params selection',
      (d) => ['--pattern', TRIGGER, '--target', '0', '--params', 'layer:fc3', '--budget', '91', '-o', join(d, 'o.onnx')],
      1,
      /--budget: budget 91 is more than the 90 parameters that may change/,
    ],
    [
      'a trigger larger than the image',
      (d) => ['--pattern', 'trigger:patch:30x30@bottom-right:white', '--target', '0', '-o', join(d, 'o.onnx')],
      1,
      /--pattern trigger:patch:30x30@bottom-right:white: a 30×30 patch .* does not fit in a 28×28 image/,
    ],
    [
      'a target out of range',
      (d) => ['--pattern', TRIGGER, '--target', '10', '-o', join(d, 'o.onnx')],
      1,
      /--target 10 is out of range: the model has classes 0 to 9/,
    ],
    ['a source out of range', (d) => ['--pattern', TRIGGER, '--target', '0', '--source', '12', '-o', join(d, 'o.onnx')], 1, /--source 12 is out of range/],
    [
      '--holdout with a trigger',
      (d) => ['--pattern', TRIGGER, '--target', '0', '--holdout', '0.5', '-o', join(d, 'o.onnx')],
      1,
      /--holdout belongs to examples patterns/,
    ],
    ['a trigger without a target', (d) => ['--pattern', TRIGGER, '-o', join(d, 'o.onnx')], 1, /--target is required/],
    [
      'an examples file whose shapes do not fit',
      (d) => ['--pattern', `examples:${examples}`, '-o', join(d, 'o.onnx')],
      1,
      /--pattern examples:.*wrong-shape\.safetensors: .*\[1, 14, 56\] do not fit the model input 'x'/,
    ],
    [
      'a missing examples file',
      (d) => ['--pattern', `examples:${join(d, 'nope.npz')}`, '-o', join(d, 'o.onnx')],
      1,
      /--pattern examples:.*nope\.npz: data not found/,
    ],
    [
      'finetune with a budget below all',
      (d) => ['--pattern', TRIGGER, '--target', '0', '--method', 'finetune', '--budget', '10', '-o', join(d, 'o.onnx')],
      1,
      /--budget 10: finetune changes every selected parameter/,
    ],
    [
      'a bad selector',
      (d) => ['--pattern', TRIGGER, '--target', '0', '--params', 'kind:wheels', '-o', join(d, 'o.onnx')],
      1,
      /--params: unknown parameter kind 'wheels'/,
    ],
    ['an unknown method', (d) => ['--pattern', TRIGGER, '--target', '0', '--method', 'magic', '-o', join(d, 'o.onnx')], 2, /--method.*unknown method 'magic'/],
    ['a sweep without budgets', (d) => ['--pattern', TRIGGER, '--target', '0', '--sweep', 'dynamic', '-o', join(d, 'o.onnx')], 2, /--sweep needs --budgets/],
    ['no output', () => ['--pattern', TRIGGER, '--target', '0'], 2, /give -o FILE\.onnx/],
    [
      'a bad pattern kind',
      (d) => ['--pattern', 'stamp:4', '--target', '0', '-o', join(d, 'o.onnx')],
      2,
      /--pattern.*expected trigger:SPEC .* or examples:FILE, got 'stamp:4'/,
    ],
    ['a negative target', (d) => ['--pattern', TRIGGER, '--target', '-1', '-o', join(d, 'o.onnx')], 2, /--target.*expected a whole number/],
    [
      '--html and -o on one file',
      (d) => ['--pattern', TRIGGER, '--target', '0', '-o', join(d, 'o.onnx'), '--html', join(d, 'o.onnx')],
      2,
      /-o and --html name the same file/,
    ],
  ];
  for (const [what, args, code, message] of cases) {
    test(what, async () => {
      const d = fresh(what.replace(/\W+/g, '-'));
      const r = await cli(['inject', modelPath, ...FAST, ...args(d)]);
      assert.equal(r.code, code, r.stderr);
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
      assert.match(r.stderr, /^scalpel: error: /);
      assert.match(r.stderr, message);
      assert.deepEqual(readdirSync(d), []);
    });
  }

  test('the output is the input model', async () => {
    const d = fresh('same');
    const copy = join(d, 'm.onnx');
    copyFileSync(modelPath, copy);
    const r = await cli(['inject', copy, ...FAST, '--pattern', TRIGGER, '--target', '0', '-o', copy]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^scalpel: error: refusing to overwrite the input model file .* \(-o /);
    assert.deepEqual(readdirSync(d), ['m.onnx']);
    assert.deepEqual(readFileSync(copy), readFileSync(modelPath));
  });

  test('a model without a classifier output', async () => {
    const d = fresh('not-classifier');
    const r = await cli(['inject', notClassifier, ...FAST, '--pattern', TRIGGER, '--target', '0', '-o', join(d, 'o.onnx')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^scalpel: error: .*one-output\.onnx is not a classifier: its first output 'logits' is \[batch, 1\]/);
    assert.deepEqual(readdirSync(d), []);
  });

  test('help reads like a man page', async () => {
    const r = await cli(['help', 'inject']);
    assert.equal(r.code, 0, r.stderr);
    for (const s of ['--pattern', '--budget', 'dynamic', 'lagrange', 'select', 'finetune', 'consistency', 'Examples:']) assert.ok(r.stdout.includes(s), s);
  });
});
