// One Conv three ways: weights baked (onnxruntime pre-packs them and runs its NCHWc kernels), weights fed as a
// graph input (standard ops: what scalpel ran before the NCHWc pass), and weights fed with the runtime's NCHWc
// lowering (src/runtime/nchwc.ts: ReorderInput → com.microsoft.nchwc.Conv with the filter reordered in-graph →
// ReorderOutput). Interleaved rounds, best round's median.
//
//   node --import tsx bench/nchwc-conv.ts [--threads 1,2] [--rounds 5] [--shapes 64x16x28-32k3p1,…] [--json FILE] [--write BENCHMARKS.md]
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import type { Model } from '../src/onnx/ir.js';
import { lowerToNchwc } from '../src/runtime/nchwc.js';
import { compile, type Executable, nchwcBlockSize } from '../src/runtime/session.js';
import { type HostTensor, tensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';
import { timeIt } from './engine.js';
import { writeSection } from './markdown.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '5' },
    // N x C x HW - M k kernel p pad [s stride]
    shapes: { type: 'string', default: '64x16x28-32k3p1,64x16x28-16k3p1,64x32x14-32k3p1,64x64x7-64k3p1,64x16x28-32k3p1s2,64x6x14-16k5p0' },
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    write: { type: 'string' },
  },
});

interface Shape {
  label: string;
  N: number;
  C: number;
  H: number;
  M: number;
  k: number;
  pad: number;
  stride: number;
}

function parseShape(s: string): Shape {
  const m = /^(\d+)x(\d+)x(\d+)-(\d+)k(\d+)p(\d+)(?:s(\d+))?$/.exec(s);
  if (!m) throw new Error(`bad --shapes entry '${s}' (want e.g. 64x16x28-32k3p1 or 64x16x28-32k3p1s2)`);
  const [N, C, H, M, k, pad, stride] = m.slice(1).map((v) => (v === undefined ? 1 : Number(v)));
  return { label: `${C}→${M}, ${k}×${k}, pad ${pad}${stride > 1 ? `, stride ${stride}` : ''}, batch ${N} of ${H}×${H}`, N, C, H, M, k, pad, stride };
}

function convModel(s: Shape, w: HostTensor, bias: HostTensor, baked: boolean): Model {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [s.N, s.C, s.H, s.H]);
  const wn = baked ? b.param('w', w) : b.input('w', 'float32', w.dims);
  const bn = baked ? b.param('b', bias) : b.input('b', 'float32', bias.dims);
  b.output(b.op('Conv', [x, wn, bn], { pads: [s.pad, s.pad, s.pad, s.pad], strides: [s.stride, s.stride] }, 'y'));
  return makeModel(b.graph, 17);
}

const rng = new Rng(3);
const randn = (dims: number[]) =>
  tensor(
    'float32',
    dims,
    Float32Array.from({ length: dims.reduce((a, c) => a * c, 1) }, () => rng.normal()),
  );

const VARIANTS = ['baked', 'fed', 'nchwc'] as const;
type Variant = (typeof VARIANTS)[number];
interface Row {
  shape: string;
  threads: number;
  ms: Record<Variant, number>;
  maxAbsDiff: number;
  convs: number;
}

const threadList = args.threads.split(',').map(Number);
const rounds = Math.max(1, Number(args.rounds));
const budget = args.quick ? { warmup: 3, minIters: 5, minTimeMs: 100, maxTimeMs: 1000 } : { warmup: 5, minIters: 15, minTimeMs: 400, maxTimeMs: 4000 };
const block = await nchwcBlockSize();
const loadStart = loadavg();
const started = new Date();
const rows: Row[] = [];

for (const spec of args.shapes.split(',').filter(Boolean)) {
  const s = parseShape(spec);
  const w = randn([s.M, s.C, s.k, s.k]);
  const bias = randn([s.M]);
  const x = randn([s.N, s.C, s.H, s.H]);
  const fedModel = convModel(s, w, bias, false);
  const convs = lowerToNchwc(fedModel, block).convs;
  for (const threads of threadList) {
    const exes: Record<Variant, Executable> = {
      baked: await compile(convModel(s, w, bias, true), { threads, portable: true }),
      fed: await compile(fedModel, { threads, portable: true }),
      nchwc: await compile(fedModel, { threads }),
    };
    const feeds: Record<Variant, Record<string, HostTensor>> = { baked: { x }, fed: { x, w, b: bias }, nchwc: { x, w, b: bias } };
    const outs = await Promise.all(VARIANTS.map(async (v) => (await exes[v].run(feeds[v]))[exes[v].outputNames[0]].data as Float32Array));
    // Largest difference from the baked output, relative to the largest baked output magnitude.
    let maxAbsDiff = 0;
    let scale = 0;
    for (const v of outs[0]) scale = Math.max(scale, Math.abs(v));
    for (const o of outs.slice(1)) for (let i = 0; i < o.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(o[i] - outs[0][i]) / scale);
    const ms = { baked: Infinity, fed: Infinity, nchwc: Infinity };
    for (let r = 0; r < rounds; r++) {
      for (const v of VARIANTS) ms[v] = Math.min(ms[v], (await timeIt(() => exes[v].run(feeds[v]), budget)).medianMs);
    }
    rows.push({ shape: s.label, threads, ms, maxAbsDiff, convs });
    console.error(
      `${s.label}, ${threads} thr: baked ${ms.baked.toFixed(2)}  fed ${ms.fed.toFixed(2)}  nchwc ${ms.nchwc.toFixed(2)} ms (max |Δ| / max |y| ${maxAbsDiff.toExponential(1)})`,
    );
  }
}

const loadEnd = loadavg();
const f = (v: number) => v.toFixed(v < 10 ? 2 : 1);
const cmd = `node --import tsx bench/nchwc-conv.ts ${process.argv.slice(2).join(' ')}`.trim();
const lines = [
  `<!-- generated by \`${cmd}\`; edit the text around this section, not inside it -->`,
  `Generated ${started.toISOString().replace(/\.\d+Z$/, 'Z')} by \`${cmd}\`.`,
  '',
  `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), NCHWc block size ${block}; Node ${process.version}`,
  `- load average (1/5/15 min) at start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}`,
  `- ms per run, ${rounds} interleaved rounds (baked, fed, NCHWc, round after round), each ${budget.warmup} warm-up runs then ≥ ${budget.minIters} timed runs and ≥ ${budget.minTimeMs / 1000} s; best round's median. "max \\|Δ\\| / max \\|y\\|": largest difference of the fed and NCHWc outputs from the baked one, relative to the largest baked output`,
  '',
  '| conv | threads | baked | fed (standard ops) | fed / baked | **fed, NCHWc pass** | **NCHWc / baked** | max \\|Δ\\| / max \\|y\\| |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.shape} | ${r.threads} | ${f(r.ms.baked)} | ${f(r.ms.fed)} | ${(r.ms.fed / r.ms.baked).toFixed(2)}× | **${f(r.ms.nchwc)}**${r.convs ? '' : ' (not lowered)'} | **${(r.ms.nchwc / r.ms.baked).toFixed(2)}×** | ${r.maxAbsDiff.toExponential(1)} |`,
  ),
];
const report = lines.join('\n');
console.log(report);
if (args.json) writeFileSync(args.json, JSON.stringify({ block, loadStart, loadEnd, rows }, null, 2));
if (args.write) writeSection(args.write, 'nchwc-conv', report);
