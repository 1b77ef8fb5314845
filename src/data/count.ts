// How many of something: a count (100), a fraction (0.001), a percentage (1%) or 'all'. One grammar and one rounding
// rule for every option that takes a share of a set: probe's and harden's n, inject's budget, the defender's data.

/** A parsed count, before it meets the size of the set it counts in. */
export type Count =
  | { kind: 'all' }
  | { kind: 'count'; n: number }
  | { kind: 'fraction'; fraction: number; percent: boolean };

const GRAMMAR = "a count (100), a fraction in (0, 1) (0.001), a percentage in (0%, 100%] (1%) or 'all'";

/**
 * Parse a count: a whole number ≥ 1, a fraction in (0, 1), a percentage in (0%, 100%], or `all` (any case). Numbers
 * may be given as numbers. Throws one message naming `what` and the value for anything else (1.5, 0, -3, 120%, 'abc').
 *
 * @param what how the message names the value, e.g. 'n' or 'budget'
 * @example
 * parseCount('1%');   // { kind: 'fraction', fraction: 0.01, percent: true }
 * parseCount('ALL');  // { kind: 'all' }
 * parseCount(100);    // { kind: 'count', n: 100 }
 */
export function parseCount(value: string | number, what = 'count'): Count {
  const text = String(value).trim().toLowerCase();
  const bad = (): never => {
    throw new Error(`${what} '${value}' is not ${GRAMMAR}`);
  };
  if (text === 'all') return { kind: 'all' };
  if (text.endsWith('%')) {
    const body = text.slice(0, -1).trim();
    const pct = Number(body);
    if (body === '' || !Number.isFinite(pct) || pct <= 0 || pct > 100) bad();
    return { kind: 'fraction', fraction: pct / 100, percent: true };
  }
  const v = typeof value === 'number' ? value : Number(text);
  if (text === '' || !Number.isFinite(v) || v <= 0) bad();
  if (v < 1) return { kind: 'fraction', fraction: v, percent: false };
  if (!Number.isSafeInteger(v)) bad();
  return { kind: 'count', n: v };
}

/**
 * Resolve a count against the size `k` of the set it counts in: `all` is k; a fraction or percentage rounds to the
 * nearest whole number, at least 1; a count must not exceed k. Throws one message naming `what` otherwise.
 *
 * @example
 * resolveCount('1%', 61706, 'n');  // 617
 * resolveCount('0.0001', 500);     // 1 (at least one)
 * resolveCount(600, 500, 'budget', 'parameters'); // throws "budget 600 is more than the 500 parameters (…)"
 */
export function resolveCount(value: Count | string | number, k: number, what = 'count', items = 'there are'): number {
  const c = typeof value === 'object' ? value : parseCount(value, what);
  if (!Number.isInteger(k) || k < 1) throw new Error(`${what}: there is nothing to count in (${k} items)`);
  if (c.kind === 'all') return k;
  if (c.kind === 'fraction') return Math.max(1, Math.round(c.fraction * k));
  if (c.n > k) throw new Error(`${what} ${c.n} is more than the ${k} ${items} (give a count up to ${k}, a fraction, a percentage or 'all')`);
  return c.n;
}

/**
 * True for a plain count (not `all`, not a share): a count in a smaller group is capped at the group, where a share is
 * taken of the group.
 *
 * @example isPlainCount('100') // true; isPlainCount('1%') // false
 */
export function isPlainCount(value: Count | string | number): boolean {
  const c = typeof value === 'object' ? value : parseCount(value);
  return c.kind === 'count';
}

/**
 * Split a comma-separated list into its trimmed items, or throw naming `what` for an empty list or an empty item
 * (`'10,,100'`). Every list option is split here, then each item parsed by its own parser.
 *
 * @example splitList(' 10, 1% ,all', 'n') // ['10', '1%', 'all']
 */
export function splitList(value: string, what = 'list'): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (value.trim() === '' || items.some((s) => s === '')) throw new Error(`${what}: expected a comma-separated list without empty items, got '${value}'`);
  return items;
}
