// The budget of an edit: how many parameters may change, as a count, a fraction, a percentage or 'all'.
import { resolveCount } from '../data/count.js';

/**
 * Resolve a budget against the number `k` of parameters that may change: `100`, `0.001` (a fraction of k),
 * `0.16%`, or `all` (= k), with the one grammar and rounding of `resolveCount` (src/data/count.ts). The result is a
 * whole number in [1, k]; anything else throws a message naming the value.
 *
 * @example resolveBudget('0.16%', 61706); // 99
 */
export function resolveBudget(budget: number | string, k: number): number {
  return resolveCount(budget, k, 'budget', 'parameters that may change');
}
