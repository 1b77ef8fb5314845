// Pairs ⟨x, x′⟩ for AI-Lancet: an input that shows an error and the same input without its error-inducing region.
import { rowKey } from '../data/row-keys.js';
import type { HostTensor } from '../tensor/host-tensor.js';

/** What "fixed" means for a pair: predicted as its true label, or (a backdoor) no longer as the wrong class. */
export type FixRule = 'true-label' | 'not-wrong';

/** One pair. */
export interface LancetPair {
  /** The input that shows the error (one example, the model's input shape without the batch axis). */
  x: Float32Array;
  /** The same input without its error-inducing region (classified as `label`). */
  clean: Float32Array;
  label: number;
  /** The class the model gives x. */
  wrong: number;
  /** The example's row in the data it was drawn from. */
  row: number;
}

/** A set of pairs with one kind of error. */
export interface PairSet {
  pairs: LancetPair[];
  /** Shape of one example, without the batch axis. */
  dims: number[];
  fix: FixRule;
  /** How the errors were made, for reports ('trigger:FILE', 'oracle-trigger:SPEC', 'misclassified'). */
  source: string;
  /** True when the pairs come from the attacker's real trigger (an oracle result). */
  oracle: boolean;
}

/** Whether a prediction fixes a pair. */
export function isFixed(p: Pick<LancetPair, 'label' | 'wrong'>, predicted: number, rule: FixRule): boolean {
  return rule === 'true-label' ? predicted === p.label : predicted !== p.wrong;
}

/** Stack rows into a batch tensor. */
export function stack(rows: readonly Float32Array[], dims: readonly number[]): HostTensor {
  const len = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * len);
  rows.forEach((r, i) => data.set(r, i * len));
  return { dtype: 'float32', dims: [rows.length, ...dims], data };
}

/** The key of the defender image a pair was made from: the clean image of a trigger pair, the input of a misclassified one. */
export function pairKey(p: LancetPair, fix: FixRule): string {
  return rowKey(fix === 'not-wrong' ? p.clean : p.x);
}
