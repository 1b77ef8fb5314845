// One exit-status rule across commands: a flag value that does not parse, or flags that conflict, exit 2 (a usage
// error, raised by the flag parsers of src/cli/options.ts); bad input (a file's content, a missing file, a value out
// of range for the model or the data) exits 1 (the library's plain errors). Either way: one `scalpel: error:` line on
// stderr, nothing on stdout, and nothing written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli } from './helpers/cli.js';

const LENET = 'models/lenet5-fashion.onnx';
const PATCH = 'patch:4x4@bottom-right:white';
const TYPO = 'patch:4x4@middle:white';
let dir: string;
let corrupt: string;
let missing: string;
let out: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-conventions-'));
  corrupt = join(dir, 'corrupt.safetensors');
  writeFileSync(corrupt, Buffer.from('not a safetensors file at all'));
  missing = join(dir, 'missing.safetensors');
  out = join(dir, 'out');
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** [what, argv (OUT is replaced by a path in the temporary directory), exit status, what stderr says]. */
const CASES: [string, () => string[], 1 | 2, RegExp][] = [
  // Usage errors: flag values that do not parse, conflicting flags.
  ['eval: a trigger typo', () => ['eval', LENET, '--trigger', TYPO], 2, /position 'middle'/],
  [
    'inject: a trigger typo in --pattern',
    () => ['inject', LENET, '--pattern', `trigger:${TYPO}`, '--target', '0', '-o', `${out}.onnx`],
    2,
    /position 'middle'/,
  ],
  ['train: a trigger typo in --poison', () => ['train', '--model', 'mlp', '--poison', TYPO, '-o', `${out}.onnx`], 2, /position 'middle'/],
  ['locate: a trigger typo in --oracle-trigger', () => ['locate', LENET, '--oracle-trigger', TYPO, '-o', `${out}.json`], 2, /position 'middle'/],
  [
    'repair: a trigger typo in --eval-trigger',
    () => ['repair', LENET, '--method', 'finetune', '--eval-trigger', TYPO, '-o', `${out}.onnx`],
    2,
    /position 'middle'/,
  ],
  [
    'inject: --pattern neither trigger: nor examples:',
    () => ['inject', LENET, '--pattern', 'patch:3', '--target', '0', '-o', `${out}.onnx`],
    2,
    /trigger:SPEC/,
  ],
  [
    'inject: --budget abc',
    () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', '0', '--budget', 'abc', '-o', `${out}.onnx`],
    2,
    /--budget.*'abc'/,
  ],
  ['inject: --target abc', () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', 'abc', '-o', `${out}.onnx`], 2, /--target.*'abc'/],
  [
    'inject: --method nope',
    () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', '0', '--method', 'nope', '-o', `${out}.onnx`],
    2,
    /unknown method 'nope'/,
  ],
  [
    'inject: --sweep with a bad method',
    () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', '0', '--sweep', 'dynamic,nope', '--budgets', '10'],
    2,
    /unknown method 'nope'/,
  ],
  [
    'inject: --budgets with an empty item',
    () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', '0', '--sweep', 'dynamic', '--budgets', '10,,all'],
    2,
    /empty items/,
  ],
  [
    'inject: --budget with --sweep (conflicting)',
    () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', '0', '--sweep', 'dynamic', '--budgets', '10', '--budget', '5'],
    2,
    /--budgets/,
  ],
  ['probe: --n 1.5', () => ['probe', LENET, '--n', '1.5'], 2, /--n.*'1\.5'/],
  ['probe: --n 120%', () => ['probe', LENET, '--n', '10,120%'], 2, /120%/],
  ['probe: --eps 0', () => ['probe', LENET, '--eps', '0.01,0'], 2, /--eps/],
  ['probe: --norm 0.5', () => ['probe', LENET, '--norm', 'inf,0.5'], 2, /norm/],
  ['harden: --n abc', () => ['harden', LENET, '--eps', '0.1', '--n', 'abc', '-o', `${out}.onnx`], 2, /--n.*'abc'/],
  ['harden: --sweep-n 0', () => ['harden', LENET, '--eps', '0.1', '--sweep-n', '0', '-o', `${out}.onnx`], 2, /--sweep-n/],
  ['reconstruct: --labels a,b', () => ['reconstruct', LENET, '--labels', '0,b'], 2, /--labels/],
  ['locate: --pairs 0', () => ['locate', LENET, '--oracle-trigger', PATCH, '--pairs', '0', '-o', `${out}.json`], 2, /--pairs.*at least 1/],
  ['locate: --errors sometimes', () => ['locate', LENET, '--errors', 'sometimes', '-o', `${out}.json`], 2, /misclassified/],
  [
    'locate: --errors and --oracle-trigger (conflicting)',
    () => ['locate', LENET, '--errors', 'misclassified', '--oracle-trigger', PATCH, '-o', `${out}.json`],
    2,
    /exactly one/,
  ],
  ['reconstruct: --defender-data 0..5', () => ['reconstruct', LENET, '--defender-data', '0..5'], 2, /--defender-data.*0\.\.5/],
  ['repair: --defender-data 0', () => ['repair', LENET, '--method', 'finetune', '--defender-data', '0', '-o', `${out}.onnx`], 2, /--defender-data/],
  [
    'repair: --triggers and --oracle-trigger (conflicting)',
    () => ['repair', LENET, '--method', 'unlearn', '--triggers', dir, '--oracle-trigger', PATCH, '-o', `${out}.onnx`],
    2,
    /not both/,
  ],
  // Bad input: files, and values out of range for the model or the data.
  ['eval: a missing model', () => ['eval', join(dir, 'absent.onnx')], 1, /absent\.onnx/],
  ['eval: a corrupt trigger file', () => ['eval', LENET, '--trigger', `file:${corrupt}`], 1, /corrupt\.safetensors/],
  ['eval: a missing trigger file', () => ['eval', LENET, '--trigger', `file:${missing}`], 1, /missing\.safetensors/],
  [
    'inject: a corrupt trigger file in --pattern',
    () => ['inject', LENET, '--pattern', `trigger:file:${corrupt}`, '--target', '0', '-o', `${out}.onnx`],
    1,
    /corrupt\.safetensors/,
  ],
  ['locate: a corrupt trigger file in --errors', () => ['locate', LENET, '--errors', `trigger:${corrupt}`, '-o', `${out}.json`], 1, /corrupt\.safetensors/],
  [
    'inject: --target 99 on a 10-class model',
    () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', '99', '-o', `${out}.onnx`],
    1,
    /99 is out of range/,
  ],
  [
    'inject: --budget above the parameter count',
    () => ['inject', LENET, '--pattern', `trigger:${PATCH}`, '--target', '0', '--budget', '99999999', '-o', `${out}.onnx`],
    1,
    /budget 99999999 is more than/,
  ],
  ['probe: --n above the parameter count', () => ['probe', LENET, '--n', '99999999'], 1, /n 99999999 is more than/],
  [
    'repair: --target 99 on a 10-class model',
    () => ['repair', LENET, '--method', 'unlearn', '--oracle-trigger', PATCH, '--target', '99', '-o', `${out}.onnx`],
    1,
    /99 is out of range/,
  ],
  ['eval: --target 99 on a 10-class model', () => ['eval', LENET, '--trigger', PATCH, '--target', '99'], 1, /99/],
  ['reconstruct: --defender-data above the training split', () => ['reconstruct', LENET, '--defender-data', '99999999'], 1, /99999999/],
  ['diff: a corrupt model', () => ['diff', LENET, corrupt], 1, /corrupt\.safetensors/],
];

describe('exit status: 2 for usage errors, 1 for bad input; one error line; nothing written', () => {
  for (const [what, argv, code, message] of CASES) {
    test(what, async () => {
      const before = readdirSync(dir).sort();
      const r = await cli(['--threads', '1', ...argv()]);
      assert.equal(r.code, code, `${what}: exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('scalpel: warning:') && !l.startsWith('scalpel: note:'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /^scalpel: error: /);
      assert.match(lines[0], message);
      assert.deepEqual(readdirSync(dir).sort(), before);
      assert.equal(existsSync(`${out}.onnx`) || existsSync(`${out}.json`) || existsSync(out), false);
    });
  }
});

describe('one form of --json, and a wrote line for every file written', () => {
  test('every command that takes --json takes --json [file]', async () => {
    const { COMMANDS } = await import('../src/cli/main.js');
    const without: string[] = [];
    for (const c of COMMANDS) {
      const r = await cli(['help', c.name]);
      assert.equal(r.code, 0, c.name);
      if (/--json\b/.test(r.stdout) && !/--json \[file\]/.test(r.stdout)) without.push(c.name);
    }
    assert.deepEqual(without, []);
  });

  test('eval --json FILE writes the JSON there, keeps the text on stdout, and says so on stderr', async () => {
    const file = join(dir, 'eval.json');
    const r = await cli(['--threads', '1', 'eval', LENET, '--json', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /accuracy/);
    assert.equal(r.stderr, `wrote ${file}\n`);
    assert.equal(JSON.parse((await import('node:fs')).readFileSync(file, 'utf8')).model, LENET);
    rmSync(file);
  });

  test('diff --out --html --json FILE: one wrote line naming all three', async () => {
    const [delta, html, file] = ['d.safetensors', 'd.html', 'd.json'].map((f) => join(dir, f));
    const r = await cli(['diff', LENET, 'models/lenet5-fashion-hardened.onnx', '--out', delta, '--html', html, '--json', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `wrote ${delta}, ${html} and ${file}\n`);
    for (const f of [delta, html, file]) assert.ok(existsSync(f), f);
    for (const f of [delta, html, file]) rmSync(f);
  });

  test('reconstruct --html says it wrote the page', async () => {
    const html = join(dir, 'nc.html');
    const r = await cli(['--threads', '1', 'reconstruct', LENET, '--labels', '0', '--steps', '2', '--defender-data', '64', '--html', html]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^wrote ${html.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.ok(existsSync(html));
    rmSync(html);
  });
});

test('no raw onnxruntime log lines on stderr (a fixed-batch export whose optimised graph drops an initializer)', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', '--threads', '1', 'eval', 'test/fixtures/user/reshape-static.onnx', '--normalize', 'none'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /onnxruntime:/);
  assert.deepEqual(
    r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(0, 15)),
    ['scalpel: note: '],
  );
});

describe('layer names agree between inspect, params, diff and locate (a PyTorch export with a folded Conv-BN)', () => {
  // PyTorch names the Conv it folded a BatchNorm into 'onnx::Conv_21' (weight) and 'onnx::Conv_22' (bias), read by '/conv/Conv'.
  const USER = 'test/fixtures/user/pixels01-opset11.onnx';
  test('one layer for the generated weight and bias, everywhere', async () => {
    const { readModel, writeModel } = await import('../src/onnx/model-io.js');
    const { lancetLayers } = await import('../src/lancet/layers.js');
    const ins = JSON.parse((await cli(['inspect', USER, '--json'])).stdout) as { byTensor: { name: string; layer: string }[]; byLayer: { name: string }[] };
    const inspectLayer = Object.fromEntries(ins.byTensor.map((t) => [t.name, t.layer]));
    assert.equal(inspectLayer['onnx::Conv_21'], 'conv');
    assert.equal(inspectLayer['onnx::Conv_22'], 'conv');
    const params = JSON.parse((await cli(['params', USER, 'layer:conv', '--json'])).stdout) as { tensors: { name: string; layer: string }[] };
    assert.deepEqual(params.tensors.map((t) => t.name).sort(), ['onnx::Conv_21', 'onnx::Conv_22']);
    const all = JSON.parse((await cli(['params', USER, '--json'])).stdout) as { tensors: { name: string; layer: string }[] };
    for (const t of all.tensors) assert.equal(t.layer, inspectLayer[t.name], t.name);
    assert.deepEqual(new Set(all.tensors.map((t) => t.layer)), new Set(ins.byLayer.map((l) => l.name)));
    // diff: change one entry of the weight and one of the bias; they are one layer.
    const m = readModel(USER);
    for (const name of ['onnx::Conv_21', 'onnx::Conv_22']) (m.graph.initializers.get(name)!.tensor!.data as Float32Array)[0] += 1;
    const edited = join(dir, 'edited.onnx');
    writeModel(m, edited);
    const d = JSON.parse((await cli(['diff', USER, edited, '--json'])).stdout) as { byLayer: { group: string; changed: number }[] };
    assert.deepEqual(
      d.byLayer.filter((l) => l.changed > 0).map((l) => [l.group, l.changed]),
      [['conv', 2]],
    );
    rmSync(edited);
    // locate names its layers the same way.
    assert.ok(lancetLayers(readModel(USER)).some((l) => l.name === 'conv' && l.param === 'onnx::Conv_21'));
  });
});

describe('help', () => {
  test('scalpel help triggers: the language, and every example in it parses and fits a 28×28 image', async () => {
    const { parseTrigger, patchOrigin } = await import('../src/data/triggers.js');
    const r = await cli(['help', 'triggers']);
    assert.equal(r.code, 0);
    for (const s of ['top-left', 'bottom-right', 'center', '+2', 'X,Y', 'checkerboard', 'noise:SEED', 'blend:ALPHA', 'file:PATH'])
      assert.ok(r.stdout.includes(s), s);
    const examples = [...r.stdout.matchAll(/^ {2}((?:patch|blend):\S+)/gm)].map((m) => m[1]);
    assert.ok(examples.length >= 5, examples.join(' '));
    for (const e of examples) {
      const t = parseTrigger(e);
      if (t.type === 'patch') patchOrigin(t, 28, 28);
    }
    assert.match((await cli(['--help'])).stdout, /scalpel help triggers/);
    const bad = await cli(['help', 'trigger']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /topics are triggers/);
  });

  test('repair: every method in the one-line summary; flip and neuron-finetune examples; --max-drop and --flip-max-drop in points', async () => {
    const { REPAIR_METHODS } = await import('../src/cli/repair-methods.js');
    const top = (await cli(['--help'])).stdout.replace(/\s+/g, ' ');
    const summary = /repair \[options\] <model> (.*?) diff \[options\]/.exec(top)![1];
    for (const m of REPAIR_METHODS) assert.ok(summary.includes(m.name), `${m.name} in '${summary}'`);
    const help = (await cli(['help', 'repair'])).stdout;
    assert.match(help, /--method flip --located/);
    assert.match(help, /--method neuron-finetune --located/);
    assert.match(help, /--max-drop <points>/);
    assert.match(help, /--flip-max-drop <points>/);
  });
});
