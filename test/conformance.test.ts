// Issue 16: every command against a matrix of users' models (scripts/export-conformance-fixtures.py). Each cell either
// reproduces PyTorch's numbers (the baseline the command reports: exact correct count, loss to 1e-4) or refuses with
// one `scalpel: error:` line and exit status 1.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeTriggerFile } from '../src/data/trigger-file.js';
import { getMetadata } from '../src/onnx/metadata.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { parseNormalization } from '../src/tasks/normalization.js';
import { cli, type CliResult } from './helpers/cli.js';

const FIX = 'test/fixtures/conformance';

/** PyTorch's results on a classifier's test split (conformance.json). */
interface Reference {
  file: string;
  normalize: string;
  data: string;
  testExamples: number;
  correct: number;
  loss: number;
  perExampleCorrect: string;
}

interface Fixture {
  name: string;
  file: string;
  /** The --normalize a user would pass. */
  normalize: string;
  data?: string;
  /** [C, H, W] of the images. */
  image: [number, number, number];
  /** PyTorch's results (classifiers only). */
  ref?: Reference;
  /** Commands this model must refuse, with what the error says. */
  refuses: Partial<Record<CellName, RegExp>>;
  /** The fixture whose located.json repair --located gets (default its own). */
  locatedFrom?: string;
  /** A note every command must print on opening this model (each opens it through the same layer). */
  note?: RegExp;
}

const refs = JSON.parse(readFileSync(`${FIX}/conformance.json`, 'utf8')) as Record<string, Reference>;

function classifier(name: string, refuses: Fixture['refuses'] = {}, locatedFrom?: string): Fixture {
  const ref = refs[name];
  const rgb = name === 'rgb32';
  return {
    name,
    file: `${FIX}/${ref.file}`,
    normalize: ref.normalize,
    data: ref.data === 'embedded' ? undefined : ref.data,
    image: rgb ? [3, 32, 32] : [1, 28, 28],
    ref,
    refuses,
    locatedFrom,
  };
}

const COMMANDS = [
  'eval',
  'train',
  'probe',
  'harden',
  'inject',
  'reconstruct',
  'locate',
  'repair:unlearn',
  'repair:fine-prune',
  'repair:finetune',
  'repair:flip',
  'repair:neuron-finetune',
] as const;
type CellName = (typeof COMMANDS)[number];

/** Every command refuses a non-classifier, saying so. */
const notClassifier = (what: RegExp): Fixture['refuses'] => Object.fromEntries(COMMANDS.map((c) => [c, what]));
/** Commands that differentiate through the graph at batch sizes of their own choosing refuse a graph that hard-codes its batch. */
const fixedBatchRefusal = /hard-codes its batch size at 32.*dynamic batch/;

/** A located.json made for another model. */
const otherModel = /made for another model|not this model|another model/;

const FIXTURES: Fixture[] = [
  { ...classifier('opset11'), note: /converted from opset 11 to 13 on load/ },
  classifier('named-io'),
  classifier('pixels01'),
  classifier('custom-norm'),
  classifier('rgb32'),
  // locate refuses this model, so repair --located gets another model's file, and must refuse it.
  {
    ...classifier(
      'merged-batch32',
      {
        inject: fixedBatchRefusal,
        reconstruct: fixedBatchRefusal,
        locate: fixedBatchRefusal,
        'repair:flip': otherModel,
        'repair:neuron-finetune': otherModel,
      },
      'custom-norm',
    ),
    note: /fixes the batch size at 32 and the graph depends on it/,
  },
  { name: 'autoencoder', file: `${FIX}/autoencoder.onnx`, normalize: 'none', image: [1, 28, 28], refuses: notClassifier(/not a classifier/) },
  { name: 'regression', file: `${FIX}/regression.onnx`, normalize: 'none', image: [1, 28, 28], refuses: notClassifier(/not a classifier/) },
];

