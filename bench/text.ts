// Text models: fwd+bwd of an LSTM language model (PTB small) and a Transformer classifier with BERT's vocabulary,
// against PyTorch side by side, and what the embedding's gradient (Gather's rule) costs per step.
// `node --import tsx bench/text.ts [--threads 1] [--rounds 3] [--clock cpu|wall] [--dir DIR]`: prints markdown for BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { GradContext, GradRule } from '../src/autodiff/grad-context.js';
import { Gather } from '../src/autodiff/rules/Gather.js';
import { asInt64, dimsOf, shapeOf, wrapIndices, zerosOfShape } from '../src/autodiff/rules/tensor-helpers.js';
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

// The embedding's gradient as rows: dX = ScatterND(zeros, I[:, None], dY; add) for a Gather along axis 0, from
// opset 16 (indices [N, 1], not expanded to dY's shape as ScatterElements needs). Before 16, segment sums of the
// sorted rows on the compact side (differences of a running sum at each segment's last row) and one ScatterND of
// the distinct rows. Either way the result is the dense [V, d] gradient; only the work around it changes.
const GatherRows: GradRule = (g: GradContext) => {
  const x = g.I(0);
  const r = g.rank(x);
  const q = g.rank(g.I(1));
  if (g.attrInt('axis', 0) !== 0 || r === undefined || q === undefined || q === 0) return Gather(g);
  const n = dimsOf(g, x, [0]);
  const idx = wrapIndices(g, g.op('Reshape', asInt64(g, g.I(1)), g.ints([-1])), n);
  const tail = g.op('Slice', g.op('Shape', g.GO(0)), g.ints([q]), g.ints([q + r - 1]));
  const u = g.op('Reshape', g.GO(0), g.op('Concat', g.ints([-1]), tail, { axis: 0 }));
  const zeros = zerosOfShape(g, shapeOf(g, x), u);
  if (g.opset >= 16) {
    g.setGI(0, g.op('ScatterND', zeros, g.op('Unsqueeze', idx, g.ints([1])), u, { reduction: 'add' }));
    return;
  }
  const [sorted, order] = g.opN('TopK', [idx, g.op('Shape', idx)], 2, { axis: 0, largest: 0, sorted: 1 });
  const incl = g.op('CumSum', g.op('Gather', u, order, { axis: 0 }), g.ints([0]));
  const next = g.op('Concat', g.op('Slice', sorted, g.ints([1]), g.ints([Number.MAX_SAFE_INTEGER])), g.ints([-1]), { axis: 0 });
  const last = g.op('Not', g.op('Equal', sorted, next));
  const atLast = g.op('Compress', incl, last, { axis: 0 });
  const before = g.op('Concat', g.op('Slice', g.op('Sub', atLast, atLast), g.ints([0]), g.ints([1])), g.op('Slice', atLast, g.ints([0]), g.ints([-1])), { axis: 0 });
  const sums = g.op('Sub', atLast, before);
  g.setGI(0, g.op('ScatterND', zeros, g.op('Unsqueeze', g.op('Compress', sorted, last, { axis: 0 }), g.ints([1])), sums));
};

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
  return { name, model, feeds, torchLoss: Number(batch.get('loss')!.data[0]), params: inits.reduce((a, i) => a + i.tensor!.data.length, 0), vocab: emb.tensor!.dims[0] };
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
  for (const [variant, rules] of [['dense (current rule)', {}], ['rows (ScatterND)', { Gather: GatherRows }]] as const) {
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
  cells.gradErr = relErr(grads['rows (ScatterND)'], grads['dense (current rule)']);
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
const load0 = loadavg().map((v) => v.toFixed(2)).join(' ');
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
  const dense = c.fwdBwd['dense (current rule)'];
  const rowsMs = c.fwdBwd['rows (ScatterND)'];
  const shape = Object.values(p.feeds)[0].dims.join('×');
  rows.push(
    `| ${name} | ${(p.params / 1e6).toFixed(2)}M (V ${p.vocab}) | ${shape} | ${c.fwd.toFixed(1)} | **${dense.toFixed(1)}** (${(100 * c.gatherShare['dense (current rule)']).toFixed(1)}%) | ${rowsMs.toFixed(1)} (${(100 * c.gatherShare['rows (ScatterND)']).toFixed(1)}%) | ${torchBest.fwd_ms.toFixed(1)} | ${torchBest.fwd_bwd_ms.toFixed(1)} | ${(torchBest.fwd_bwd_ms / dense).toFixed(2)} | ${Math.abs(c.loss - p.torchLoss).toExponential(1)} | ${c.gradErr.toExponential(1)} |`,
  );
}
torch.close();
console.log(`- ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0].model}), ${threads} thread(s), PyTorch ${String(ready.torch)}; load average at start ${load0}, at end ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log(`- command: \`node --import tsx bench/text.ts --threads ${threads} --rounds ${rounds} --clock ${clock}\`; each cell the best of ${rounds} interleaved rounds' medians, ms per batch of ${clock === 'cpu' ? "the process's CPU time (all threads; PyTorch's likewise, time.process_time)" : 'wall time'}\n`);
console.log('| model | params | batch | ORT fwd | **fwd+bwd** (bwd Gather share) | fwd+bwd, rows rule (share) | PyTorch fwd | PyTorch fwd+bwd | PyTorch / scalpel fwd+bwd | |loss − torch| | rows vs dense dEmb rel. err |');
console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(r);
