// Corruption benchmarks: a corrupted evaluation against a plain onnxruntime forward pass, top-n selection over 10^8
// values, and the whole default `scalpel probe` of LeNet-5 on the full Fashion-MNIST test set.
// Run: node --import tsx bench/corruption.ts [--model models/lenet5-fashion.onnx] [--data fashion-mnist] [--reps 7]
//      [--quick] [--skip-eval] [--skip-resnet] [--skip-topn] [--skip-probe] [--threads N] [--json FILE]
// (or `npm run bench -- --suite corruption [flags]`).
import { execSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/analysis/load.js';
import { worstCorruption } from '../src/corruption/closed-form.js';
import { CorruptionEvaluator, fillNormal, gradientOf } from '../src/corruption/corrupt.js';
import { probe } from '../src/corruption/probe.js';
import { selectParams } from '../src/params/select.js';
import { topN } from '../src/params/top-n.js';
import { batches, type Dataset, takeRows } from '../src/data/batches.js';
import type { Model } from '../src/onnx/ir.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { buildModel } from '../src/models/index.js';
import { compile, configureRuntime } from '../src/runtime/session.js';
import { Rng } from '../src/tensor/rng.js';
import { matchNormalization } from '../src/tasks/normalization.js';
import { ClassificationMeter } from '../src/tasks/classification-metrics.js';

const { values: args } = parseArgs({
  strict: false,
  options: {
    model: { type: 'string', default: 'models/lenet5-fashion.onnx' },
    data: { type: 'string' },
    reps: { type: 'string', default: '7' },
    batch: { type: 'string', default: '200' },
    threads: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'skip-probe': { type: 'boolean', default: false },
    'skip-topn': { type: 'boolean', default: false },
    'skip-resnet': { type: 'boolean', default: false },
    'skip-eval': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const reps = args.quick ? 3 : Number(args.reps);
const batchSize = Number(args.batch);
if (args.threads) configureRuntime({ threads: Number(args.threads) });
const log = (s: string) => process.stderr.write(`${s}\n`);
const dataSpec = (args.data as string | undefined) ?? (existsSync('/usr/share/datasets/fashion-mnist') ? 'fashion-mnist' : 'embedded');
const modelPath = args.model as string;

function machine(): string {
  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc', { encoding: 'utf8' }).trim();
  } catch {}
  return `${nproc} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(f: () => Promise<unknown> | unknown, n = reps): Promise<{ median: number; min: number }> {
  await f(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    ts.push(performance.now() - t);
  }
  return { median: median(ts), min: Math.min(...ts) };
}

const results: Record<string, unknown> = {
  machine: machine(),
  date: new Date().toISOString(),
  load: loadavg()
    .map((x) => x.toFixed(2))
    .join(' '),
};
const lines: string[] = [];
const out = (s: string) => {
  lines.push(s);
  console.log(s);
};

// ---- 1. one corrupted evaluation vs a plain forward pass ----
const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(1)}%`;

async function evaluationBench(label: string, model: Model, data: Dataset, rounds: number): Promise<Record<string, unknown>> {
  const examples = data.x.dims[0];
  const params = selectParams(model).map((p) => p.name);
  log(`evaluation: ${label} on ${examples} examples, batches of ${batchSize}`);
  const plainExe = await compile(model);
  const cut = [...batches(data, batchSize)];
  const output = model.graph.outputs[0].name;
  const input = model.graph.inputs.find((i) => !model.graph.initializers.has(i.name))!.name;
  const evs = {
    auto: await CorruptionEvaluator.create(model, params, data, { batchSize }),
    inputs: await CorruptionEvaluator.create(model, params, data, { batchSize, strategy: 'inputs' }),
    bake: await CorruptionEvaluator.create(model, params, data, { batchSize, strategy: 'bake' }),
  };
  const ev = evs.auto;
  const grad = await gradientOf(model, data, { params, maxExamples: 1000 });
  // Parameters of Gemm/MatMul nodes: fed as inputs they cost nothing; Conv/BatchNorm ones do (see CorruptionEvaluator).
  const cheap = new Set(
    selectParams(model)
      .filter((p) => ['Gemm', 'MatMul'].includes(model.graph.nodes[p.order].opType))
      .map((p) => p.name),
  );
  const cheapGrad = grad.gradients.map((g, i) => (cheap.has(params[i]) ? g : new Float32Array(g.length)));
  const sparseCheap = worstCorruption(cheapGrad, { eps: 1e-2, p: Infinity, n: 100 });
  const sparse = worstCorruption(grad.gradients, { eps: 1e-2, p: Infinity, n: 100 });
  const dense = worstCorruption(grad.gradients, { eps: 1e-3, p: Infinity, n: ev.k });
  const touchesConv = (c: { deltas: Float32Array[] }) => c.deltas.some((d, i) => !cheap.has(params[i]) && d.some((x) => x !== 0));
  // Every path runs once per round, interleaved, so that load from other processes falls on all of them alike.
  const paths: [string, string, () => Promise<unknown>][] = [
    [
      'plain',
      'plain onnxruntime forward, parameters as initializers (logits only)',
      async () => {
        for (const b of cut) await plainExe.run({ [input]: b.x }, [output]);
      },
    ],
    [
      'plainMeter',
      'plain forward + loss/accuracy meter',
      async () => {
        const m = new ClassificationMeter(10);
        for (const b of cut) m.add((await plainExe.run({ [input]: b.x }, [output]))[output], b.y);
      },
    ],
    ['none', 'evaluator, no corruption', () => ev.evaluate()],
    [
      'sparseCheap',
      `evaluator, gradient corruption of Gemm parameters only, n = 100 (touches Conv/BN: ${touchesConv(sparseCheap)})`,
      () => ev.evaluate(sparseCheap),
    ],
    ['sparseInputs', `evaluator, gradient corruption, n = 100 (touches Conv/BN: ${touchesConv(sparse)}), fed as inputs`, () => evs.inputs.evaluate(sparse)],
    ['sparseBake', 'the same, baked into a one-off session (compile + first runs)', () => evs.bake.evaluate(sparse)],
    ['denseInputs', 'evaluator, gradient corruption, n = k, every parameter fed as an input', () => evs.inputs.evaluate(dense)],
    ['denseBake', 'the same, baked into a one-off session', () => evs.bake.evaluate(dense)],
    ['denseAuto', "the same, strategy 'auto' (what probe uses)", () => ev.evaluate(dense)],
  ];
  for (const [, , f] of paths) await f();
  const samples = new Map<string, number[]>(paths.map(([k]) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [k, , f] of paths) {
      const t = performance.now();
      await f();
      samples.get(k)!.push(performance.now() - t);
    }
  }
  const stat = (k: string) => ({ median: median(samples.get(k)!), min: Math.min(...samples.get(k)!) });
  const plain = stat('plain');
  out(
    `### One evaluation of ${examples.toLocaleString('en-US')} images: ${label} (${params.length} tensors, ${ev.k.toLocaleString('en-US')} parameters, batches of ${batchSize}; ${rounds} interleaved rounds)`,
  );
  out('');
  out('| path | min ms | median ms | min vs plain |');
  out('|---|---:|---:|---:|');
  for (const [k, what] of paths) {
    const t = stat(k);
    out(`| ${what} | ${t.min.toFixed(1)} | ${t.median.toFixed(1)} | ${k === 'plain' ? '—' : pct(t.min, plain.min)} |`);
  }
  out('');
  return { examples, batchSize, k: ev.k, ...Object.fromEntries(paths.map(([k]) => [k, stat(k)])) };
}

const model = existsSync(modelPath) ? loadModel(modelPath) : buildModel('lenet5');
const data = matchNormalization(model, await loadLabelledData(dataSpec, 'test'));
if (!args['skip-eval'])
  results.evaluation = await evaluationBench(`${existsSync(modelPath) ? modelPath : 'zoo lenet5 (untrained)'}, ${data.source}`, model, data, reps);
if (!args['skip-eval'] && !args['skip-resnet']) {
  const r20 = buildModel('resnet20', { seed: 1 });
  const few = Math.min(args.quick ? 500 : 2000, data.x.dims[0]);
  const rows = [...Array(few).keys()];
  results.resnet20 = await evaluationBench(
    'zoo ResNet-20 (untrained, BatchNorm in inference mode)',
    r20,
    { x: takeRows(data.x, rows), y: takeRows(data.y, rows) },
    Math.max(3, Math.ceil(reps / 2)),
  );
}

// ---- 2. random vectors and top-n ----
const rng = new Rng(1);
const normals = new Float32Array(1e6);
const normal = await time(() => fillNormal(normals, rng));
out(`fillNormal: ${normal.min.toFixed(1)} ms per 10^6 N(0,1) samples (min; median ${normal.median.toFixed(1)})`);
results.fillNormalMsPerMillion = normal.median;

if (!args['skip-topn']) {
  const k = args.quick ? 1e7 : 1e8;
  const v = new Float32Array(k);
  let s = 12345;
  for (let i = 0; i < k; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    v[i] = s / 4294967296 - 0.5;
  }
  const sizes = [10, 1e6, k / 2];
  const tn: Record<string, unknown> = {};
  out('');
  out(`### topN over ${k.toExponential(0)} float32 values (uniform in [-0.5, 0.5); 5 runs)`);
  out('');
  out('| n | min ms | median ms |');
  out('|---:|---:|---:|');
  for (const n of sizes) {
    const t = await time(() => topN(v, n), 5);
    tn[String(n)] = t;
    out(`| ${n.toLocaleString('en-US')} | ${t.min.toFixed(0)} | ${t.median.toFixed(0)} |`);
  }
  // split into 100 tensors, as a real model is
  const chunks = Array.from({ length: 100 }, (_, i) => v.subarray((i * k) / 100, ((i + 1) * k) / 100));
  const t = await time(() => topN(chunks, 1e6), 5);
  out(`| 1,000,000 (100 tensors) | ${t.min.toFixed(0)} | ${t.median.toFixed(0)} |`);
  tn.chunked = t;
  results.topN = { k, ...tn };
}

// ---- 3. the full default probe ----
if (!args['skip-probe']) {
  const t = performance.now();
  const r = await probe(model, { data: dataSpec, modelName: modelPath, batchSize });
  const s = (performance.now() - t) / 1000;
  out('');
  out(`### Default probe (\`scalpel probe ${modelPath} --data ${dataSpec}\`): ${r.records.length} records, ${s.toFixed(1)} s`);
  results.probe = { seconds: s, records: r.records.length, examples: r.examples };
}

out('');
out(`machine: ${results.machine}; load average at start ${results.load}; ${results.date}`);
if (args.json) writeFileSync(args.json as string, JSON.stringify(results, null, 2));
