// AI-Lancet's neuron fine-tuning: train only the located weights, on the errors plus clean samples, with distillation.
import type { Dataset } from '../data/batches.js';
import { GraphBuilder } from '../onnx/builder.js';
import { cloneModel, type Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { train, type TrainResult } from '../train/trainer.js';
import { findLayer } from './layers.js';
import { runClassifier } from '../tasks/run.js';

export interface NeuronFinetuneOptions {
  /** Weight β of the distillation term (default 0.5): the target is (1 − β)·onehot(y) + β·softmax(z₀/T). */
  beta?: number;
  /** Temperature T of both softmaxes (default 2). */
  temperature?: number;
  epochs?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  batchSize?: number;
  seed?: number;
  runtime?: RuntimeOptions;
  onStep?: (step: number, total: number, loss: number) => void;
}

export const NEURON_FINETUNE_DEFAULTS = { beta: 0.5, temperature: 2, epochs: 10, lr: 1e-3, batchSize: 32 } as const;

/** Which weights may move: flat indices into one layer's weight, or every trainable parameter of the model. */
export type TunedWeights = { param: string; indices: ArrayLike<number> } | 'all';

/**
 * `count` distinct random flat indices of a tensor of `size` entries, ascending (the random-weights baseline).
 *
 * @example randomIndices(48000, 5, 1); // five indices into fc1.weight
 */
export function randomIndices(size: number, count: number, seed: number): Uint32Array {
  if (count > size) throw new Error(`cannot draw ${count} weights out of ${size}`);
  return new Rng(seed).permutation(size).slice(0, count).sort();
}

/** Concatenate datasets of the same example shape. */
export function concatData(parts: readonly Dataset[]): Dataset {
  const cat = (ts: HostTensor[]): HostTensor => {
    const n = ts.reduce((a, t) => a + t.dims[0], 0);
    const Ctor = ts[0].data.constructor as new (n: number) => HostTensor['data'];
    const data = new Ctor(ts.reduce((a, t) => a + t.data.length, 0));
    let at = 0;
    for (const t of ts) {
      (data as Float32Array).set(t.data as Float32Array, at);
      at += t.data.length;
    }
    return { dtype: ts[0].dtype, dims: [n, ...ts[0].dims.slice(1)], data };
  };
  return { x: cat(parts.map((p) => p.x)), y: cat(parts.map((p) => p.y)) };
}

/**
 * Fine-tune only some weights (the located ones) on `data` (the error inputs with their true labels plus a small set
 * of the defender's clean samples). Against catastrophic forgetting the loss distils the original model: with
 * z₀ the original logits, the target distribution is (1 − β)·onehot(y) + β·softmax(z₀/T) and the loss its KL
 * divergence to softmax(z/T) (the cross-entropy to the label plus β times the distillation term, up to a constant
 * and the (1 − β) scale). BatchNorm stays on its running statistics; Adam.
 *
 * @example const r = await neuronFinetune(model, { param: 'fc1.weight', indices: located.map((w) => w.index) }, data);
 */
export async function neuronFinetune(model: Model, weights: TunedWeights, data: Dataset, opts: NeuronFinetuneOptions = {}): Promise<TrainResult> {
  const o = { ...NEURON_FINETUNE_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as typeof NEURON_FINETUNE_DEFAULTS &
    NeuronFinetuneOptions;
  if (!(o.beta >= 0 && o.beta < 1)) throw new Error(`the distillation weight β must be in [0, 1), got ${o.beta}`);
  if (!(o.temperature > 0)) throw new Error(`the temperature must be > 0, got ${o.temperature}`);
  const n = data.x.dims[0];
  if (n === 0) throw new Error('no data to fine-tune on');
  const { logits: z, classes } = await runClassifier(model, data.x, { runtime: o.runtime });
  const target = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, z[i * classes + k] / o.temperature);
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(z[i * classes + k] / o.temperature - max);
    const y = Number(data.y.data[i]);
    for (let k = 0; k < classes; k++) {
      const p = (1 - o.beta) * (k === y ? 1 : 0) + (o.beta * Math.exp(z[i * classes + k] / o.temperature - max)) / sum;
      // The 'kl' loss takes target logits: log of the target distribution (floored so that 0 · log 0 stays 0).
      target[i * classes + k] = Math.log(Math.max(p, 1e-30));
    }
  }
  const soft: Dataset = { x: data.x, y: { dtype: 'float32', dims: [n, classes], data: target } };
  let trainable: string[] | undefined;
  let masks: Map<string, Uint8Array> | undefined;
  if (weights !== 'all') {
    const layer = findLayer(model, weights.param);
    const mask = new Uint8Array(layer.size);
    for (let i = 0; i < weights.indices.length; i++) {
      const k = weights.indices[i];
      if (!(k >= 0 && k < layer.size)) throw new Error(`weight index ${k} is outside '${layer.param}' (${layer.size} entries)`);
      mask[k] = 1;
    }
    trainable = [layer.param];
    masks = new Map([[layer.param, mask]]);
  }
  const steps = Math.max(1, Math.floor(n / Math.min(o.batchSize, n))) * o.epochs;
  let step = 0;
  return train(model, soft, {
    trainModel: scaledLogits(model, o.temperature),
    loss: 'kl',
    epochs: o.epochs,
    batchSize: Math.min(o.batchSize, n),
    lr: o.lr,
    optimizer: { name: 'adam' },
    seed: o.seed ?? 0,
    trainable,
    masks,
    runtime: o.runtime,
    onStep: (s) => o.onStep?.(++step, steps, s.loss),
  });
}

/** The model with its first output divided by T (same parameter names): the training graph of the distillation loss. */
function scaledLogits(model: Model, t: number): Model {
  const m = cloneModel(model);
  const b = new GraphBuilder(m.graph);
  const out = m.graph.outputs[0];
  const scaled = b.op('Div', [out.name, b.constant(t)], undefined, `${out.name}_over_t`);
  m.graph.outputs = [{ ...out, name: scaled }, ...m.graph.outputs.slice(1)];
  return m;
}
