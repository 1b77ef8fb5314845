// Training throughput: images per second of whole training steps (batching, forward+backward, SGD update,
// BatchNorm running-statistic write-back) of the zoo's LeNet-5 and ResNet-20 with scalpel's trainer, against the
// same architectures trained by PyTorch on CPU (bench/torch_training.py) with the same batch, threads and data.
// Run: node --import tsx bench/training.ts [--threads 1,2] [--cells lenet5:64,resnet20:128,resnet20:64]
//      [--rounds 3] [--steps lenet5:60,resnet20:20] [--warmup 3] [--max-time 20] [--quick] [--no-torch] [--json FILE]
//      [--write FILE] [--section training] [--no-portable]
// Each round also trains with RuntimeOptions.portable (standard ops only, no NCHWc lowering of the fed-weight Convs)
// unless --no-portable.
// (or `npm run bench -- --suite training [flags]`).
import { writeSection } from './markdown.js';
import { execSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { buildModel } from '../src/models/index.js';
import { countParams } from '../src/params/describe.js';
import type { Model } from '../src/onnx/ir.js';
import { train } from '../src/train/trainer.js';
import { probeTorch, TORCH_PYTHON } from './torch-reference.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'torch_training.py');
const { values: args } = parseArgs({
  options: {
    suite: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    cells: { type: 'string', default: 'lenet5:64,resnet20:128,resnet20:64' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: 'lenet5:60,resnet20:20' },
    warmup: { type: 'string', default: '3' },
    lr: { type: 'string', default: '0.05' },
    'max-time': { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
    'no-torch': { type: 'boolean', default: false },
    'no-portable': { type: 'boolean', default: false },
    json: { type: 'string' },
    write: { type: 'string' },
    section: { type: 'string' },
  },
});
const threadList = args.threads.split(',').map(Number);
const cells = args.cells
  .split(',')
  .filter(Boolean)
  .map((c) => {
    const [model, batch] = c.split(':');
    return { model, batch: Number(batch ?? 64) };
  });
const stepsOf = Object.fromEntries(
  args.steps
    .split(',')
    .map((s) => s.split(':'))
    .map(([m, n]) => [m, Number(n)]),
);
const rounds = args.quick ? 1 : Math.max(1, Number(args.rounds));
const warmup = args.quick ? 2 : Math.max(1, Number(args.warmup));
const timedSteps = (m: string) => (args.quick ? 3 : (stepsOf[m] ?? 10));
const lr = Number(args.lr);
/** Seconds of timed steps after which a round stops early (a guard against a pathological round under load). */
const maxTime = Number(args['max-time']);
const log = (s: string) => process.stderr.write(`${s}\n`);
const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

interface Timing {
  imagesPerS: number;
  stepMsMedian: number;
  steps: number;
  /** scalpel: from the train() call to the end of the first step (differentiate, compile, first run). */
  setupMs?: number;
  waitPolicy?: string;
  lastLoss?: number;
}

// --- scalpel: the real trainer on the embedded Fashion-MNIST subset ---
const data = loadImageDataset();

async function scalpelRound(evalModel: Model, trainModel: Model, batch: number, threads: number, steps: number, portable = false): Promise<Timing> {
  const stamps: number[] = [];
  let lastLoss = NaN;
  const perEpoch = Math.floor(data.x.dims[0] / batch);
  const t0 = performance.now();
  const stop = new AbortController();
  await train(
    evalModel,
    { x: data.x, y: data.y },
    {
      trainModel,
      epochs: Math.ceil((warmup + steps) / perEpoch) + 1,
      batchSize: batch,
      lr,
      optimizer: { name: 'sgd', momentum: 0.9, weightDecay: 5e-4 },
      seed: 0,
      maxSteps: warmup + steps,
      runtime: { threads, portable },
      signal: stop.signal,
      onStep: (s) => {
        stamps.push(performance.now());
        lastLoss = s.loss;
        if (stamps.length > warmup + 1 && stamps[stamps.length - 1] - stamps[warmup - 1] > maxTime * 1000) stop.abort();
      },
    },
  );
  // Timestamps at the end of each step: steps warmup+1 … warmup+steps lie between stamps[warmup-1] and the last.
  const timed = stamps.slice(warmup - 1);
  const dts = timed
    .slice(1)
    .map((t, i) => t - timed[i])
    .sort((a, b) => a - b);
  return {
    imagesPerS: (batch * dts.length * 1000) / (timed[timed.length - 1] - timed[0]),
    stepMsMedian: median(dts),
    steps: dts.length,
    setupMs: stamps[0] - t0,
    lastLoss,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// --- PyTorch: one long-lived bench/torch_training.py --serve per (threads, OpenMP wait policy) ---
class TorchTrainer {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly pending: ((line: string) => void)[] = [];
  private stderr = '';

  constructor(
    readonly threads: number,
    readonly waitPolicy: 'default' | 'passive',
  ) {
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    delete env.OMP_WAIT_POLICY;
    if (waitPolicy === 'passive') env.OMP_WAIT_POLICY = 'PASSIVE';
    this.proc = spawn(TORCH_PYTHON, [SCRIPT, '--serve'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.proc.stdout }).on('line', (l) => this.pending.shift()?.(l));
    this.proc.on('exit', () => {
      for (const p of this.pending.splice(0)) p(JSON.stringify({ error: `python exited: ${this.stderr.trim().slice(-500)}` }));
    });
  }

  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.pending.push((l) => resolve(JSON.parse(l))));
  }

  async ready(): Promise<void> {
    const hello = await this.next();
    if (!hello.ready) throw new Error(`torch_training.py did not start: ${hello.error ?? 'no answer'}`);
  }

  async measure(model: string, batch: number, steps: number): Promise<Timing & { params: number }> {
    const answer = this.next();
    this.proc.stdin.write(JSON.stringify({ model, threads: this.threads, batch, warmup, steps, lr, max_time: maxTime }) + '\n');
    const r = await answer;
    if (r.error) throw new Error(String(r.error));
    return {
      imagesPerS: r.images_per_s as number,
      stepMsMedian: r.step_ms_median as number,
      steps: r.steps as number,
      params: r.params as number,
      waitPolicy: this.waitPolicy,
      lastLoss: r.last_loss as number,
    };
  }

  close(): void {
    this.proc.stdin.end();
  }
}

interface Row {
  model: string;
  batch: number;
  threads: number;
  params: number;
  torchParams?: number;
  scalpel: Timing[];
  /** The same with RuntimeOptions.portable (standard ops only). */
  portable: Timing[];
  torch: Timing[];
  torchError?: string;
}

const started = new Date();
const loadStart = la();
const torchProbe = args['no-torch'] ? { reason: '--no-torch' } : probeTorch();
if (!torchProbe.version) log(`PyTorch reference skipped: ${torchProbe.reason}`);

const models = new Map<string, { evalModel: Model; trainModel: Model; params: number }>();
for (const { model } of cells) {
  if (models.has(model)) continue;
  const evalModel = buildModel(model, { mode: 'eval', seed: 0 });
  const trainModel = buildModel(model, { mode: 'train', seed: 0 });
  models.set(model, { evalModel, trainModel, params: countParams(evalModel, { trainable: true }) });
}

const rows: Row[] = [];
for (const threads of threadList) {
  const torch: TorchTrainer[] = [];
  if (torchProbe.version) {
    for (const p of threads > 1 ? (['default', 'passive'] as const) : (['default'] as const)) torch.push(new TorchTrainer(threads, p));
    await Promise.all(torch.map((t) => t.ready()));
  }
  for (const { model, batch } of cells) {
    const m = models.get(model)!;
    const row: Row = { model, batch, threads, params: m.params, scalpel: [], portable: [], torch: [] };
    const steps = timedSteps(model);
    log(`${model}, batch ${batch}, ${threads} thread(s): ${rounds} round(s) of ${warmup} + ${steps} steps ...`);
    // Rounds alternate scalpel and PyTorch so that load from elsewhere hits both; each side's best round counts.
    for (let r = 0; r < rounds; r++) {
      const s = await scalpelRound(m.evalModel, m.trainModel, batch, threads, steps);
      row.scalpel.push(s);
      const line = [`  round ${r + 1}: scalpel ${s.imagesPerS.toFixed(0)} img/s over ${s.steps} steps (setup ${(s.setupMs! / 1000).toFixed(2)} s)`];
      if (!args['no-portable']) {
        const p = await scalpelRound(m.evalModel, m.trainModel, batch, threads, steps, true);
        row.portable.push(p);
        line.push(`scalpel --portable ${p.imagesPerS.toFixed(0)} img/s`);
      }
      for (const t of torch) {
        try {
          const res = await t.measure(model, batch, steps);
          row.torchParams = res.params;
          row.torch.push(res);
          line.push(`torch/${t.waitPolicy} ${res.imagesPerS.toFixed(0)} img/s over ${res.steps} steps`);
        } catch (e) {
          row.torchError = (e as Error).message.split('\n')[0];
        }
      }
      log(line.join(', '));
    }
    rows.push(row);
  }
  for (const t of torch) t.close();
}
const loadEnd = la();

function machine(): string {
  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc', { encoding: 'utf8' }).trim();
  } catch {}
  return `${nproc} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB memory`;
}
const best = (ts: Timing[]) => (ts.length ? ts.reduce((a, b) => (b.imagesPerS > a.imagesPerS ? b : a)) : undefined);
const fmt = (x: number | undefined, d = 0) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

function table(): string {
  const out = [
    '| model | batch | threads | trainable params (scalpel / torch) | **scalpel img/s** | scalpel ms/step (median) | scalpel --portable img/s | PyTorch img/s | PyTorch ms/step (median) | PyTorch wait policy | scalpel / PyTorch (target ≥ 1) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const r of rows) {
    const s = best(r.scalpel);
    const t = best(r.torch);
    const ratio = s && t ? s.imagesPerS / t.imagesPerS : undefined;
    const p = best(r.portable);
    out.push(
      `| ${r.model} | ${r.batch} | ${r.threads} | ${r.params.toLocaleString('en')} / ${r.torchParams?.toLocaleString('en') ?? '–'} | **${fmt(s?.imagesPerS)}** | ${fmt(s?.stepMsMedian, 1)} | ${fmt(p?.imagesPerS)} | ` +
        `${r.torchError && !t ? 'error' : fmt(t?.imagesPerS)} | ${fmt(t?.stepMsMedian, 1)} | ${t?.waitPolicy ?? '–'} | ${ratio === undefined ? '–' : `${ratio.toFixed(2)} ${ratio >= 1 ? '✓' : '✗'}`} |`,
    );
  }
  return out.join('\n');
}

const cmd = `node --import tsx bench/training.ts ${process.argv.slice(2).join(' ')}`.trim();
const setup = rows.flatMap((r) => r.scalpel.map((s) => s.setupMs!)).filter(Number.isFinite);
const report = [
  `<!-- generated by \`${cmd}\`; edit the text around this section, not inside it -->`,
  `Generated ${started.toISOString().replace(/\.\d+Z$/, 'Z')} by \`${cmd}\`.`,
  '',
  `- machine: ${machine()}; Node ${process.version}; ` +
    (torchProbe.version ? `PyTorch ${torchProbe.version} (${TORCH_PYTHON})` : `PyTorch reference skipped (${torchProbe.reason})`),
  `- load average (1/5/15 min) at start ${loadStart}, at end ${loadEnd}`,
  `- data: the embedded Fashion-MNIST subset (${data.x.dims[0]} images, 1×28×28, normalised); SGD lr ${lr}, momentum 0.9, weight decay 5e-4; models in training mode (BatchNorm on batch statistics, running statistics updated)`,
  `- images/s over whole steps after ${warmup} warm-up steps (${cells
    .map((c) => `${c.model} ${timedSteps(c.model)}`)
    .filter((v, i, a) => a.indexOf(v) === i)
    .join(', ')} timed steps per round), ` +
    `${rounds} interleaved round(s) per cell (scalpel, ${args['no-portable'] ? '' : 'scalpel with `portable` (standard ops, no NCHWc lowering), '}then PyTorch); the best round counts on each side. ` +
    `PyTorch with more than one thread runs with OpenMP's default (spinning) and passive wait policy and the faster counts. ` +
    `A round stops early once its timed steps took ${maxTime} s. ` +
    `scalpel's one-off setup per train() call (differentiate, compile unless the session is cached, first step) took up to ${setup.length ? `${(Math.max(...setup) / 1000).toFixed(1)} s` : '–'} and is not counted`,
  '',
  table(),
  '',
].join('\n');
console.log(report);
if (args.json) writeFileSync(args.json, JSON.stringify({ started, cmd, loadStart, loadEnd, rows }, null, 2));
if (args.write) {
  writeSection(args.write, args.section ?? 'training', report);
  log(`wrote ${args.write}`);
}
