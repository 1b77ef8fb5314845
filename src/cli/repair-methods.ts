// The methods `scalpel repair --method NAME` offers: one table, each family adding its own line.
import { BACKDOOR_REPAIR_METHODS } from '../backdoor/repair-methods.js';
import type { RepairMethod } from '../defence/repair-method.js';
import { LANCET_REPAIR_METHODS } from '../lancet/repair-methods.js';

/** Every repair method by name, in help order. */
export const REPAIR_METHODS: readonly RepairMethod[] = [...BACKDOOR_REPAIR_METHODS, ...LANCET_REPAIR_METHODS];
