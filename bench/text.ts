// Text models: fwd+bwd of an LSTM language model (PTB small) and a Transformer classifier with BERT's vocabulary,
// against PyTorch side by side, and what the embedding's gradient (Gather's rule, in its two forms) costs per step.
// `node --import tsx bench/text.ts [--threads 1] [--rounds 3] [--clock cpu|wall] [--dir DIR]`: prints markdown for BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { GradContext } from '../src/autodiff/grad-context.js';
import { gatherGrad } from '../src/autodiff/rules/Gather.js';
import { readSafetensors } from '../src/data/safetensors.js';
import { bindDims } from '../src/onnx/bind-dims.js';
import { floatInitializers, type Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { timeCpu, timeIt, trainingGraph } from './engine.js';
import { bySource, profileModel } from './profile.js';
import { TORCH_PYTHON } from './torch-reference.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    dir: { type: 'string' },
    clock: { type: 'string', default: 'cpu' },
  },
});
// NOTE: on the shared machine wall time measures the load; the process's CPU time (all threads) measures the work.
const clock = args.clock === 'wall' ? 'wall' : 'cpu';
const threads = Number(args.threads);
const rounds = Number(args.rounds);
const HERE = new URL('.', import.meta.url).pathname;
const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'scalpel-bench-text-'));
const MODELS = ['lstm-lm', 'transformer-cls'] as const;

// Gather's gradient in its two forms (src/autodiff/rules/Gather.ts): 'scatter' (scatterAddAxis: ScatterElements with
// indices expanded to dY's shape from opset 16, sorted segment sums over two dense scatters before) and 'rows' (the
// rule's choice for axis 0: ScatterND of dY's rows). Both give the same dense [V, d] gradient.
const VARIANTS = [
  ['scatter', { Gather: (g: GradContext) => gatherGrad(g, 'scatter') }],
  ['rows (the rule)', { Gather: (g: GradContext) => gatherGrad(g, 'rows') }],
] as const;

interface Prepared {
  name: string;
  model: Model;
  feeds: Record<string, HostTensor>;
  torchLoss: number;
  params: number;
  vocab: number;
}

async function prepare(name: (typeof MODELS)[number]): Promise<Prepared> {
  const batch = await readSafetensors(join(dir, `${name}.batch.safetensors`));
  let model = readModel(join(dir, `${name}.onnx`));
  const T = batch.get('input_ids')!.dims[1];
  // NOTE: the differentiator unrolls LSTMs, which needs the sequence length fixed.
  if (model.graph.nodes.some((n) => n.opType === 'LSTM')) model = bindDims(model, { sequence: T });
  const feeds = Object.fromEntries([...batch].filter(([k]) => k !== 'loss'));
  const inits = floatInitializers(model.graph);
  const emb = inits.find((i) => i.name === 'emb.weight')!;
  return {
    name,
    model,
    feeds,
    torchLoss: Number(batch.get('loss')!.data[0]),
    params: inits.reduce((a, i) => a + i.tensor!.data.length, 0),
    vocab: emb.tensor!.dims[0],
  };
}

const budget = { warmup: 3, minIters: 10, minTimeMs: 1500, maxTimeMs: 8000 };
const timer = clock === 'cpu' ? timeCpu : timeIt;

interface Cells {
  fwd: number;
  fwdBwd: Record<string, number>;
  gatherShare: Record<string, number>;
  loss: number;
  gradErr: number;
}

