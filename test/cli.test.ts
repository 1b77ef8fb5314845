// End-to-end tests of the command line: `run(argv, io)` on the PyTorch fixtures, and every user error.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../src/cli/main.js';
import { readSafetensors, readSafetensorsFile, writeSafetensors } from '../src/data/safetensors.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { type HostTensor, sizeOf, tensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';

const FIX = new URL('./fixtures/torch/', import.meta.url).pathname;
const fixture = (name: string) => join(FIX, name);
const MLP = fixture('mlp.onnx');
const MLP_DATA = fixture('mlp.safetensors');
const LENET = fixture('lenet.onnx');
const meta = (name: string) => JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as { params: number; loss: number; gradientKeys: string[] };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
  });
  return { code, stdout, stderr };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-cli-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh empty directory for one test's output, so "nothing written" can be checked by listing it. */
function outDir(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  return d;
}

function relErr(a: HostTensor, b: HostTensor): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.data.length; i++) {
    d += (Number(a.data[i]) - Number(b.data[i])) ** 2;
    n += Number(b.data[i]) ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

function randn(dims: number[], seed = 1): HostTensor {
  const rng = new Rng(seed);
  const data = new Float32Array(sizeOf(dims));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform() * 2 - 1;
  return tensor('float32', dims, data);
}

const labels = (values: number[]) => tensor('int64', [values.length], BigInt64Array.from(values.map(BigInt)));

/** A user error: exit status 1 (or `code`), exactly one `scalpel: error:` line on stderr, nothing on stdout, no stack. */
function assertUserError(r: Result, pattern: RegExp, code = 1): void {
  assert.equal(r.code, code, `exit status; stderr: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^scalpel: error: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

describe('help', () => {
  test('scalpel --help lists every command with a summary, and examples', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['inspect', 'grad', 'bench']) assert.match(r.stdout, new RegExp(`^  ${c} .*\\S`, 'm'));
    assert.match(r.stdout, /Examples:/);
    assert.match(r.stdout, /--threads <n>/);
    assert.match(r.stdout, /Exit status:/);
  });

  for (const c of ['inspect', 'grad', 'bench']) {
    test(`scalpel ${c} --help has examples and the global options`, async () => {
      const r = await cli([c, '--help']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, new RegExp(`Usage: scalpel ${c}`));
      assert.match(r.stdout, /Examples:\n/);
      assert.match(r.stdout, new RegExp(`\\$ scalpel .*${c} `));
      assert.match(r.stdout, /--provider <name>/);
    });
  }

  test('scalpel help grad prints the command help', async () => {
    const r = await cli(['help', 'grad']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--out <file>/);
  });

  test('--version prints the package version', async () => {
    const r = await cli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
  });
});

describe('usage errors exit with status 2 and one line', () => {
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /./],
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['unknown option', ['inspect', MLP, '--bogus'], /unknown option '--bogus'.*scalpel inspect --help/],
    ['missing argument', ['inspect'], /missing required argument 'model'/],
    ['missing --data', ['grad', MLP, '--out', 'x.safetensors'], /--data/],
    ['missing --out', ['grad', MLP, '--data', MLP_DATA], /--out/],
    ['bad --loss', ['grad', MLP, '--data', MLP_DATA, '--out', 'x', '--loss', 'hinge'], /hinge.*cross-entropy, mse, kl/],
    ['bad --params', ['grad', MLP, '--data', MLP_DATA, '--out', 'x', '--params', '/(/'], /regular expression/],
    ['bad --iters', ['bench', MLP, '--data', MLP_DATA, '--iters', '0'], /--iters.*at least 1/],
    ['bad --threads', ['--threads', 'two', 'bench', MLP, '--data', MLP_DATA], /--threads.*'two'/],
  ];
  for (const [name, args, pattern] of cases) {
    test(name, async () => {
      const r = await cli(args);
      if (args.length === 0) {
        // No command: the help goes to stderr, with status 2.
        assert.equal(r.code, 2);
        assert.match(r.stderr, /Usage: scalpel/);
        return;
      }
      assertUserError(r, pattern, 2);
    });
  }
});

describe('inspect', () => {
  test('lenet --json: inputs, outputs, opsets and parameter counts', async () => {
    const r = await cli(['inspect', LENET, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const model = readModel(LENET);
    const sum = [...model.graph.initializers.values()].reduce((a, i) => a + sizeOf(i.tensor!.dims), 0);
    assert.equal(j.parameters.total, sum);
    assert.equal(j.parameters.trainable, meta('lenet').params);
    assert.equal(j.parameters.trainable, 30646);
    assert.equal(j.parameters.tensors, model.graph.initializers.size);
    assert.deepEqual(j.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 1, 28, 28] }]);
    assert.deepEqual(j.outputs, [{ name: 'logits', dtype: 'float32', shape: ['batch', 10] }]);
    assert.deepEqual(j.opsets, [{ domain: 'ai.onnx', version: 13 }]);
    const total = (list: { count: number }[]) => list.reduce((a, g) => a + g.count, 0);
    assert.equal(total(j.byTensor), sum);
    assert.equal(total(j.byLayer), sum);
    assert.equal(total(j.byOpType), sum);
    assert.deepEqual(
      j.byLayer.map((l: { name: string }) => l.name),
      ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'],
    );
    assert.deepEqual(Object.fromEntries(j.byOpType.map((g: { name: string; count: number }) => [g.name, g.count])), { Gemm: 28074, Conv: 2572 });
    const w = j.byTensor.find((t: { name: string }) => t.name === 'fc1.weight');
    assert.deepEqual(
      { shape: w.shape, count: w.count, layer: w.layer, opType: w.opType, trainable: w.trainable },
      { shape: [64, 400], count: 25600, layer: 'fc1', opType: 'Gemm', trainable: true },
    );
    assert.equal(j.nodes, model.graph.nodes.length);
    assert.equal(
      j.ops.reduce((a: number, o: { nodes: number }) => a + o.nodes, 0),
      model.graph.nodes.length,
    );
    assert.equal(j.differentiable, j.unsupportedOps.length === 0);
  });

  test('resnet: BatchNorm running statistics are counted but not trainable', async () => {
    const r = await cli(['inspect', fixture('resnet.onnx'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.parameters.trainable, meta('resnet').params);
    const stat = j.byTensor.find((t: { name: string }) => t.name === 'bn1.running_mean');
    assert.equal(stat.trainable, false);
    assert.ok(j.parameters.total > j.parameters.trainable);
  });

  test('text report shows symbolic dims by name and the counts', async () => {
    const r = await cli(['inspect', LENET]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /x\s+float32\s+\[batch, 1, 28, 28\]/);
    assert.match(r.stdout, /Parameters: 30,646 in 10 tensors/);
    assert.match(r.stdout, /By layer/);
    assert.match(r.stdout, /By op type/);
    assert.match(r.stdout, /fc1\.weight\s+\[64, 400\]/);
    assert.match(r.stdout, /Differentiable: (yes|no)/);
  });
});

/** x -> MatMul(w) -> Frobnicate -> Zorp -> logits: two ops no gradient rule will ever cover. */
function unknownOpModel(path: string): void {
  const b = new GraphBuilder();
  b.input('x', 'float32', ['batch', 4]);
  b.param('w', randn([4, 3], 7));
  const h = b.op('MatMul', ['x', 'w']);
  b.graph.nodes.push({ opType: 'Frobnicate', domain: 'com.example', name: 'frob1', inputs: [h], outputs: ['f'], attributes: [] });
  b.graph.nodes.push({ opType: 'Zorp', domain: 'com.example', name: 'zorp1', inputs: ['f'], outputs: ['logits'], attributes: [] });
  b.output('logits', 'float32', ['batch', 3]);
  const m = makeModel(b.graph, 17);
  m.opsetImports.push({ domain: 'com.example', version: 1 });
  writeModel(m, path);
}

describe('inspect errors', () => {
  test('a missing file', async () => {
    assertUserError(await cli(['inspect', join(dir, 'nope.onnx')]), /not found: .*nope\.onnx/);
  });

  test('a truncated file', async () => {
    const p = join(dir, 'truncated.onnx');
    const bytes = readFileSync(MLP);
    writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length / 2)));
    assertUserError(await cli(['inspect', p]), /truncated\.onnx is not a valid ONNX model/);
  });

  test('a file that is not ONNX', async () => {
    const p = join(dir, 'notes.onnx');
    writeFileSync(p, 'these are not the weights you are looking for\n');
    assertUserError(await cli(['inspect', p]), /notes\.onnx is not (a valid|an) ONNX model/);
    assertUserError(await cli(['inspect', MLP_DATA]), /mlp\.safetensors is not (a valid|an) ONNX model/);
  });

  test('an empty file', async () => {
    const p = join(dir, 'empty.onnx');
    writeFileSync(p, '');
    assertUserError(await cli(['inspect', p]), /empty/);
  });

  test('ops without a gradient rule are listed, not fatal', async () => {
    const p = join(dir, 'unknown-op-inspect.onnx');
    unknownOpModel(p);
    const r = await cli(['inspect', p, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.differentiable, false);
    assert.deepEqual(j.unsupportedOps, [
      { opType: 'com.example::Frobnicate', nodes: ['frob1'] },
      { opType: 'com.example::Zorp', nodes: ['zorp1'] },
    ]);
    const text = await cli(['inspect', p]);
    assert.match(text.stdout, /Differentiable: no, 2 op types have no gradient rule/);
    assert.match(text.stdout, /com\.example::Frobnicate: 'frob1'/);
  });
});

describe('grad', () => {
  for (const name of ['mlp', 'lenet', 'resnet', 'transformer', 'gru', 'lstm']) {
    test(`${name}: gradients match PyTorch's`, async () => {
      const out = join(outDir(`grad-${name}`), 'grads.safetensors');
      const r = await cli(['grad', fixture(`${name}.onnx`), '--data', fixture(`${name}.safetensors`), '--out', out, '--json']);
      assert.equal(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout);
      const m = meta(name);
      assert.ok(Math.abs(j.loss - m.loss) <= 1e-5 * Math.abs(m.loss), `loss ${j.loss} vs torch ${m.loss}`);
      const ref = await readSafetensors(fixture(`${name}.safetensors`));
      const { tensors: grads, metadata } = await readSafetensorsFile(out);
      // Every floating-point initializer, in model order (BatchNorm running statistics included).
      const floats = [...readModel(fixture(`${name}.onnx`)).graph.initializers.values()].filter((i) => i.tensor?.dtype === 'float32');
      assert.deepEqual(
        [...grads.keys()],
        floats.map((i) => i.name),
      );
      for (const key of m.gradientKeys) {
        const k = key.slice('grad:'.length);
        const g = grads.get(k)!;
        const want = ref.get(key)!;
        assert.deepEqual(g.dims, want.dims, k);
        assert.equal(g.dtype, 'float32');
        assert.ok(relErr(g, want) < 1e-4, `${k}: relative error ${relErr(g, want)}`);
      }
      assert.equal(Number(metadata.loss), j.loss);
      assert.equal(j.tensors.length, grads.size);
      assert.equal(
        j.parameters,
        floats.reduce((a, i) => a + sizeOf(i.tensor!.dims), 0),
      );
      const first = j.tensors[0];
      let sq = 0;
      for (const v of grads.get(first.name)!.data as Float32Array) sq += v * v;
      assert.ok(Math.abs(first.norm - Math.sqrt(sq)) <= 1e-6 * Math.sqrt(sq));
      assert.deepEqual(j.ignoredData.sort(), ['logits', ...m.gradientKeys].sort());
    });
  }

  test('--params selects initializers by /regex/; text report', async () => {
    const out = join(outDir('grad-params'), 'g.safetensors');
    const r = await cli(['grad', MLP, '--data', MLP_DATA, '--out', out, '--params', '/^fc2\\./']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...(await readSafetensors(out)).keys()], ['fc2.weight', 'fc2.bias']);
    assert.match(r.stdout, /^loss \(cross-entropy, mean over 4 examples, labels 'y'\): 2\.412/);
    assert.match(r.stdout, /fc2\.weight\s+\[10, 32\]/);
    assert.doesNotMatch(r.stdout, /fc1\.weight/);
    assert.match(r.stderr, /^wrote .*g\.safetensors\n$/m);
    assert.doesNotMatch(r.stdout, /wrote/);
  });

  test('--loss mse with a float target named by --labels', async () => {
    const ref = await readSafetensors(MLP_DATA);
    const data = join(dir, 'mse.safetensors');
    await writeSafetensors(data, { x: ref.get('x')!, target: randn([4, 10], 3) });
    const out = join(outDir('grad-mse'), 'g.safetensors');
    const r = await cli(['grad', MLP, '--data', data, '--out', out, '--loss', 'mse', '--labels', 'target', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.lossKind, 'mse');
    assert.ok(j.loss > 0 && Number.isFinite(j.totalNorm));
    assert.equal((await readSafetensors(out)).size, 4);
  });
});

