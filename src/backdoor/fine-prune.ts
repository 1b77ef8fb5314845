// Repair by fine-pruning (Liu et al., RAID 2018): prune the last convolution's channels least active on clean data
// until the defender's own validation accuracy drops by more than --max-drop, then fine-tune with them held at zero.
import type { Dataset } from '../data/batches.js';
import { cloneModel, type Model, type Node } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { evaluate, runInBatches } from '../tasks/run.js';
import { fineTune } from '../defence/fine-tune.js';
import type { RepairMethod } from '../defence/repair-method.js';

/** The fine-pruning paper's stopping rule: 4 points of validation accuracy. */
export const DEFAULT_MAX_DROP = 4;

/** The last convolution of a model and the tensors that make up each of its output channels. */
export interface PruneLayer {
  conv: string;
  channels: number;
  /**
   * Where activations are measured: the pruned unit's own output, the first Relu after the conv (through a
   * BatchNormalization); in a residual block, where the branch meets an Add before any Relu, the conv/BN output
   * itself (after the Add the value mixes in the shortcut, which pruning the branch does not touch).
   */
  activation: string;
  /** Whether `activation` is taken before any Relu, so that channels are ranked by mean |activation|. */
  preActivation: boolean;
  /** Parameters zeroed per channel: [name, entries per channel] (conv weight and bias, the following BN's scale and bias). */
  params: string[];
}

/**
 * The last Conv node of the graph and what pruning one of its channels touches.
 *
 * @example lastConv(readModel('models/lenet5-badnets.onnx')); // { conv: 'conv2', channels: 16, activation: …, params: ['conv2.weight', 'conv2.bias'] }
 */
export function lastConv(model: Model): PruneLayer {
  const g = model.graph;
  const convs = g.nodes.filter((n) => n.opType === 'Conv');
  const conv = convs.at(-1);
  if (!conv) throw new Error('fine-pruning needs a model with a convolution; this one has none');
  const weight = g.initializers.get(conv.inputs[1]);
  if (!weight?.tensor) throw new Error(`the last convolution '${conv.name}' has no constant weight to prune`);
  const params = [conv.inputs[1]];
  if (conv.inputs[2] && g.initializers.has(conv.inputs[2])) params.push(conv.inputs[2]);
  const consumers = (v: string) => g.nodes.filter((n) => n.inputs.includes(v));
  let value = conv.outputs[0];
  let activation = value;
  let preActivation = true;
  for (let hops = 0; hops < 2; hops++) {
    const next: Node[] = consumers(value);
    if (next.length !== 1) break;
    const n = next[0];
    if (n.opType === 'BatchNormalization' && n.inputs[0] === value && hops === 0) {
      for (const k of [1, 2]) if (g.initializers.has(n.inputs[k])) params.push(n.inputs[k]);
      value = activation = n.outputs[0];
    } else if (n.opType === 'Relu') {
      activation = n.outputs[0];
      preActivation = false;
      break;
    } else break;
  }
  return { conv: conv.name || conv.outputs[0], channels: weight.tensor.dims[0], activation, preActivation, params };
}

/**
 * Mean activation of each channel of `value` over the data ([N, C, …] → C means); with `absolute`, the mean of
 * |activation| (for values taken before a Relu, where a strongly negative channel is active, not dormant).
 *
 * @example const means = await meanActivations(model, 'relu4', defender);
 */
export async function meanActivations(model: Model, value: string, data: Dataset, runtime?: RuntimeOptions, absolute = false): Promise<Float64Array> {
  const m = cloneModel(model);
  if (!m.graph.outputs.some((o) => o.name === value)) m.graph.outputs.push({ name: value });
  let sums: Float64Array | undefined;
  let count = 0;
  await runInBatches(
    m,
    data.x,
    [value],
    (out, _start, n) => {
      const a = out[value];
      const c = a.dims[1];
      const per = a.data.length / n / c;
      sums ??= new Float64Array(c);
      const d = a.data as Float32Array;
      for (let i = 0; i < n; i++)
        for (let k = 0; k < c; k++) {
          let s = 0;
          const base = (i * c + k) * per;
          if (absolute) for (let j = 0; j < per; j++) s += Math.abs(d[base + j]);
          else for (let j = 0; j < per; j++) s += d[base + j];
          sums[k] += s / per;
        }
      count += n;
    },
    { runtime },
  );
  if (!sums) throw new Error('no data to measure activations on');
  return sums.map((s) => s / count);
}

