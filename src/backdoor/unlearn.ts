// Repair by unlearning (Neural Cleanse): fine-tune on defender images of which a share carry the reconstructed
// trigger but keep their true labels.
import type { Dataset } from '../data/batches.js';
import { stampImages, type Normalization } from '../data/triggers.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';
import { fineTune } from '../defence/fine-tune.js';
import type { DefenderTrigger, RepairMethod } from '../defence/repair-method.js';

/** Share of the defender's images stamped with a reconstructed trigger (Neural Cleanse's 20%). */
export const UNLEARN_SHARE = 0.2;

/**
 * The unlearning set: a seeded `share` of the images stamped with the triggers (taken in turn when there are
 * several), every label kept. Returns the data and the stamped rows.
 *
 * @example const { data } = unlearningSet(defender, [{ label: 0, trigger }], 0.2, 0);
 */
export function unlearningSet(
  data: Dataset & { normalization?: Normalization },
  triggers: DefenderTrigger[],
  share: number,
  seed: number,
): { data: Dataset; stamped: number } {
  if (triggers.length === 0) throw new Error('unlearning needs at least one trigger');
  if (!data.normalization) throw new Error("unlearning needs the images' normalization");
  const n = data.x.dims[0];
  const count = Math.round(share * n);
  const rows = new Rng(seed).permutation(n).subarray(0, count);
  const len = data.x.dims.slice(1).reduce((a, b) => a * b, 1);
  const x = Float32Array.from(data.x.data as Float32Array);
  triggers.forEach((t, k) => {
    const mine = rows.filter((_, i) => i % triggers.length === k);
    if (mine.length === 0) return;
    const part: HostTensor = { dtype: 'float32', dims: [mine.length, ...data.x.dims.slice(1)], data: new Float32Array(mine.length * len) };
    mine.forEach((r, i) => (part.data as Float32Array).set(x.subarray(r * len, (r + 1) * len), i * len));
    const stamped = stampImages(part, t.trigger, data.normalization!).data as Float32Array;
    mine.forEach((r, i) => x.set(stamped.subarray(i * len, (i + 1) * len), r * len));
  });
  return { data: { x: { ...data.x, data: x }, y: data.y }, stamped: count };
}

/**
 * `repair --method unlearn`: stamp 20% of the defender's training images with the reconstructed trigger(s), keep
 * their true labels, and fine-tune the whole model on them.
 *
 * @example const out = await unlearn.run(ctx);
 */
export const unlearn: RepairMethod = {
  name: 'unlearn',
  summary: "Neural Cleanse's unlearning: fine-tune on the defender's images, 20% stamped with the reconstructed trigger, true labels kept",
  needsTrigger: true,
  async run(ctx) {
    const { data, stamped } = unlearningSet(ctx.defender.train, ctx.triggers, UNLEARN_SHARE, ctx.seed);
    const r = await fineTune(ctx.model, data, ctx);
    return {
      model: r.model,
      completed: r.completed,
      details: {
        examples: data.x.dims[0],
        stamped,
        triggerLabels: ctx.triggers.map((t) => t.label),
        epochs: r.history.length,
        validationAccuracy: r.history.at(-1)?.validationAccuracy,
      },
    };
  },
};