const tmp = mkdtempSync(join(tmpdir(), 'scalpel-conformance-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A mask trigger for images of shape [C, H, W]: a white square over the middle, which changes many predictions. */
const triggerFile = (c: number, h: number, w: number) => join(tmp, `trigger-${c}x${h}x${w}.safetensors`);
before(async () => {
  for (const [c, h, w] of [
    [1, 28, 28],
    [3, 32, 32],
  ] as const) {
    const mask = new Float32Array(h * w);
    for (let r = h / 2 - 6; r < h / 2 + 6; r++) for (let k = w / 2 - 6; k < w / 2 + 6; k++) mask[r * w + k] = 1;
    await writeTriggerFile(triggerFile(c, h, w), { type: 'mask', size: [h, w], channels: c, mask, pattern: new Float32Array(c * h * w).fill(1) });
  }
});

const located = (f: Fixture) => join(tmp, `${f.locatedFrom ?? f.name}-located.json`);

/** The command line of a cell; `normalize` false leaves --normalize out. */
function argv(cell: CellName, f: Fixture, normalize = true): string[] {
  const common = [...(normalize ? ['--normalize', f.normalize] : []), ...(f.data ? ['--data', f.data] : [])];
  const out = (ext: string) => ['-o', join(tmp, `${f.name}-${cell.replace(':', '-')}-${normalize ? 'n' : 'a'}${ext}`)];
  const trigger = triggerFile(...f.image);
  const defender = ['--defender-data', '200'];
  const [command, method] = cell.split(':');
  switch (cell) {
    case 'eval':
      return ['eval', f.file, ...common, '--json'];
    case 'train': // --lr 0 and frozen BatchNorms: the model is unchanged, so the final test equals PyTorch's
      return ['train', '--from', f.file, ...common, '--epochs', '1', '--lr', '0', '--batchnorm', 'frozen', ...out('.onnx'), '--json'];
    case 'probe':
      return ['probe', f.file, ...common, '--eps', '0.01', '--n', '10', '--norm', 'inf', '--method', 'gradient', '--max-examples', '64', '--json'];
    case 'harden':
      return ['harden', f.file, ...common, '--eps', '0.05', '--epochs', '1', '--sweep-eps2', '0.1', '--sweep-eps-inf', '0.01', ...out('.onnx'), '--json'];
    case 'inject':
      return [
        'inject',
        f.file,
        ...common,
        '--pattern',
        'trigger:patch:4x4@bottom-right:white',
        '--target',
        '0',
        '--method',
        'select',
        '--steps',
        '2',
        '--budget',
        '10',
        '--train-examples',
        '200',
        '--test-examples',
        '200',
        ...out('.onnx'),
        '--json',
      ];
    case 'reconstruct':
      return ['reconstruct', f.file, ...common, '--labels', '0,1', '--steps', '2', ...defender, ...out(''), '--json'];
    case 'locate':
      return [
        'locate',
        f.file,
        ...common,
        '--errors',
        `trigger:${trigger}`,
        '--pairs',
        '3',
        ...defender,
        '-o',
        normalize ? located(f) : join(tmp, `${f.name}-located-a.json`),
        '--json',
      ];
    case 'repair:unlearn':
      return [
        'repair',
        f.file,
        ...common,
        '--method',
        method,
        '--oracle-trigger',
        `file:${trigger}`,
        '--target',
        '0',
        ...defender,
        '--epochs',
        '1',
        ...out('.onnx'),
        '--json',
      ];
    case 'repair:fine-prune':
    case 'repair:finetune':
      return ['repair', f.file, ...common, '--method', method, ...defender, '--epochs', '1', ...out('.onnx'), '--json'];
    case 'repair:flip':
      return [
        'repair',
        f.file,
        ...common,
        '--method',
        method,
        '--located',
        located(f),
        '--oracle-trigger',
        `file:${trigger}`,
        '--target',
        '0',
        ...defender,
        ...out('.onnx'),
        '--json',
      ];
    case 'repair:neuron-finetune':
      return [
        'repair',
        f.file,
        ...common,
        '--method',
        method,
        '--located',
        located(f),
        '--clean',
        '50',
        ...defender,
        '--epochs',
        '1',
        ...out('.onnx'),
        '--json',
      ];
  }
  throw new Error(`no cell ${command}`);
}

/** PyTorch's correct count on the first n test examples. */
function correctOn(ref: Reference, n: number): number {
  return [...ref.perExampleCorrect.slice(0, n)].filter((c) => c === '1').length;
}

/** The baseline a command reports, and on how many test examples: correct count, and mean loss where it reports one. */
function baseline(cell: CellName, r: Record<string, any>): { examples: number; correct: number; loss?: number } {
  const count = (acc: number, n: number) => Math.round(acc * n);
  switch (cell) {
    case 'eval':
      return { examples: r.examples, correct: count(r.accuracy, r.examples), loss: r.loss };
    case 'train':
      return { examples: r.test.examples, correct: count(r.test.accuracy, r.test.examples), loss: r.test.loss };
    case 'probe':
      return { examples: r.examples, correct: count(r.baseline.accuracy, r.examples), loss: r.baseline.loss };
    case 'harden': {
      const b = r.comparison.clean.baseline;
      return { examples: r.comparison.examples, correct: count(b.accuracy, r.comparison.examples), loss: b.loss };
    }
    case 'inject':
      assert.equal(r.runs[0].measures.clean.before, r.baseline.cleanAccuracy);
      return { examples: r.examples.cleanTest, correct: count(r.baseline.cleanAccuracy, r.examples.cleanTest) };
    default:
      return { examples: r.before.examples, correct: count(r.before.acc, r.before.examples) };
  }
}

/** Where a command ran without reporting a baseline, what shows it did its work. */
function checkOutputs(cell: CellName, f: Fixture, r: Record<string, any>): void {
  if (cell === 'reconstruct') {
    assert.deepEqual(
      r.labels.map((l: { label: number }) => l.label),
      [0, 1],
    );
    for (const l of r.labels) assert.ok(existsSync(join(r.out, l.files.trigger)), `${l.files.trigger} written`);
  }
  if (cell === 'locate') {
    assert.ok(r.pairs >= 1 && r.pairs <= 3, `pairs ${r.pairs}`);
    assert.ok(existsSync(located(f)));
  }
}

/** Stderr lines other than scalpel's own notes and warnings (raw runtime logs, stack traces, progress noise). */
function foreignLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !/^scalpel: (note|warning): /.test(l) && !/^wrote /.test(l));
}

