// The engine suite: forward, and forward+backward of differentiated PyTorch-exported models, per batch.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { differentiate, type Differentiated, UnsupportedOpError } from '../src/autodiff/differentiate.js';
import type { GradRule } from '../src/autodiff/grad-context.js';
import { RULES } from '../src/autodiff/rules/index.js';
import { readSafetensors } from '../src/data/safetensors.js';
import { floatInitializers, type Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { promoteToInputs } from '../src/onnx/params-as-inputs.js';
import { lowerToNchwc } from '../src/runtime/nchwc.js';
import { compile, nchwcBlockSize, type RuntimeOptions } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';
import { withLoss } from '../src/train/losses.js';
import { profileModel, tagForward, tagNodes, type Profile } from './profile.js';
import type { TimingBudget, TorchReference, TorchTiming } from './torch-reference.js';

export const MODELS = ['mlp', 'lenet', 'resnet', 'transformer', 'gru', 'lstm'] as const;
export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'torch');

export interface FixtureMeta {
  opset: number;
  inputShape: number[];
  inputDType: 'float32' | 'int64';
  params: number;
  initializers: string[];
  gradientKeys: string[];
  loss: number;
}

/** Which initializers the fwd+bwd graph differentiates: PyTorch's parameters (as torch does), or every float one. */
export type WrtMode = 'params' | 'all';

export interface TrainingGraph {
  model: Model;
  loss: string;
  /** Parameter name -> graph output holding its gradient. */
  gradients: Map<string, string>;
  /** Values of every promoted initializer, fed as inputs. */
  values: Map<string, HostTensor>;
}

export interface EngineRow {
  model: string;
  threads: number;
  batch: number;
  params: number;
  /** onnxruntime forward of the exported model, initializers as they are (pre-packed weights). */
  ortFwdMs?: number;
  /** Same forward with every float initializer promoted to a graph input. */
  promotedFwdMs?: number;
  /** The same two with RuntimeOptions.portable (standard ops only, no NCHWc lowering). */
  portableFwdMs?: number;
  portableFwdBwdMs?: number;
  /** loss + all parameter gradients: withLoss(cross-entropy) + promoteToInputs + differentiate. */
  fwdBwdMs?: number;
  fwdBwdIters?: number;
  /** Nodes in the forward and in the forward+backward graph. */
  nodes?: { fwd: number; fwdBwd: number };
  /** Largest relative L2 error of a gradient against PyTorch's fixture gradients (batch 4). */
  gradRelErr?: number;
  lossAbsErr?: number;
  /** PyTorch's best round (over rounds and OpenMP wait policies). */
  torch?: { fwdBwdMs: number; fwdMs: number; waitPolicy: string; runs: TorchTiming[] };
  torchError?: string;
  /** Why fwd+bwd has no timing ('unsupported: …' for a missing rule, 'failed: …' otherwise). */
  error?: string;
}

export function readMeta(name: string): FixtureMeta {
  return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as FixtureMeta;
}

/** A random batch of the fixture's input shape: normal floats, or int64 tokens in [0, 50); labels in [0, 10). */
export function randomBatch(meta: FixtureMeta, batch: number, seed = 1): { x: HostTensor; y: HostTensor } {
  const rng = new Rng(seed);
  const dims = [batch, ...meta.inputShape.slice(1)];
  const n = dims.reduce((a, b) => a * b, 1);
  const x: HostTensor =
    meta.inputDType === 'int64'
      ? { dtype: 'int64', dims, data: BigInt64Array.from({ length: n }, () => BigInt(rng.int(50))) }
      : { dtype: 'float32', dims, data: Float32Array.from({ length: n }, () => rng.normal()) };
  const y: HostTensor = { dtype: 'int64', dims: [batch], data: BigInt64Array.from({ length: batch }, () => BigInt(rng.int(10))) };
  return { x, y };
}

/** The parameters a fwd+bwd step differentiates. */
export function wrtNames(model: Model, meta: FixtureMeta, mode: WrtMode): string[] {
  const floats = floatInitializers(model.graph).map((i) => i.name);
  if (mode === 'all') return floats;
  const params = new Set(meta.gradientKeys.map((k) => k.replace(/^grad:/, '')));
  return floats.filter((n) => params.has(n));
}

