// Issue 16 §2: the leaks a review found, each with a test that fails without its fix — held-out examples, examples
// files' normalisation, ORACLE through located.json, one file as both defender and test data, inputs overwritten,
// files made for another model, stale reconstruction files, metadata on revert, and damaged deltas.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { takeRows } from '../src/data/batches.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { exampleKeys } from '../src/data/row-keys.js';
import { writeNpz } from '../src/data/npy.js';
import { writeSafetensors } from '../src/data/safetensors.js';
import { getMetadata } from '../src/onnx/metadata.js';
import { readModel } from '../src/onnx/model-io.js';
import { parsePattern, patternData } from '../src/surgery/pattern.js';
import { cli } from './helpers/cli.js';

const BADNETS = 'models/lenet5-badnets.onnx';
const LENET = 'models/lenet5-fashion.onnx';
const TRIGGER = 'patch:4x4@bottom-right:white';
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-honesty-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The first `n` rows of the embedded training split as a uint8 .npz of images and labels (as a user saves them). */
async function trainingImagesFile(path: string, rows: number[], labels: (y: number) => number): Promise<void> {
  const train = await loadLabelledData(undefined, 'train');
  const x = takeRows(train.x, rows).data as Float32Array;
  const px = Uint8Array.from(x, (v) => Math.round((v * 0.353 + 0.286) * 255));
  const y = BigInt64Array.from(rows, (r) => BigInt(labels(Number(train.y.data[r]))));
  await writeNpz(
    path,
    new Map([
      ['x', { dtype: 'uint8', dims: [rows.length, 1, 28, 28], data: px }],
      ['y', { dtype: 'int64', dims: [rows.length], data: y }],
    ]),
  );
}

describe('inject: held-out examples and examples files', () => {
  test('held-out examples are absent from everything trained on, checked by content', async () => {
    const file = join(dir, 'relabel.npz');
    await trainingImagesFile(
      file,
      Array.from({ length: 40 }, (_, i) => i * 3),
      (y) => (y + 1) % 10,
    );
    const model = readModel(LENET);
    const d = await patternData(model, { pattern: parsePattern(`examples:${file}`), holdout: 0.5, seed: 0 });
    const norm = { mean: 0.286, std: 0.353 };
    const held = new Set(exampleKeys({ x: d.patternTest.x, normalization: norm }));
    assert.equal(held.size, 20);
    for (const k of exampleKeys({ x: d.cleanTrain.x, normalization: norm })) assert.ok(!held.has(k), 'a held-out example is in the clean training stream');
    for (const k of exampleKeys({ x: d.patternTrain.x, normalization: norm })) assert.ok(!held.has(k), 'a held-out example is in the edited set');
    assert.equal(d.cleanTrain.x.dims[0], 4000 - 20);
    assert.match(d.description, /20 of them removed from the clean training stream/);
  });

  test("a float examples file (already in the model's normalisation) is matched against the clean stream too", async () => {
    const train = await loadLabelledData(undefined, 'train');
    const rows = Array.from({ length: 30 }, (_, i) => 2 * i);
    const file = join(dir, 'float.safetensors');
    await writeSafetensors(
      file,
      new Map([
        ['x', takeRows(train.x, rows)],
        ['y', takeRows(train.y, rows)],
      ]),
    );
    const d = await patternData(readModel(LENET), { pattern: parsePattern(`examples:${file}`), holdout: 0.5, seed: 0 });
    assert.equal(d.cleanTrain.x.dims[0], 4000 - 15);
  });

  test('an examples file of uint8 images is normalised like the data', async () => {
    const file = join(dir, 'u8.npz');
    await trainingImagesFile(file, [0, 1, 2, 3], (y) => y);
    const model = readModel(LENET);
    const d = await patternData(model, { pattern: parsePattern(`examples:${file}`), holdout: 0, seed: 0 });
    const train = await loadLabelledData(undefined, 'train');
    const want = takeRows(train.x, [0, 1, 2, 3]).data as Float32Array;
    const got = d.patternTrain.x.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    assert.ok(worst < 0.01, `examples differ from the normalised data by ${worst}`);
  });
});

