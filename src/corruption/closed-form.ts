// Proposition 1 of the parameter-corruption paper: argmax aᵀv over S = { ||a||_p = ε, ||a||_0 ≤ n } in closed form.
import { resolveCount } from '../data/count.js';
import { FlatParams } from '../params/flat.js';
import { topN } from '../params/top-n.js';

/** The corruption constraint set S = { a : ||a||_p = eps, ||a||_0 ≤ n }. */
export interface CorruptionSpec {
  /** Corruption length ε > 0. */
  eps: number;
  /** Norm p ≥ 1; `Infinity` for the max norm. */
  p: number;
  /** Most parameters changed, an absolute count 1 ≤ n ≤ k. */
  n: number;
}

/** The maximiser of aᵀv over S, as one delta per input tensor. */
export interface Corruption {
  /** Same lengths as the input tensors; zero outside the chosen coordinates. */
  deltas: Float32Array[];
  /** The maximum aᵀv = ε·||h||_q (q = p/(p−1)): the first-order estimate of the loss change when v is the gradient. */
  firstOrder: number;
  /** Global indices (over the concatenation of the tensors) of the top-n coordinates, increasing. */
  indices: Uint32Array;
}

/**
 * The dual exponent q = p/(p−1) of a norm p (p = 1 → ∞, p = ∞ → 1).
 *
 * @example dualNorm(2); // 2
 */
export function dualNorm(p: number): number {
  if (p === Infinity) return 1;
  if (p === 1) return Infinity;
  return p / (p - 1);
}

/** Throws unless ε is a finite number > 0. */
export function checkEps(eps: number): void {
  if (!(typeof eps === 'number' && Number.isFinite(eps) && eps > 0)) throw new Error(`corruption length ε must be a finite number > 0, got ${eps}`);
}

/** Throws unless p ≥ 1 (Infinity allowed). */
export function checkNorm(p: number): void {
  if (!(typeof p === 'number' && p >= 1)) throw new Error(`norm p must be ≥ 1 (or inf), got ${p}`);
}

/**
 * Check a corruption spec against a parameter count `k`; throws a message naming the bad value.
 *
 * @example checkSpec({ eps: 1e-3, p: 2, n: 10 }, 61706);
 */
export function checkSpec(spec: CorruptionSpec, k: number): void {
  const { eps, p, n } = spec;
  checkEps(eps);
  checkNorm(p);
  if (!Number.isInteger(k) || k < 1) throw new Error(`no parameters to corrupt (k = ${k})`);
  if (!Number.isInteger(n) || n < 1 || n > k) throw new Error(`n must be an integer in [1, ${k}] (the number of selected parameters), got ${n}`);
}

/**
 * Resolve a parameter count n against the k selected parameters: a count (`10`), a fraction of k (`0.01`), a
 * percentage (`'1%'`) or `'all'` (`resolveCount` of src/data/count.ts: shares round to the nearest count, at least 1).
 *
 * @example
 * resolveN('1%', 61706); // 617
 * resolveN(100, 61706);  // 100
 * resolveN('all', 500);  // 500
 */
export function resolveN(n: number | string, k: number): number {
  return resolveCount(n, k, 'n', 'selected parameters');
}

/**
 * Proposition 1: the corruption a ∈ S maximising aᵀv, with h = top_n(v):
 * p = ∞ → a = ε·sgn(h); p = 2 → a = ε·h/||h||₂; p = 1 → all of ε on the single largest |v_j|;
 * otherwise a = ε·sgn(h)⊙|h|^{1/(p−1)} / || |h|^{1/(p−1)} ||_p. The maximum is ε·||h||_q.
 * Gradient-based corruption passes v = ∇L; random corruption passes v = r ~ N(0, I).
 * Arithmetic is in float64 (powers in log space, so p close to 1 neither overflows nor underflows to NaN);
 * if h is all zero the first-order gain is 0 for every a, and ε is spread evenly over the n coordinates.
 *
 * @param v one vector per selected tensor (treated as their concatenation)
 * @param spec ε, p and the count n (see {@link resolveN} for fractions)
 *
 * @example
 * const { deltas, firstOrder } = worstCorruption([grad], { eps: 1e-3, p: Infinity, n: 100 });
 */
export function worstCorruption(v: Float32Array[], spec: CorruptionSpec): Corruption {
  let k = 0;
  for (const t of v) k += t.length;
  checkSpec(spec, k);
  const { eps, p, n } = spec;
  const indices = topN(v, n);
  const deltas = v.map((t) => new Float32Array(t.length));

  // Gather h (the kept entries) and where each sits.
  const h = new Float64Array(n);
  const where = new Uint32Array(n); // tensor of each index
  const at = new Uint32Array(n); // offset within its tensor
  let maxAbs = 0;
  let argMax = 0;
  FlatParams.ofSizes(v.map((t) => t.length)).forEach(indices, (t, o, j) => {
    where[j] = t;
    at[j] = o;
    const x = v[t][o];
    h[j] = x;
    if (Math.abs(x) > maxAbs) {
      maxAbs = Math.abs(x);
      argMax = j;
    }
  });
  const set = (j: number, a: number) => {
    deltas[where[j]][at[j]] = a;
  };

  if (maxAbs === 0) {
    const a = p === Infinity ? eps : eps / Math.pow(n, 1 / p);
    for (let j = 0; j < n; j++) set(j, a);
    return { deltas, firstOrder: 0, indices };
  }

  if (p === Infinity) {
    let sum = 0;
    for (let j = 0; j < n; j++) {
      set(j, eps * Math.sign(h[j]));
      sum += Math.abs(h[j]);
    }
    return { deltas, firstOrder: eps * sum, indices };
  }
  if (p === 1) {
    set(argMax, eps * Math.sign(h[argMax]));
    return { deltas, firstOrder: eps * maxAbs, indices };
  }
  if (p === 2) {
    let ss = 0;
    for (let j = 0; j < n; j++) ss += (h[j] / maxAbs) ** 2;
    const norm = maxAbs * Math.sqrt(ss);
    for (let j = 0; j < n; j++) set(j, (eps * h[j]) / norm);
    return { deltas, firstOrder: eps * norm, indices };
  }
  // General p: w_j = (|h_j|/max)^{1/(p−1)} (scaled so the largest is 1), a = ε·sgn(h)·w/||w||_p.
  const r = 1 / (p - 1);
  const q = p / (p - 1);
  const logMax = Math.log(maxAbs);
  const w = new Float64Array(n);
  let sp = 0;
  let sq = 0;
  for (let j = 0; j < n; j++) {
    const a = Math.abs(h[j]);
    if (a === 0) continue;
    const l = Math.log(a) - logMax; // ≤ 0
    w[j] = Math.exp(l * r);
    sp += Math.exp(l * r * p);
    sq += Math.exp(l * q);
  }
  const wNorm = Math.pow(sp, 1 / p);
  for (let j = 0; j < n; j++) if (w[j] !== 0) set(j, (eps * Math.sign(h[j]) * w[j]) / wNorm);
  return { deltas, firstOrder: eps * maxAbs * Math.pow(sq, 1 / q), indices };
}
