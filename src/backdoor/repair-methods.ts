// The backdoor family's repair methods, in the order `scalpel repair --help` lists them.
import { finePrune } from './fine-prune.js';
import { finetune } from './finetune.js';
import type { RepairMethod } from '../defence/repair-method.js';
import { unlearn } from './unlearn.js';

/** unlearn (Neural Cleanse), fine-prune (Liu et al.), finetune (the plain baseline). */
export const BACKDOOR_REPAIR_METHODS: readonly RepairMethod[] = [unlearn, finePrune, finetune];
