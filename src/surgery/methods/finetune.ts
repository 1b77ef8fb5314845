// Full fine-tuning: the baseline every budgeted method is compared with.
import type { SurgeryMethod } from '../method.js';
import { tune } from '../tune.js';

export const finetune: SurgeryMethod = {
  name: 'finetune',
  summary: 'tune every selected parameter (the baseline)',
  help: 'tune every selected parameter (the baseline; --params layer:NAME for one layer); its budget is all of them.',
  budgeted: false,
  settings: [],
  async run({ ctx }) {
    return { ...(await tune(ctx, { phase: 'finetune' })), details: {} };
  },
};
