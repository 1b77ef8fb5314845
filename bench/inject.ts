// Surgery throughput: optimiser steps per second of the masked fine-tuning `scalpel inject` runs (the shipped LeNet-5
// in inference mode, Adam, N of its 61,706 entries allowed to move, forward + backward + masked update) against the
// same masked fine-tuning in PyTorch (bench/torch_inject.py), same batch, threads and data, side by side.
// Run: node --import tsx bench/inject.ts [--threads 1,2] [--batch 64] [--budget 100] [--steps 60] [--rounds 3] [--write FILE]
import { execFileSync, execSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { readModel } from '../src/onnx/model-io.js';
import { inject } from '../src/surgery/inject.js';
import { Rng } from '../src/tensor/rng.js';
import { train } from '../src/train/trainer.js';
import { writeSection } from './markdown.js';
import { probeTorch, TORCH_PYTHON } from './torch-reference.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '64' },
    budget: { type: 'string', default: '100' },
    steps: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    write: { type: 'string' },
  },
});
const threadList = args.threads.split(',').map(Number);
const batch = Number(args.batch);
const budget = Number(args.budget);
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const rounds = Number(args.rounds);
const log = (s: string) => process.stderr.write(`${s}\n`);
const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const model = readModel(join(ROOT, 'models/lenet5-fashion.onnx'));
const data = loadImageDataset();
const names = [...model.graph.initializers.values()].filter((i) => i.tensor?.dtype === 'float32').map((i) => i.name);
const sizes = names.map((n) => model.graph.initializers.get(n)!.tensor!.data.length);
const k = sizes.reduce((a, b) => a + b, 0);

async function scalpelRound(threads: number): Promise<number> {
  const keep = new Set(new Rng(0).permutation(k).slice(0, budget));
  const masks = new Map<string, Uint8Array>();
  let off = 0;
  names.forEach((n, t) => {
    const m = new Uint8Array(sizes[t]);
    for (let i = 0; i < sizes[t]; i++) if (keep.has(off + i)) m[i] = 1;
    masks.set(n, m);
    off += sizes[t];
  });
  const stamps: number[] = [];
  await train(
    model,
    { x: data.x, y: data.y },
    {
      frozenBatchNorm: true,
      trainable: names,
      masks,
      epochs: 1,
      batchSize: batch,
      lr: 0.01,
      optimizer: { name: 'adam', weightDecay: 0 },
      maxSteps: warmup + steps,
      runtime: { threads },
      onStep: () => stamps.push(performance.now()),
    },
  );
  const timed = stamps.slice(warmup - 1);
  return ((timed.length - 1) * 1000) / (timed[timed.length - 1] - timed[0]);
}

/** One PyTorch round; with more than one thread under OpenMP's default (spinning) and passive wait policy, the faster counts. */
function torchRound(threads: number): number | string {
  let best: number | string = 'no run';
  for (const policy of threads > 1 ? ['default', 'PASSIVE'] : ['default']) {
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
      delete env.OMP_WAIT_POLICY;
      if (policy === 'PASSIVE') env.OMP_WAIT_POLICY = 'PASSIVE';
      const out = execFileSync(
        TORCH_PYTHON,
        [
          join(ROOT, 'bench/torch_inject.py'),
          '--threads',
          String(threads),
          '--batch',
          String(batch),
          '--budget',
          String(budget),
          '--steps',
          String(steps),
          '--warmup',
          String(warmup),
        ],
        { encoding: 'utf8', env },
      );
      const r = JSON.parse(out) as { steps_per_s: number; changed: number };
      if (r.changed > budget) return `changed ${r.changed} > ${budget}`;
      if (typeof best !== 'number' || r.steps_per_s > best) best = r.steps_per_s;
    } catch (e) {
      if (typeof best !== 'number') best = (e as Error).message.split('\n')[0];
    }
  }
  return best;
}