describe('grad errors write nothing', () => {
  let ref: Map<string, HostTensor>;
  before(async () => {
    ref = await readSafetensors(MLP_DATA);
  });

  async function gradError(name: string, args: string[], pattern: RegExp, code = 1): Promise<void> {
    const d = outDir(name);
    const out = join(d, 'grads.safetensors');
    const r = await cli(['grad', ...args, '--out', out]);
    assertUserError(r, pattern, code);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(d), []);
  }

  async function data(name: string, tensors: Record<string, HostTensor>): Promise<string> {
    const p = join(dir, `${name}.safetensors`);
    await writeSafetensors(p, tensors);
    return p;
  }

  test('a missing model file', async () => {
    await gradError('missing-model', [join(dir, 'nope.onnx'), '--data', MLP_DATA], /model file not found/);
  });

  test('a missing data file', async () => {
    await gradError('missing-data', [MLP, '--data', join(dir, 'nope.safetensors')], /data file not found: .*nope\.safetensors/);
  });

  test('a data file that is not safetensors', async () => {
    await gradError('bad-data', [MLP, '--data', MLP], /mlp\.onnx is not a valid safetensors file/);
  });

  test('a truncated model', async () => {
    const p = join(dir, 'truncated-grad.onnx');
    const bytes = readFileSync(MLP);
    writeFileSync(p, bytes.subarray(0, bytes.length - 100));
    await gradError('truncated', [p, '--data', MLP_DATA], /not a valid ONNX model|damaged or incomplete/);
  });

  test('an op without a gradient rule: op type, node name and every unsupported op', async () => {
    const model = join(dir, 'unknown-op.onnx');
    unknownOpModel(model);
    const d = await data('unknown-op-data', { x: randn([2, 4]), y: labels([0, 2]) });
    await gradError(
      'unknown-op',
      [model, '--data', d],
      /no gradient rule for op 'com\.example::Frobnicate' \(node 'frob1'\).*com\.example::Frobnicate, com\.example::Zorp/,
    );
  });

  test('a data tensor of the wrong shape names it, with expected and actual shapes', async () => {
    const d = await data('flat-x', { x: randn([4, 784]), y: ref.get('y')! });
    await gradError('wrong-rank', [MLP, '--data', d], /data tensor 'x' has shape \[4, 784\], but model input 'x' expects \[batch, 1, 28, 28\]/);
  });

  test('a wrong static dim', async () => {
    const d = await data('small-x', { x: randn([4, 1, 28, 27]), y: ref.get('y')! });
    await gradError('wrong-dim', [MLP, '--data', d], /'x' has shape \[4, 1, 28, 27\].*expects \[batch, 1, 28, 28\]/);
  });

  test('a wrong element type', async () => {
    const d = await data('int-x', { x: tensor('int32', [4, 1, 28, 28], new Int32Array(4 * 784)), y: ref.get('y')! });
    await gradError('wrong-dtype', [MLP, '--data', d], /data tensor 'x' is int32 .*expects float32/);
  });

  test('no tensor named after the model input', async () => {
    const d = await data('renamed-x', { input: ref.get('x')!, y: ref.get('y')! });
    await gradError('wrong-name', [MLP, '--data', d], /has no tensor 'x' for model input 'x'.*it holds: input, y/);
  });

  test('labels whose batch differs from the input batch', async () => {
    const d = await data('short-y', { x: ref.get('x')!, y: labels([1, 2, 3]) });
    await gradError('batch-mismatch', [MLP, '--data', d], /data tensor 'y' has shape \[3\].*expects \[batch\].*batch = 4 from 'x'/);
  });

  test('labels outside the classes', async () => {
    const d = await data('bad-y', { x: ref.get('x')!, y: labels([1, 2, 10, 3]) });
    await gradError('label-range', [MLP, '--data', d], /label tensor 'y' holds 10 at index 2, outside the 10 classes/);
  });

  test('a missing label tensor', async () => {
    const d = await data('no-y', { x: ref.get('x')! });
    await gradError('missing-y', [MLP, '--data', d], /no label tensor 'y'.*--labels/);
    await gradError('missing-labels', [MLP, '--data', MLP_DATA, '--labels', 'target'], /no label tensor 'target'/);
  });

  test('float labels for cross-entropy', async () => {
    const d = await data('float-y', { x: ref.get('x')!, y: randn([4]) });
    await gradError('float-y', [MLP, '--data', d], /label tensor 'y' is float32.*int64/);
  });

  test('--params matching nothing', async () => {
    await gradError('no-params', [MLP, '--data', MLP_DATA, '--params', '/^conv/'], /selector '\/\^conv\/' matches no parameter.*fc1\.weight/);
  });

  test('--out pointing at the model or the data file is refused', async () => {
    const model = join(dir, 'keep.onnx');
    copyFileSync(MLP, model);
    const before = readFileSync(model);
    mkdirSync(join(dir, 'sub'), { recursive: true });
    symlinkSync(model, join(dir, 'sub', 'link.onnx'));
    for (const out of [model, join(dir, '.', 'sub', '..', 'keep.onnx'), join(dir, 'sub', 'link.onnx')]) {
      const r = await cli(['grad', model, '--data', MLP_DATA, '--out', out]);
      assertUserError(r, /refusing to overwrite the input model file/);
      assert.deepEqual(readFileSync(model), before);
    }
    const dataCopy = join(dir, 'keep.safetensors');
    copyFileSync(MLP_DATA, dataCopy);
    const dataBefore = readFileSync(dataCopy);
    assertUserError(await cli(['grad', MLP, '--data', dataCopy, '--out', dataCopy]), /refusing to overwrite the input data file/);
    assert.deepEqual(readFileSync(dataCopy), dataBefore);
  });

  test('--out in a directory that does not exist', async () => {
    const out = join(dir, 'no-such-dir', 'g.safetensors');
    assertUserError(await cli(['grad', MLP, '--data', MLP_DATA, '--out', out]), /directory .*no-such-dir does not exist/);
    assert.equal(existsSync(out), false);
  });

  test('SCALPEL_DEBUG=1 adds the stack trace', async () => {
    const r = await cli(['grad', join(dir, 'nope.onnx'), '--data', MLP_DATA, '--out', join(dir, 'x.safetensors')], { SCALPEL_DEBUG: '1' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^scalpel: error: model file not found/);
    assert.match(r.stderr, /\n\s+at /);
  });
});

