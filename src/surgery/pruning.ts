// Dynamic pruning: every few steps keep only the n′ entries with the best score and reset the rest to w0, n′ shrinking
// geometrically from k to the budget. Shared by the methods that prune while they tune (dynamic, constrained).
import type { FlatParams } from '../params/flat.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { deltasOf, keepOnly, masksOf } from './masks.js';

/** What a pruning keeps: the entries with the largest score, computed from δ = w − w0 (per tensor of the flat view). */
export type PruneScore = (deltas: Float32Array[]) => Float32Array[];

/** |δ|: the paper's dynamic selection. */
export const byDelta: PruneScore = (d) => d;

export interface Pruner {
  /** Masks over the flat view's tensors (all ones at first), edited by `afterStep`. */
  masks: Map<string, Uint8Array>;
  /** The n′ of each pruning, the last one the budget. */
  schedule: number[];
  every: number;
  /** Call after each optimiser step (step numbers from 1). */
  afterStep(params: Map<string, HostTensor>, step: number): void;
  /** Prunings that ran so far. */
  done(): number;
}

/**
 * A pruning schedule over `steps` steps: every `every` steps during the first `phase` of them, keep the n′ entries with
 * the largest score (n′ from k down to `budget` geometrically) and reset every other entry to its exact value in `w0`.
 *
 * @example const p = pruner(flat, w0, 100, { steps: 600, every: 10, phase: 0.5 }); // then p.afterStep(params, step)
 */
export function pruner(
  flat: FlatParams,
  w0: Map<string, Float32Array>,
  budget: number,
  o: { steps: number; every: number; phase: number; score?: PruneScore },
): Pruner {
  const prunes = Math.max(1, Math.floor((o.phase * o.steps) / o.every));
  const schedule = Array.from({ length: prunes }, (_, j) => Math.max(budget, Math.round(flat.k * (budget / flat.k) ** ((j + 1) / prunes))));
  schedule[prunes - 1] = budget;
  const masks = masksOf(
    flat,
    Uint32Array.from({ length: flat.k }, (_, i) => i),
  );
  const score = o.score ?? byDelta;
  let done = 0;
  return {
    masks,
    schedule,
    every: o.every,
    afterStep(params, step) {
      if (done >= prunes || step % o.every !== 0) return;
      const keep = flat.topN(score(deltasOf(flat, params, w0)), schedule[done++]);
      keepOnly(flat, params, w0, masks, keep);
    },
    done: () => done,
  };
}