/**
 * withLoss(cross-entropy) + promoteToInputs(every float initializer) + differentiate(loss, wrt).
 * `rules` temporarily replaces registered gradient rules (lowering experiments); `tag` names every node after
 * its origin for the profiler.
 */
export function trainingGraph(model: Model, wrt: readonly string[], opts: { rules?: Record<string, GradRule>; tag?: boolean } = {}): TrainingGraph {
  const lossed = withLoss(model, { kind: 'cross-entropy' });
  const promoted = promoteToInputs(
    lossed.model,
    floatInitializers(lossed.model.graph).map((i) => i.name),
  );
  const saved = { ...RULES };
  let diff: Differentiated;
  try {
    Object.assign(RULES, opts.rules ?? {});
    const run = () => differentiate(promoted.model, { of: lossed.loss, wrt });
    diff = opts.tag ? tagNodes(run) : run();
  } finally {
    Object.assign(RULES, saved);
  }
  if (opts.tag) tagForward(diff.model, promoted.model, wrt, lossed.loss);
  return { model: diff.model, loss: lossed.loss, gradients: diff.gradients, values: promoted.values };
}

export async function timeIt(fn: () => Promise<unknown>, b: TimingBudget): Promise<{ medianMs: number; minMs: number; iters: number }> {
  for (let i = 0; i < b.warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  for (;;) {
    const t0 = performance.now();
    await fn();
    const t1 = performance.now();
    times.push(t1 - t0);
    const elapsed = t1 - start;
    if ((times.length >= b.minIters && elapsed >= b.minTimeMs) || elapsed >= b.maxTimeMs) break;
  }
  times.sort((a, c) => a - c);
  const n = times.length;
  const medianMs = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  return { medianMs, minMs: times[0], iters: n };
}

/**
 * Like timeIt, but the process's CPU time (user + system, all threads) per call: on a machine shared with other
 * jobs this measures the work a lowering does (at 1 thread) where wall time measures the load.
 */
export async function timeCpu(fn: () => Promise<unknown>, b: TimingBudget): Promise<{ medianMs: number; minMs: number; iters: number }> {
  for (let i = 0; i < b.warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  for (;;) {
    const c0 = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
    const elapsed = performance.now() - start;
    if ((times.length >= b.minIters && elapsed >= b.minTimeMs) || elapsed >= b.maxTimeMs) break;
  }
  times.sort((a, c) => a - c);
  const n = times.length;
  const medianMs = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  return { medianMs, minMs: times[0], iters: n };
}

function relErr(a: HostTensor, b: HostTensor): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = (a.data[i] as number) - (b.data[i] as number);
    num += d * d;
    den += (b.data[i] as number) ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

const short = (e: unknown) => ((e as Error).message ?? String(e)).split('\n')[0].slice(0, 300);

export interface EngineOptions {
  threads: number;
  batch: number;
  budget: TimingBudget;
  /** Interleaved measuring rounds per cell (the budget is split between them). */
  rounds: number;
  wrt: WrtMode;
  /** PyTorch servers to measure right after scalpel's cells (e.g. one per OpenMP wait policy). */
  torch?: TorchReference[];
  /** Also time the promoted forward and fwd+bwd with RuntimeOptions.portable (standard ops only). */
  portable?: boolean;
}

/** Measure one model: ORT forward, promoted forward, fwd+bwd, and (when given) PyTorch's fwd+bwd right after. */
export async function benchModel(name: string, o: EngineOptions): Promise<EngineRow> {
  const meta = readMeta(name);
  const model = readModel(join(FIXTURES, `${name}.onnx`));
  const row: EngineRow = { model: name, threads: o.threads, batch: o.batch, params: meta.params };
  const { x, y } = randomBatch(meta, o.batch);
  const opts = { threads: o.threads };
  const cells: { key: 'ortFwdMs' | 'promotedFwdMs' | 'fwdBwdMs' | 'portableFwdMs' | 'portableFwdBwdMs'; run: () => Promise<unknown> }[] = [];

  const fwd = await compile(model, opts);
  cells.push({ key: 'ortFwdMs', run: () => fwd.run({ x }) });

  const promoted = promoteToInputs(
    model,
    floatInitializers(model.graph).map((i) => i.name),
  );
  const pfeeds: Record<string, HostTensor> = { x, ...Object.fromEntries(promoted.values) };
  const pfwd = await compile(promoted.model, opts);
  cells.push({ key: 'promotedFwdMs', run: () => pfwd.run(pfeeds) });
  if (o.portable) {
    const std = await compile(promoted.model, { ...opts, portable: true });
    cells.push({ key: 'portableFwdMs', run: () => std.run(pfeeds) });
  }

  try {
    const tg = trainingGraph(model, wrtNames(model, meta, o.wrt));
    row.nodes = { fwd: model.graph.nodes.length, fwdBwd: tg.model.graph.nodes.length };
    const exe = await compile(tg.model, opts);
    const fetch = [tg.loss, ...tg.gradients.values()];
    const values = Object.fromEntries(tg.values);

    // Correctness on the fixture batch: loss and gradients against PyTorch's.
    const fixture = await readSafetensors(join(FIXTURES, `${name}.safetensors`));
    const ref = await exe.run({ ...values, x: fixture.get('x')!, y: fixture.get('y')! }, fetch);
    row.lossAbsErr = Math.abs((ref[tg.loss].data[0] as number) - meta.loss);
    row.gradRelErr = 0;
    for (const [p, out] of tg.gradients) {
      const want = fixture.get(`grad:${p}`);
      if (want) row.gradRelErr = Math.max(row.gradRelErr, relErr(ref[out], want));
    }
    const feeds = { ...values, x, y };
    cells.push({ key: 'fwdBwdMs', run: () => exe.run(feeds, fetch) });
    if (o.portable) {
      const std = await compile(tg.model, { ...opts, portable: true });
      cells.push({ key: 'portableFwdBwdMs', run: () => std.run(feeds, fetch) });
    }
  } catch (e) {
    row.error = e instanceof UnsupportedOpError ? `unsupported: ${short(e)}` : `failed: ${short(e)}`;
  }

  // Rounds interleave every cell, PyTorch's included, so that a burst of load from elsewhere hits all of them;
  // each cell reports its best round's median.
  const budget = { ...o.budget, minIters: Math.ceil(o.budget.minIters / o.rounds), minTimeMs: o.budget.minTimeMs / o.rounds };
  const torchRuns: TorchTiming[] = [];
  const timer = o.budget.clock === 'cpu' ? timeCpu : timeIt;
  for (let r = 0; r < o.rounds; r++) {
    for (const c of cells) {
      const t = await timer(c.run, budget);
      row[c.key] = Math.min(row[c.key] ?? Infinity, t.medianMs);
    }
    for (const ref of o.torch ?? []) {
      try {
        torchRuns.push({ ...(await ref.measure(name, o.threads, o.batch, budget)), waitPolicy: ref.waitPolicy });
      } catch (e) {
        row.torchError = short(e);
      }
    }
  }
  if (torchRuns.length > 0) {
    const best = torchRuns.reduce((a, b) => (b.fwd_bwd_ms < a.fwd_bwd_ms ? b : a));
    row.torch = { fwdBwdMs: best.fwd_bwd_ms, fwdMs: Math.min(...torchRuns.map((t) => t.fwd_ms)), waitPolicy: best.waitPolicy!, runs: torchRuns };
  }
  return row;
}

/**
 * ORT profile of one model's fwd+bwd graph, each kernel attributed to its forward op or gradient rule.
 *  Unless `o.portable`, the graph is profiled as compile() runs it on the CPU: lowered to NCHWc (src/runtime/nchwc.ts).
 */
export async function profileTraining(
  name: string,
  o: Omit<EngineOptions, 'torch' | 'budget' | 'rounds'> & { runs?: number; runtime?: RuntimeOptions },
  rules?: Record<string, GradRule>,
): Promise<Profile> {
  const meta = readMeta(name);
  const model = readModel(join(FIXTURES, `${name}.onnx`));
  const tg = trainingGraph(model, wrtNames(model, meta, o.wrt), { rules, tag: true });
  const { x, y } = randomBatch(meta, o.batch);
  const run = o.portable ? tg.model : lowerToNchwc(tg.model, await nchwcBlockSize()).model;
  return profileModel(run, { ...Object.fromEntries(tg.values), x, y }, [tg.loss, ...tg.gradients.values()], o.threads, o.runs, 5, o.runtime);
}
