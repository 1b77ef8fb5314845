// Theorem 1 of the parameter-corruption paper: the distribution of η = |ãᵀg|/(εG) for random ã on the sphere.
//
// For ã uniform on { ||a||₂ = ε } in k dimensions, η has density p(x) = 2Γ(k/2)/(√π Γ((k−1)/2)) (1−x²)^((k−3)/2)
// on [0, 1]. Equivalently η² ~ Beta(1/2, (k−1)/2), which is how the CDF and quantiles are computed here
// (the regularized incomplete beta function by its continued fraction, in log space, exact for any k).

/** Quantiles of |ΔL| at 90%, 95% and 99.5% (α(p) of the paper's Table 3). */
export interface Quantiles3 {
  q90: number;
  q95: number;
  q995: number;
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/**
 * log Γ(x) for x > 0 (Lanczos, g = 7; about 15 significant digits).
 *
 * @example Math.exp(lgamma(5)); // 24
 */
export function lgamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betacf(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/**
 * The regularized incomplete beta function I_x(a, b).
 *
 * @example betaInc(0.5, 2, 2); // 0.5
 */
export function betaInc(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betacf(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betacf(1 - x, b, a)) / b;
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 2) throw new Error(`Theorem 1 needs k ≥ 2 parameters, got ${k}`);
}

/**
 * The density of η for k parameters, p(x) = 2Γ(k/2)/(√π Γ((k−1)/2)) (1−x²)^((k−3)/2) on [0, 1] (from lgamma, so
 * it neither overflows nor underflows for millions of parameters).
 *
 * @example etaDensity(0, 3); // 1 (η is uniform for k = 3)
 */
export function etaDensity(x: number, k: number): number {
  checkK(k);
  if (x < 0 || x > 1) return 0;
  const logC = Math.log(2) + lgamma(k / 2) - 0.5 * Math.log(Math.PI) - lgamma((k - 1) / 2);
  if (x === 1) return k === 3 ? Math.exp(logC) : k < 3 ? Infinity : 0;
  return Math.exp(logC + ((k - 3) / 2) * Math.log1p(-x * x));
}

/**
 * P(η ≤ x) = I_{x²}(1/2, (k−1)/2).
 *
 * @example etaCdf(0.5, 3); // 0.5
 */
export function etaCdf(x: number, k: number): number {
  checkK(k);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return betaInc(x * x, 0.5, (k - 1) / 2);
}

/**
 * The q-quantile of η for k parameters (bisection on the CDF to full double precision).
 * For large k it is close to the |N(0,1)| quantile divided by √k.
 *
 * @example etaQuantile(0.995, 61706) * Math.sqrt(61706); // ≈ 2.807, the 99.5% quantile of |N(0, 1)|
 */
export function etaQuantile(q: number, k: number): number {
  checkK(k);
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile level must be in [0, 1], got ${q}`);
  if (q === 0) return 0;
  if (q === 1) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-17 * Math.max(hi, 1e-300); i++) {
    const mid = 0.5 * (lo + hi);
    if (etaCdf(mid, k) < q) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * The empirical q-quantile of a sample (linear interpolation between order statistics, R's type 7).
 *
 * @example quantile([1, 2, 3, 4], 0.5); // 2.5
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Sort a copy of numbers ascending. */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * The Table 3 quantiles of |ΔL| predicted by Theorem 1 to first order: εG·quantile_η(q).
 *
 * @example theoreticalQuantiles(61706, 1e-3, 0.5); // { q90, q95, q995 }
 */
export function theoreticalQuantiles(k: number, eps: number, G: number): Quantiles3 {
  const s = eps * G;
  return { q90: s * etaQuantile(0.9, k), q95: s * etaQuantile(0.95, k), q995: s * etaQuantile(0.995, k) };
}

/**
 * The Table 3 quantiles of a sample of |ΔL| values.
 *
 * @example empiricalQuantiles(lossChanges.map(Math.abs));
 */
export function empiricalQuantiles(values: ArrayLike<number>): Quantiles3 {
  const s = sortedCopy(values);
  return { q90: quantile(s, 0.9), q95: quantile(s, 0.95), q995: quantile(s, 0.995) };
}
