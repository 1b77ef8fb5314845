// Repair by plain fine-tuning on the defender's clean data: the weakest baseline.
import { fineTune } from '../defence/fine-tune.js';
import type { RepairMethod } from '../defence/repair-method.js';

/**
 * `repair --method finetune`: fine-tune every parameter on the defender's clean training part.
 *
 * @example const out = await finetune.run(ctx);
 */
export const finetune: RepairMethod = {
  name: 'finetune',
  summary: "plain fine-tuning on the defender's clean data (the weakest baseline)",
  needsTrigger: false,
  async run(ctx) {
    const r = await fineTune(ctx.model, ctx.defender.train, ctx);
    return {
      model: r.model,
      completed: r.completed,
      details: { examples: ctx.defender.train.x.dims[0], epochs: r.history.length, validationAccuracy: r.history.at(-1)?.validationAccuracy },
    };
  },
};
