// The budget of an edit: how many parameters may change, as a count, a fraction, a percentage or 'all'.

/**
 * Resolve a budget against the number `k` of parameters that may change: `100`, `0.001` (a fraction of k),
 * `0.16%`, or `all` (= k). The result is a whole number in [1, k]; anything else throws a message naming the value.
 *
 * @example resolveBudget('0.16%', 61706); // 99
 */
export function resolveBudget(budget: number | string, k: number): number {
  const text = String(budget).trim().toLowerCase();
  if (text === 'all') return k;
  let n: number;
  if (text.endsWith('%')) {
    const p = Number(text.slice(0, -1));
    if (text.length < 2 || !Number.isFinite(p) || p <= 0 || p > 100) throw new Error(`budget '${budget}' is not a percentage in (0, 100]`);
    n = Math.round((p / 100) * k);
  } else {
    const v = Number(text);
    if (text === '' || !Number.isFinite(v) || v <= 0) throw new Error(`budget '${budget}' must be a count ≥ 1, a fraction in (0, 1), a percentage or 'all'`);
    if (v < 1) n = Math.round(v * k);
    else if (!Number.isInteger(v)) throw new Error(`budget '${budget}' is neither a whole count nor a fraction below 1`);
    else n = v;
  }
  if (n < 1) throw new Error(`budget '${budget}' is less than one of the ${k} parameters that may change`);
  if (n > k) throw new Error(`budget ${n} is more than the ${k} parameters that may change (use 'all', or select more with --params)`);
  return n;
}
