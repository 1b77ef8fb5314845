// A clean model's mistakes are not one defect: group the pairs by the confusion they show (true class → predicted
// class), so that each group is located and repaired with weights of its own.
import type { LancetPair, PairSet } from './pairs.js';

/** One group of pairs with the same confusion. */
export interface DefectCluster {
  /** 'shirt→T-shirt' style key: `${label}→${wrong}`. */
  key: string;
  label: number;
  wrong: number;
  set: PairSet;
}

/**
 * The pairs grouped by (true label, wrong class), largest group first (ties by key); groups with fewer than
 * `minPairs` pairs are left out (too few to locate anything of their own), as are those beyond the first `max`.
 *
 * @example clusterByConfusion(pairs, { minPairs: 10 }).map((c) => c.key); // ['6→0', '4→2', …]
 */
export function clusterByConfusion(set: PairSet, o: { minPairs?: number; max?: number } = {}): DefectCluster[] {
  const groups = new Map<string, LancetPair[]>();
  for (const p of set.pairs) {
    const key = `${p.label}→${p.wrong}`;
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  return [...groups.entries()]
    .filter(([, ps]) => ps.length >= (o.minPairs ?? 1))
    .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
    .slice(0, o.max ?? Infinity)
    .map(([key, pairs]) => ({ key, label: pairs[0].label, wrong: pairs[0].wrong, set: { ...set, pairs } }));
}
