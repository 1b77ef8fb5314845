// Pairs ⟨x, x′⟩ for AI-Lancet: an input that shows an error and the same input without its error-inducing region.
import { createHash } from 'node:crypto';
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

/** The class with the largest logit, per row. */
export function argmaxRows(logits: HostTensor): Int32Array {
  const [n, c] = [logits.dims[0], logits.dims[1]];
  const d = logits.data as Float32Array;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (d[i * c + k] > d[i * c + best]) best = k;
    out[i] = best;
  }
  return out;
}

/** A short content key of one image (sha1 of its float bytes): how a repair recognises the pairs that located. */
export function imageKey(x: Float32Array): string {
  return createHash('sha1').update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)).digest('hex').slice(0, 16);
}

/** The key of the defender image a pair was made from: the clean image of a trigger pair, the input of a misclassified one. */
export function pairKey(p: LancetPair, fix: FixRule): string {
  return imageKey(fix === 'not-wrong' ? p.clean : p.x);
}