function checkRefusal(label: string, r: CliResult, expected: RegExp | undefined): void {
  assert.equal(r.code, 1, `${label}: exit ${r.code}, expected 1 (stdout ${r.stdout.slice(0, 300)})\n${r.stderr}`);
  const lines = foreignLines(r.stderr);
  assert.equal(lines.length, 1, `${label}: expected one error line, got:\n${r.stderr}`);
  assert.match(lines[0], /^scalpel: error: /, label);
  assert.doesNotMatch(lines[0], /internal error/, label);
  if (expected) assert.match(lines[0], expected, label);
}

const REPORTS_BASELINE = new Set<CellName>([
  'eval',
  'train',
  'probe',
  'harden',
  'inject',
  'repair:unlearn',
  'repair:fine-prune',
  'repair:finetune',
  'repair:flip',
  'repair:neuron-finetune',
]);

for (const f of FIXTURES) {
  test(`conformance: ${f.name}`, async (t) => {
    for (const cell of COMMANDS) {
      await t.test(cell, async () => {
        const args = argv(cell, f);
        const label = `${f.name} × ${cell}: scalpel ${args.join(' ')}`;
        const r = await cli(['--threads', '1', ...args]);
        const refusal = f.refuses[cell];
        if (refusal || !f.ref) return checkRefusal(label, r, refusal);
        assert.equal(r.code, 0, `${label}\n${r.stderr}`);
        assert.deepEqual(foreignLines(r.stderr), [], label);
        const report = JSON.parse(r.stdout) as Record<string, any>;
        assert.equal(report.normalization.source, 'flag', label);
        if (f.note) assert.match(r.stderr, f.note, label);
        checkOutputs(cell, f, report);
        // A written model records the normalisation it was given.
        const out = args[args.indexOf('-o') + 1];
        if (args.includes('-o') && out.endsWith('.onnx')) {
          const recorded = getMetadata(readModel(out), 'scalpel.normalization');
          assert.deepEqual(JSON.parse(recorded ?? 'null'), parseNormalization(f.normalize), `${label}: ${out} records ${recorded}`);
        }
        if (!REPORTS_BASELINE.has(cell)) return;
        const b = baseline(cell, report);
        const want = b.examples === f.ref.testExamples ? f.ref.correct : correctOn(f.ref, b.examples);
        assert.ok(b.examples >= 1 && b.examples <= f.ref.testExamples, `${label}: ${b.examples} examples`);
        assert.equal(b.correct, want, `${label}: ${b.correct} correct of ${b.examples}, PyTorch ${want}`);
        if (b.loss !== undefined) {
          assert.equal(b.examples, f.ref.testExamples, label);
          assert.ok(Math.abs(b.loss - f.ref.loss) < 1e-4, `${label}: loss ${b.loss}, PyTorch ${f.ref.loss}`);
        }
      });
    }
  });
}

