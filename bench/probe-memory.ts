// Peak memory of `scalpel probe --method gradient --n 1% --norm inf` on a generated wide MLP (784 → h → h → 10, Gemm
// + Relu), against the model's bytes. `--steps` instead runs the probe's parts in this process and prints the
// resident set after each (where the copies are).
// `node --import tsx bench/probe-memory.ts [--params 88e6] [--dir /tmp] [--steps] [--threads 1] [--generate-only]`
// (generate first with --generate-only for big models, so that this process does not hold one while measuring)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CorruptionEvaluator, gradientOf } from '../src/corruption/corrupt.js';
import { worstCorruption } from '../src/corruption/closed-form.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { floatInitializers, type Model } from '../src/onnx/ir.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { Rng } from '../src/tensor/rng.js';
import { loadAverage, machine } from './machine.js';

const { values: args } = parseArgs({
  options: {
    params: { type: 'string', default: '88e6' },
    dir: { type: 'string', default: '/tmp' },
    steps: { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
    eps: { type: 'string', default: '1e-2' },
    'generate-only': { type: 'boolean', default: false },
  },
});

/** 784 → h → h → 10 with h chosen so the parameter count is about `total`. */
function wideMlp(total: number): Model {
  // h² + 796h + 10 ≈ total
  const h = Math.max(16, Math.round((-796 + Math.sqrt(796 * 796 + 4 * total)) / 2));
  const b = new GraphBuilder();
  const rng = new Rng(1);
  const fill = (n: number, scale: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rng.nextUint32() / 2 ** 32 - 0.5) * scale;
    return a;
  };
  let x = b.op('Flatten', [b.input('input', 'float32', ['batch', 1, 28, 28])]);
  const dims = [784, h, h, 10];
  for (let l = 0; l < 3; l++) {
    const w = b.param(`fc${l + 1}.weight`, { dtype: 'float32', dims: [dims[l + 1], dims[l]], data: fill(dims[l + 1] * dims[l], 2 / Math.sqrt(dims[l])) });
    const bias = b.param(`fc${l + 1}.bias`, { dtype: 'float32', dims: [dims[l + 1]], data: new Float32Array(dims[l + 1]) });
    x = b.op('Gemm', [x, w, bias], { transB: 1 });
    if (l < 2) x = b.op('Relu', [x]);
  }
  b.output(x, 'float32', ['batch', 10]);
  return makeModel(b.graph);
}

const total = Number(args.params);
mkdirSync(args.dir, { recursive: true });
const path = join(args.dir, `scalpel-mlp-${total.toExponential(0)}.onnx`);
if (!existsSync(path)) writeModel(wideMlp(total), path);
if (args['generate-only']) process.exit(0);
const fileBytes = statSync(path).size + (existsSync(`${path}.data`) ? statSync(`${path}.data`).size : 0);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

if (args.steps) {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const mark = (what: string) => {
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(
      `${what.padEnd(48)} rss ${mib(process.memoryUsage().rss).padStart(9)}  peak so far ${mib(peak).padStart(9)} (${(peak / fileBytes).toFixed(1)}× the model)`,
    );
  };
  mark('start');
  const model = readModel(path);
  const names = floatInitializers(model.graph).map((i) => i.name);
  mark('model read');
  const data = await loadLabelledData(undefined, 'test');
  const gdata = await loadLabelledData(undefined, 'train');
  const runtime = { threads: Number(args.threads) };
  const grad = await gradientOf(model, gdata, { params: names, maxExamples: 1000, batchSize: 250, runtime });
  mark('gradient');
  const ev = await CorruptionEvaluator.create(model, names, data, { batchSize: 200, runtime });
  mark('evaluator created');
  await ev.evaluate();
  mark('baseline evaluated');
  const c = worstCorruption(grad.gradients, { eps: Number(args.eps), p: Infinity, n: Math.round(ev.k / 100) });
  mark('worst corruption (n = 1%, p = inf)');
  await ev.evaluate(c);
  mark('corrupted evaluation');
  clearInterval(timer);
} else {
  const cli = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
  const t0 = Date.now();
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%e %M',
      process.execPath,
      '--import',
      'tsx',
      cli,
      '--threads',
      args.threads,
      'probe',
      path,
      '--method',
      'gradient',
      '--n',
      '1%',
      '--norm',
      'inf',
      '--json',
      join(args.dir, 'probe-memory.json'),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`probe failed: ${r.stderr}`);
  const [secs, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  console.log(
    JSON.stringify({
      machine: machine(),
      load: loadAverage(),
      model: path,
      modelBytes: fileBytes,
      seconds: secs,
      wallMs: Date.now() - t0,
      peakRss: kb * 1024,
      peakMiB: Math.round(kb / 1024),
      timesModel: +((kb * 1024) / fileBytes).toFixed(2),
    }),
  );
}