describe('defences: ORACLE, data, inputs and files for another model', () => {
  test('ORACLE survives located.json: a repair from oracle-located weights is marked, in the text and the model', async () => {
    const loc = join(dir, 'oracle-located.json');
    assert.equal((await cli(['--threads', '1', 'locate', BADNETS, '--oracle-trigger', TRIGGER, '--layer', 'fc3', '--pairs', '3', '-o', loc])).code, 0);
    const out = join(dir, 'nf.onnx');
    const r = await cli(['--threads', '1', 'repair', BADNETS, '--method', 'neuron-finetune', '--located', loc, '--epochs', '1', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ORACLE: the attacker's trigger was given to the defence, through the located weights/);
    assert.equal(JSON.parse(getMetadata(readModel(out), 'scalpel.repair')!).oracle, true);
  });

  test("one file as both the defender's data and the measurement set is refused", async () => {
    const file = join(dir, 'all.npz');
    await trainingImagesFile(
      file,
      Array.from({ length: 60 }, (_, i) => i),
      (y) => y,
    );
    for (const args of [
      ['reconstruct', BADNETS, '--data', file],
      ['repair', BADNETS, '--method', 'finetune', '--data', file, '-o', join(dir, 'x.onnx')],
    ]) {
      const r = await cli(['--threads', '1', ...args]);
      assert.equal(r.code, 1, args[0]);
      assert.match(
        r.stderr,
        /^scalpel: error: .*all\.npz is a single file: the defender's data would be drawn from the very examples the defence is measured on/,
      );
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    const same = await cli(['--threads', '1', 'repair', BADNETS, '--method', 'finetune', '--data', file, '--defender-data', file, '-o', join(dir, 'x.onnx')]);
    assert.equal(same.code, 1);
    assert.match(same.stderr, /are the same file/);
    assert.ok(!existsSync(join(dir, 'x.onnx')));
  });

  test('an output never replaces an input: trigger files inside specs, located.json, files under --triggers', async () => {
    const nc = join(dir, 'nc-in');
    assert.equal((await cli(['--threads', '1', 'reconstruct', BADNETS, '--labels', '0', '--steps', '3', '--defender-data', '200', '-o', nc])).code, 0);
    const trig = join(nc, 'label-0.safetensors');
    const bytes = readFileSync(trig);
    const cases: [string[], RegExp][] = [
      [['locate', BADNETS, '--errors', `trigger:${trig}`, '-o', trig], /refusing to overwrite the input trigger file/],
      [['repair', BADNETS, '--method', 'unlearn', '--triggers', nc, '-o', join(nc, 'out.onnx')], /inside the input triggers directory/],
      [['repair', BADNETS, '--method', 'unlearn', '--oracle-trigger', `file:${trig}`, '-o', trig], /refusing to overwrite the input oracle trigger file/],
      [['inject', LENET, '--pattern', `trigger:file:${trig}`, '--target', '1', '-o', trig], /refusing to overwrite the input pattern file/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['--threads', '1', ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.deepEqual(readFileSync(trig), bytes);
    const loc = join(dir, 'loc.json');
    assert.equal((await cli(['--threads', '1', 'locate', BADNETS, '--oracle-trigger', TRIGGER, '--layer', 'fc3', '--pairs', '2', '-o', loc])).code, 0);
    const r = await cli(['--threads', '1', 'repair', BADNETS, '--method', 'flip', '--located', loc, '--oracle-trigger', TRIGGER, '-o', loc]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing to overwrite the input located file/);
  });

  test('triggers reconstructed for another model are refused; reconstructing again replaces the folder whole', async () => {
    const nc = join(dir, 'nc-other');
    assert.equal((await cli(['--threads', '1', 'reconstruct', LENET, '--labels', '0,1', '--steps', '3', '--defender-data', '200', '-o', nc])).code, 0);
    assert.ok(existsSync(join(nc, 'label-1.safetensors')));
    const r = await cli(['--threads', '1', 'repair', BADNETS, '--method', 'unlearn', '--triggers', nc, '-o', join(dir, 'u.onnx')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /was reconstructed for another model/);
    // A second run with fewer labels leaves no stale label-1 files behind.
    assert.equal((await cli(['--threads', '1', 'reconstruct', LENET, '--labels', '0', '--steps', '3', '--defender-data', '200', '-o', nc])).code, 0);
    assert.ok(existsSync(join(nc, 'label-0.safetensors')));
    assert.ok(!existsSync(join(nc, 'label-1.safetensors')));
    assert.ok(!existsSync(join(nc, 'label-1-mask.png')));
    // A folder that is not a reconstruction is not emptied.
    const other = join(dir, 'notes');
    mkdirSync(other);
    writeFileSync(join(other, 'mine.txt'), 'keep');
    const refused = await cli(['--threads', '1', 'reconstruct', LENET, '--labels', '0', '--steps', '3', '-o', other]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not empty and holds no earlier reconstruction/);
    assert.equal(readFileSync(join(other, 'mine.txt'), 'utf8'), 'keep');
  });
});

describe('deltas', () => {
  test('apply --revert restores the metadata the edit changed', async () => {
    const edited = join(dir, 'inj.onnx');
    const delta = join(dir, 'inj.safetensors');
    const r = await cli([
      '--threads',
      '1',
      'inject',
      LENET,
      '--pattern',
      `trigger:${TRIGGER}`,
      '--target',
      '0',
      '--budget',
      '10',
      '--steps',
      '20',
      '--train-examples',
      '200',
      '--test-examples',
      '100',
      '-o',
      edited,
      '--delta',
      delta,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const keys = (p: string) => ((readModel(p).passthrough.metadataProps as { key: string }[] | undefined) ?? []).map((e) => e.key).sort();
    assert.ok(keys(edited).some((k) => k.startsWith('scalpel.inject')));
    const back = join(dir, 'back.onnx');
    assert.equal((await cli(['apply', edited, delta, '--revert', '-o', back])).code, 0);
    assert.deepEqual(keys(back), keys(LENET));
    const again = join(dir, 'again.onnx');
    assert.equal((await cli(['apply', LENET, delta, '-o', again])).code, 0);
    assert.deepEqual(keys(again), keys(edited));
  });

  test('a damaged delta is refused when applied and when reverted', async () => {
    const edited = join(dir, 'e.onnx');
    const delta = join(dir, 'e.safetensors');
    assert.equal((await cli(['probe', LENET, '--eps', '0.05', '--n', '50', '--norm', 'inf', '--method', 'gradient', '--save-delta', delta])).code, 0);
    assert.equal((await cli(['apply', LENET, delta, '-o', edited])).code, 0);
    const bytes = readFileSync(delta);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    for (const part of ['after', 'before']) {
      const key = Object.keys(header).find((k) => k.endsWith(`.${part}`))!;
      const damaged = Buffer.from(bytes);
      damaged[8 + headerLength + header[key].data_offsets[0] + 1] ^= 0x10;
      const file = join(dir, `damaged-${part}.safetensors`);
      writeFileSync(file, damaged);
      const r =
        part === 'after'
          ? await cli(['apply', LENET, file, '-o', join(dir, 'x.onnx')])
          : await cli(['apply', edited, file, '--revert', '-o', join(dir, 'x.onnx')]);
      assert.equal(r.code, 1, part);
      assert.match(r.stderr, part === 'after' ? /the delta is damaged/ : /does not give back the model it was made from/);
      assert.ok(!existsSync(join(dir, 'x.onnx')));
    }
  });
});
