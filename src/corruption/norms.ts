// The norm p of a corruption (or q of a gradient): one parser for what users type, one label for reports and JSON.

/**
 * A norm as written on a command line: a number, or 'inf', 'infinity', '∞' or 'max' for the max norm (Infinity).
 * Only the syntax is checked (p ≥ 1 is checkSpec's); returns undefined when the text is not a norm.
 *
 * @example parseNorm('max'); // Infinity
 */
export function parseNorm(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'inf' || t === 'infinity' || t === '∞' || t === 'max') return Infinity;
  const x = Number(t);
  return t === '' || !Number.isFinite(x) ? undefined : x;
}

/**
 * A norm as JSON reports record it: the number, or 'inf' for the max norm (JSON has no Infinity).
 *
 * @example normLabel(Infinity); // 'inf'
 */
export function normLabel(p: number): number | 'inf' {
  return p === Infinity ? 'inf' : p;
}
