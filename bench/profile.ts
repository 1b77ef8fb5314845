// Op-level profile of a forward+backward graph: onnxruntime's own profiler, kernels attributed to the rule that emitted them.
// NOTE: src/runtime/session.ts exposes no profiling switch, so this bench-only module opens its own
// onnxruntime session with compile()'s options (sessionOptions: threads, spinning, all optimisations) plus enableProfiling.
import { readFileSync, readdirSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { GradContext } from '../src/autodiff/grad-context.js';
import { lowerRecurrent } from '../src/autodiff/lower-recurrent.js';
import { NOT_DIFFERENTIABLE, RULES } from '../src/autodiff/rules/index.js';
import type { Model } from '../src/onnx/ir.js';
import { encodeModel } from '../src/onnx/model-io.js';
import { runtimeDefaults, sessionOptions, type RuntimeOptions } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';

const SEP = '~';

/**
 * Run `build` with every gradient rule wrapped so that the nodes it emits are renamed `bwd~<ForwardOp>~<name>`.
 * Forward nodes of `forward` (after GRU/LSTM lowering) become `fwd~<Op>~<name>`; nodes the differentiator adds
 * itself (gradient accumulation, seed, output identities) become `acc~<Op>~<name>`.
 */
export function tagNodes<T extends { model: Model }>(build: () => T): T {
  const saved = { ...RULES };
  for (const [op, rule] of Object.entries(RULES)) {
    if (rule === NOT_DIFFERENTIABLE) continue;
    RULES[op] = (g: GradContext) => {
      const nodes = g.b.graph.nodes;
      const start = nodes.length;
      rule(g);
      for (let i = start; i < nodes.length; i++) nodes[i].name = `bwd${SEP}${op}${SEP}${nodes[i].name}`;
    };
  }
  let out: T;
  try {
    out = build();
  } finally {
    Object.assign(RULES, saved);
  }
  return out;
}

/** Tag the forward part: every node whose name is in the (lowered) forward graph. */
export function tagForward(diff: Model, forward: Model, wrt: readonly string[], of: string): Model {
  const lowered = lowerRecurrent(forward, { of, wrt });
  const fwdNames = new Set(lowered.graph.nodes.map((n) => n.name));
  for (const n of diff.graph.nodes) {
    if (n.name.startsWith(`bwd${SEP}`)) continue;
    n.name = `${fwdNames.has(n.name) ? 'fwd' : 'acc'}${SEP}${n.opType}${SEP}${n.name}`;
  }
  return diff;
}

export interface ProfileEntry {
  /** 'fwd', 'bwd', 'acc' (differentiator's own nodes) or 'ort' (nodes onnxruntime's optimiser inserted). */
  phase: string;
  /** Forward op type (for bwd: the rule that emitted the node). */
  source: string;
  /** The kernel onnxruntime ran (after fusions). */
  kernel: string;
  msPerRun: number;
  calls: number;
  /** One node name (as onnxruntime reports it) that contributed. */
  example: string;
}

export interface Profile {
  runs: number;
  totalMs: number;
  entries: ProfileEntry[];
}

interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

/** Profile `runs` runs (after `skip` unprofiled-in-the-sum warm-up runs) of a tagged model. */
export async function profileModel(
  model: Model,
  feeds: Record<string, HostTensor>,
  fetch: string[],
  threads: number,
  runs = 30,
  skip = 5,
  runtime: RuntimeOptions = {},
): Promise<Profile> {
  const dir = mkdtempSync(join(tmpdir(), 'scalpel-prof-'));
  try {
    const session = await ort.InferenceSession.create(encodeModel(model), {
      ...sessionOptions(runtimeDefaults({ ...runtime, threads, executionProvider: 'cpu' })),
      enableProfiling: true,
      profileFilePrefix: join(dir, 'p'),
    });
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const n of session.inputNames) ortFeeds[n] = new ort.Tensor(feeds[n].dtype as ort.Tensor.Type, feeds[n].data as never, feeds[n].dims);
    for (let i = 0; i < skip + runs; i++) await session.run(ortFeeds, fetch);
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[];
    const runStarts = events
      .filter((e) => e.cat === 'Session' && e.name === 'model_run')
      .map((e) => e.ts)
      .sort((a, b) => a - b);
    const from = runStarts[skip] ?? 0;
    const counted = runStarts.length - skip;
    const byOutput = new Map<string, string>();
    for (const n of model.graph.nodes) for (const o of n.outputs) if (o) byOutput.set(o, n.name);
    const acc = new Map<string, ProfileEntry>();
    let total = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < from) continue;
      const node = e.name.slice(0, -'_kernel_time'.length);
      // onnxruntime's layout transformer names a rewritten node after its output value (`<output>_nchwc`).
      // Nodes scalpel's NCHWc pass added (reorders, filter layouts) carry '__nchwc' in their names; a lowered Conv
      // keeps its tag in front.
      const tag = node.includes(SEP) ? node : node.includes('__nchwc') ? `nchwc${SEP}-` : (byOutput.get(node.replace(/_nchwc$/, '')) ?? `ort${SEP}-`);
      const [phase, source] = tag.split(SEP);
      const kernel = e.args?.op_name ?? '?';
      const key = `${phase}|${source}|${kernel}`;
      const ent = acc.get(key) ?? { phase, source, kernel, msPerRun: 0, calls: 0, example: node };
      ent.msPerRun += e.dur / 1000;
      ent.calls += 1;
      acc.set(key, ent);
      total += e.dur / 1000;
    }
    const entries = [...acc.values()].map((x) => ({ ...x, msPerRun: x.msPerRun / counted, calls: x.calls / counted }));
    entries.sort((a, b) => b.msPerRun - a.msPerRun);
    return { runs: counted, totalMs: total / counted, entries };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Sum a profile by phase and source op ('bwd Conv' = all kernels the Conv rule emitted). */
export function bySource(p: Profile): { label: string; ms: number }[] {
  const m = new Map<string, number>();
  for (const e of p.entries) {
    const label =
      e.phase === 'ort' ? 'ort (inserted by onnxruntime)' : e.phase === 'nchwc' ? 'nchwc (layout reorders of the NCHWc pass)' : `${e.phase} ${e.source}`;
    m.set(label, (m.get(label) ?? 0) + e.msPerRun);
  }
  return [...m.entries()].map(([label, ms]) => ({ label, ms })).sort((a, b) => b.ms - a.ms);
}