describe('bench', () => {
  test('mlp --json: forward and forward+backward timings', async () => {
    const r = await cli(['--threads', '1', 'bench', MLP, '--data', MLP_DATA, '--warmup', '1', '--iters', '3', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.batch, 4);
    assert.equal(j.warmup, 1);
    assert.equal(j.iters, 3);
    assert.equal(j.threads, 1);
    assert.equal(j.objective, 'cross-entropy(logits, y)');
    assert.equal(j.parameters, meta('mlp').params);
    assert.equal(j.parameterTensors, 4);
    for (const t of [j.forward, j.forwardBackward]) {
      assert.deepEqual(Object.keys(t).sort(), ['maxMs', 'meanMs', 'medianMs', 'minMs']);
      assert.ok(t.minMs > 0 && t.minMs <= t.medianMs && t.medianMs <= t.maxMs);
    }
    assert.ok(Math.abs(j.ratio - j.forwardBackward.medianMs / j.forward.medianMs) < 1e-9);
  });

  test('without labels the backward pass differentiates the output sum; text report', async () => {
    const ref = await readSafetensors(MLP_DATA);
    const d = join(dir, 'x-only.safetensors');
    await writeSafetensors(d, { x: ref.get('x')! });
    const r = await cli(['bench', MLP, '--data', d, '--warmup', '0', '--iters', '2', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /backward: d sum\(logits\) \/ d 25,450 parameters in 4 tensors/);
    assert.match(r.stdout, /^\s+forward\s+\d/m);
    assert.match(r.stdout, /^\s+forward\+backward\s+\d/m);
  });

  test('a data tensor of the wrong shape fails before running', async () => {
    const d = join(dir, 'bench-bad.safetensors');
    await writeSafetensors(d, { x: randn([4, 28, 28]) });
    assertUserError(await cli(['bench', MLP, '--data', d]), /data tensor 'x' has shape \[4, 28, 28\], but model input 'x' expects \[batch, 1, 28, 28\]/);
  });
});