function relErr(a: HostTensor, b: HostTensor): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i++) {
    d += ((a.data[i] as number) - (b.data[i] as number)) ** 2;
    n += (b.data[i] as number) ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

async function measure(p: Prepared): Promise<Cells> {
  const fwdExe = await compile(p.model, { threads });
  const fwd = (await timer(() => fwdExe.run(p.feeds), budget)).medianMs;
  const cells: Cells = { fwd, fwdBwd: {}, gatherShare: {}, loss: NaN, gradErr: NaN };
  const grads: Record<string, HostTensor> = {};
  for (const [variant, rules] of VARIANTS) {
    const wrt = floatInitializers(p.model.graph).map((i) => i.name);
    const tg = trainingGraph(p.model, wrt, { rules });
    const exe = await compile(tg.model, { threads });
    const feeds = { ...Object.fromEntries(tg.values), ...p.feeds };
    const fetch = [tg.loss, ...tg.gradients.values()];
    const out = await exe.run(feeds, fetch);
    cells.loss = Number(out[tg.loss].data[0]);
    grads[variant] = out[tg.gradients.get('emb.weight')!];
    cells.fwdBwd[variant] = (await timer(() => exe.run(feeds, fetch), budget)).medianMs;
    const tagged = trainingGraph(p.model, wrt, { rules, tag: true });
    const prof = bySource(await profileModel(tagged.model, feeds, fetch, threads, 10, 3));
    const total = prof.reduce((a, e) => a + e.ms, 0);
    cells.gatherShare[variant] = (prof.find((e) => e.label === 'bwd Gather')?.ms ?? 0) / total;
  }
  cells.gradErr = relErr(grads[VARIANTS[1][0]], grads[VARIANTS[0][0]]);
  return cells;
}

class Torch {
  private proc = spawn(TORCH_PYTHON, [join(HERE, 'torch_text.py'), '--serve'], {
    env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  private lines = createInterface({ input: this.proc.stdout });
  private waiting: ((l: string) => void)[] = [];
  constructor() {
    this.lines.on('line', (l) => this.waiting.shift()?.(l));
  }
  next(): Promise<Record<string, unknown>> {
    return new Promise((res) => this.waiting.push((l) => res(JSON.parse(l) as Record<string, unknown>)));
  }
  async ask(req: object): Promise<Record<string, unknown>> {
    const p = this.next();
    this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    return p;
  }
  close(): void {
    this.proc.stdin.end();
  }
}

if (!existsSync(join(dir, 'lstm-lm.onnx'))) {
  const r = spawnSync(TORCH_PYTHON, [join(HERE, 'torch_text.py'), '--export', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch_text.py --export failed: ${r.stderr.slice(-800)}`);
}
const load0 = loadavg()
  .map((v) => v.toFixed(2))
  .join(' ');
const torch = new Torch();
const ready = await torch.next();
const rows: string[] = [];
for (const name of MODELS) {
  const p = await prepare(name);
  let best: Cells | undefined;
  let torchBest = { fwd_bwd_ms: Infinity, fwd_ms: Infinity };
  for (let r = 0; r < rounds; r++) {
    const c = await measure(p);
    if (!best) best = c;
    else {
      best.fwd = Math.min(best.fwd, c.fwd);
      for (const k of Object.keys(c.fwdBwd)) best.fwdBwd[k] = Math.min(best.fwdBwd[k], c.fwdBwd[k]);
    }
    const t = (await torch.ask({ model: name, threads, clock })) as { fwd_bwd_ms: number; fwd_ms: number };
    torchBest = { fwd_bwd_ms: Math.min(torchBest.fwd_bwd_ms, t.fwd_bwd_ms), fwd_ms: Math.min(torchBest.fwd_ms, t.fwd_ms) };
  }
  const c = best!;
  const dense = c.fwdBwd[VARIANTS[0][0]];
  const rowsMs = c.fwdBwd[VARIANTS[1][0]];
  const shape = Object.values(p.feeds)[0].dims.join('×');
  rows.push(
    `| ${name} | ${(p.params / 1e6).toFixed(2)}M (V ${p.vocab}) | ${shape} | ${c.fwd.toFixed(1)} | ${dense.toFixed(1)} (${(100 * c.gatherShare[VARIANTS[0][0]]).toFixed(1)}%) | **${rowsMs.toFixed(1)}** (${(100 * c.gatherShare[VARIANTS[1][0]]).toFixed(1)}%) | ${torchBest.fwd_ms.toFixed(1)} | ${torchBest.fwd_bwd_ms.toFixed(1)} | ${(torchBest.fwd_bwd_ms / rowsMs).toFixed(2)} | ${Math.abs(c.loss - p.torchLoss).toExponential(1)} | ${c.gradErr.toExponential(1)} |`,
  );
}
torch.close();
console.log(
  `- ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0].model}), ${threads} thread(s), PyTorch ${String(ready.torch)}; load average at start ${load0}, at end ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}`,
);
console.log(
  `- command: \`node --import tsx bench/text.ts --threads ${threads} --rounds ${rounds} --clock ${clock}\`; each cell the best of ${rounds} interleaved rounds' medians, ms per batch of ${clock === 'cpu' ? "the process's CPU time (all threads; PyTorch's likewise, time.process_time)" : 'wall time'}\n`,
);
console.log(
  '| model | params | batch | ORT fwd | fwd+bwd, Gather grad by scatter (its share) | **fwd+bwd**, by rows, the rule (share) | PyTorch fwd | PyTorch fwd+bwd | PyTorch / scalpel fwd+bwd (rows) | |loss − torch| | rows vs scatter dEmb rel. err |',
);
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