/** A copy of the model with the given channels of the layer set to zero, and the masks that keep them there. */
export function pruneChannels(model: Model, layer: PruneLayer, pruned: readonly number[]): { model: Model; masks: Map<string, Uint8Array> } {
  const m = cloneModel(model);
  const masks = new Map<string, Uint8Array>();
  for (const name of layer.params) {
    const init = m.graph.initializers.get(name)!;
    const t = init.tensor as HostTensor;
    const data = Float32Array.from(t.data as Float32Array);
    const per = data.length / layer.channels;
    const mask = new Uint8Array(data.length).fill(1);
    for (const c of pruned) {
      data.fill(0, c * per, (c + 1) * per);
      mask.fill(0, c * per, (c + 1) * per);
    }
    m.graph.initializers.set(name, { ...init, tensor: { ...t, data }, opaque: undefined });
    masks.set(name, mask);
  }
  return { model: m, masks };
}

/** Throws for a --max-drop outside [0, 100] points. */
export function checkMaxDrop(points: number): void {
  if (!(points >= 0 && points <= 100)) throw new Error(`--max-drop must be between 0 and 100 accuracy points, got ${points}`);
}

function maxDropFlag(value: string): number {
  const n = Number(value);
  // A negative number parses; the method refuses it before any work (exit status 1, as for other bad values).
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`expected a number of accuracy points, got '${value}'`);
  return n;
}

/**
 * `repair --method fine-prune`: rank the last convolution's channels by mean activation on the defender's clean
 * training part, prune the least active one by one while the defender's validation accuracy stays within
 * `--max-drop` points of the unpruned model's, then fine-tune with the pruned channels held at zero.
 *
 * @example const out = await finePrune.run({ ...ctx, options: { maxDrop: 4 } });
 */
export const finePrune: RepairMethod = {
  name: 'fine-prune',
  summary:
    "fine-pruning: prune the last convolution's least active channels until the defender's validation accuracy drops by more than --max-drop points, then fine-tune",
  needsTrigger: false,
  flags: [
    {
      flags: '--max-drop <points>',
      description: "fine-prune: stop pruning before the defender's validation accuracy drops by more than this many points",
      parse: maxDropFlag,
      default: DEFAULT_MAX_DROP,
    },
  ],
  check: (options) => checkMaxDrop(Number(options.maxDrop ?? DEFAULT_MAX_DROP)),
  async run(ctx) {
    const maxDrop = Number(ctx.options.maxDrop ?? DEFAULT_MAX_DROP);
    checkMaxDrop(maxDrop);
    const layer = lastConv(ctx.model);
    const means = await meanActivations(ctx.model, layer.activation, ctx.defender.train, ctx.runtime, layer.preActivation);
    const order = Array.from(means.keys()).sort((a, b) => means[a] - means[b] || a - b);
    const val = async (m: Model) => (await evaluate(m, ctx.defender.validation, { runtime: ctx.runtime })).accuracy;
    const base = await val(ctx.model);
    let kept: number[] = [];
    let keptAcc = base;
    const steps: { pruned: number; channel: number; validationAccuracy: number }[] = [];
    for (let k = 1; k < order.length; k++) {
      if (ctx.signal?.aborted) return { model: ctx.model, details: {}, completed: false };
      const trial = order.slice(0, k);
      const acc = await val(pruneChannels(ctx.model, layer, trial).model);
      steps.push({ pruned: k, channel: order[k - 1], validationAccuracy: acc });
      ctx.onProgress?.('pruning', k, order.length - 1, `validation ${(100 * acc).toFixed(2)}%`);
      if ((base - acc) * 100 > maxDrop) break;
      kept = trial;
      keptAcc = acc;
    }
    ctx.log?.(
      `pruned ${kept.length} of ${layer.channels} channels of ${layer.conv}: defender validation accuracy ${(100 * base).toFixed(2)}% → ${(100 * keptAcc).toFixed(2)}%`,
    );
    const { model: pruned, masks } = pruneChannels(ctx.model, layer, kept);
    const r = await fineTune(pruned, ctx.defender.train, ctx, masks);
    return {
      model: r.model,
      completed: r.completed,
      details: {
        layer: layer.conv,
        channels: layer.channels,
        activation: layer.activation,
        ranking: layer.preActivation ? 'mean |activation|' : 'mean activation',
        pruned: [...kept].sort((a, b) => a - b),
        maxDrop,
        validationBefore: base,
        validationAfterPruning: keptAcc,
        validationAfterFineTune: r.history.at(-1)?.validationAccuracy,
        steps,
      },
    };
  },
};