test('conformance: without --normalize, every command prints one warning line naming the assumption', async (t) => {
  const f = FIXTURES.find((x) => x.name === 'custom-norm')!;
  for (const cell of COMMANDS) {
    await t.test(cell, async () => {
      const r = await cli(['--threads', '1', ...argv(cell, f, false)]);
      const warnings = r.stderr.split('\n').filter((l) => l.startsWith('scalpel: warning:'));
      assert.equal(warnings.length, 1, `${cell}: ${r.stderr}`);
      assert.match(warnings[0], /records no input normalisation; assuming Fashion-MNIST's/);
      // The run goes on under the assumed normalisation, or refuses for a reason of its own in one line.
      if (r.code !== 0) checkRefusal(cell, r, undefined);
      else assert.equal((JSON.parse(r.stdout) as { normalization: { source: string } }).normalization.source, 'assumed');
    });
  }
});

test('conformance: a class label out of range is refused in one line before any work, by every command that takes one', async (t) => {
  for (const f of FIXTURES.filter((x) => x.ref)) {
    const common = ['--normalize', f.normalize, ...(f.data ? ['--data', f.data] : [])];
    const out = join(tmp, `${f.name}-range.onnx`);
    const trigger = ['patch:4x4@bottom-right:white'];
    const cells: [string, string[]][] = [
      ['eval --target', ['eval', f.file, ...common, '--trigger', ...trigger, '--target', '10']],
      ['inject --target', ['inject', f.file, ...common, '--pattern', `trigger:${trigger}`, '--target', '10', '--steps', '2', '-o', out]],
      ['inject --source', ['inject', f.file, ...common, '--pattern', `trigger:${trigger}`, '--target', '0', '--source', '10', '--steps', '2', '-o', out]],
      ['reconstruct --labels', ['reconstruct', f.file, ...common, '--labels', '0,10', '--steps', '2']],
      [
        'repair --target',
        ['repair', f.file, ...common, '--method', 'unlearn', '--oracle-trigger', ...trigger, '--target', '99', '--epochs', '1', '-o', out, '--json'],
      ],
      [
        'repair --eval-target',
        ['repair', f.file, ...common, '--method', 'finetune', '--eval-trigger', ...trigger, '--eval-target', '10', '--epochs', '1', '-o', out, '--json'],
      ],
    ];
    for (const [what, args] of cells) {
      await t.test(`${f.name}: ${what}`, async () => {
        const r = await cli(['--threads', '1', ...args]);
        // A model that this command refuses as a whole is refused for that reason first.
        const cell = what.split(' ')[0] as CellName;
        checkRefusal(`${f.name} ${what}`, r, f.refuses[cell] ?? /out of range/);
        assert.equal(existsSync(out), false, 'nothing written');
      });
    }
  }
});

test("conformance: locate --errors misclassified on a model whose input is named 'image'", async () => {
  const model = readModel(`${FIX}/named-io.onnx`);
  const old = model.graph.inputs[0].name;
  model.graph.inputs[0].name = 'image';
  for (const n of model.graph.nodes) n.inputs = n.inputs.map((i) => (i === old ? 'image' : i));
  const file = join(tmp, 'input-named-image.onnx');
  writeModel(model, file);
  const out = join(tmp, 'image-located.json');
  const r = await cli([
    '--threads',
    '1',
    'locate',
    file,
    '--normalize',
    '0.286,0.353',
    '--errors',
    'misclassified',
    '--pairs',
    '2',
    '--mask-steps',
    '30',
    '--defender-data',
    '100',
    '-o',
    out,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const located = JSON.parse(r.stdout) as { source: string; pairs: number };
  assert.equal(located.source, 'misclassified');
  assert.ok(located.pairs >= 1);
});