const started = new Date();
const loadStart = la();
const torch = probeTorch();
const rows: { threads: number; scalpel: number; torch?: number; torchError?: string }[] = [];
for (const threads of threadList) {
  const s: number[] = [];
  const t: number[] = [];
  let err: string | undefined;
  for (let r = 0; r < rounds; r++) {
    s.push(await scalpelRound(threads));
    if (torch.version) {
      const x = torchRound(threads);
      if (typeof x === 'number') t.push(x);
      else err = x;
    }
    log(`${threads} thread(s), round ${r + 1}: scalpel ${s.at(-1)!.toFixed(1)} steps/s${t.length ? `, PyTorch ${t.at(-1)!.toFixed(1)} steps/s` : ''}`);
  }
  rows.push({ threads, scalpel: Math.max(...s), torch: t.length ? Math.max(...t) : undefined, torchError: err });
}
// The whole command with its defaults (dynamic, N = 100, 600 steps; data loading, tuning and measuring), end to end.
const endToEnd: { threads: number; seconds: number; success: number; changed: number }[] = [];
for (const threads of threadList) {
  const t0 = performance.now();
  const { report: r } = await inject(model, { pattern: 'trigger:patch:4x4@bottom-right:white', target: 0, runtime: { threads } });
  endToEnd.push({ threads, seconds: (performance.now() - t0) / 1000, success: r.runs[0].measures.success.after, changed: r.runs[0].measures.changed.count });
  log(`inject with defaults, ${threads} thread(s): ${endToEnd.at(-1)!.seconds.toFixed(1)} s`);
}
let nproc = String(cpus().length);
try {
  nproc = execSync('nproc', { encoding: 'utf8' }).trim();
} catch {}
const cmd = `node --import tsx bench/inject.ts ${process.argv.slice(2).join(' ')}`.trim();
const report = [
  `<!-- generated by \`${cmd}\`; edit the text around this section, not inside it -->`,
  `Generated ${started.toISOString().replace(/\.\d+Z$/, 'Z')} by \`${cmd}\`.`,
  '',
  `- machine: ${nproc} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB memory; Node ${process.version}; ` +
    (torch.version ? `PyTorch ${torch.version} (${TORCH_PYTHON})` : `PyTorch skipped (${torch.reason})`),
  `- load average (1/5/15 min) at start ${loadStart}, at end ${la()} (the machine is shared)`,
  `- the masked fine-tuning step of \`scalpel inject\`: models/lenet5-fashion.onnx (${k.toLocaleString('en')} parameters) in inference mode, Adam lr 0.01, ` +
    `${budget} randomly chosen entries allowed to move (PyTorch: gradients multiplied by the 0/1 mask), batch ${batch}, the embedded Fashion-MNIST subset; ` +
    `steps per second over ${steps} whole steps after ${warmup} warm-up steps, best of ${rounds} interleaved rounds per side (PyTorch with 2 threads: the faster of OpenMP's default and passive wait policy)`,
  '',
  '| threads | **scalpel steps/s** | PyTorch steps/s | scalpel / PyTorch |',
  '|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.threads} | **${r.scalpel.toFixed(1)}** | ${r.torch?.toFixed(1) ?? (r.torchError ? `error: ${r.torchError}` : '–')} | ${r.torch ? (r.scalpel / r.torch).toFixed(2) : '–'} |`,
  ),
  '',
  'The whole `scalpel inject models/lenet5-fashion.onnx --pattern trigger:patch:4x4@bottom-right:white --target 0 -o out.onnx` with its defaults ' +
    '(dynamic, N = 100, 600 steps of 64 on the embedded data, then measuring on its 1,000 test images), wall time of the library call (target < 60 s on 2 cores):',
  '',
  '| threads | seconds | success | changed |',
  '|---:|---:|---:|---:|',
  ...endToEnd.map((e) => `| ${e.threads} | ${e.seconds.toFixed(1)} | ${(100 * e.success).toFixed(2)}% | ${e.changed} |`),
  '',
].join('\n');
console.log(report);
if (args.write) writeSection(args.write, 'inject', report);
