// Plain-text formatting shared by the text reporters: aligned tables and numbers.

/** An integer with thousands separators: 30646 -> '30,646'. */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A norm p as reports write it: 2 -> '2', 'inf' (or Infinity) -> '∞'. */
export function normText(p: number | 'inf'): string {
  return p === 'inf' || p === Infinity ? '∞' : String(p);
}

/** A real number in `digits` significant digits, exponential when very small or large: 0.000012 -> '1.200e-5'; '' for undefined. */
export function num(x: number | undefined, digits = 4): string {
  if (x === undefined) return '';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e6) return x.toExponential(digits - 1);
  return x.toPrecision(digits);
}

/** A share as a percentage in 2 decimals: 0.8812 -> '88.12%'. */
export function pct(x: number): string {
  return Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : String(x);
}

/** A small share in 3 significant digits: 0.0123 -> '1.23%', 6.5e-5 -> '6.5e-3%', 0 -> '0'. */
export function share(x: number): string {
  return x === 0 ? '0' : x < 1e-4 ? `${(100 * x).toExponential(1)}%` : `${(100 * x).toPrecision(3)}%`;
}

/** ε in at most 3 significant digits, exponential below 0.001: 0.05 -> '0.05', 5e-4 -> '5e-4'. */
export function epsText(x: number): string {
  const r = Number(x.toPrecision(3));
  return r !== 0 && (Math.abs(r) < 1e-3 || Math.abs(r) >= 1e3) ? r.toExponential().replace('e+', 'e') : String(r);
}

/** Milliseconds: '0.412 ms', '12.3 ms'. */
export function ms(x: number): string {
  return `${x < 10 ? x.toFixed(3) : x < 100 ? x.toFixed(2) : x.toFixed(1)} ms`;
}

/** Bytes as B / KiB / MiB / GiB. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

export interface Column {
  header: string;
  /** Right-align (numbers). */
  right?: boolean;
}

/**
 * An aligned table: a header row, a rule, then the rows, each line indented by `indent` spaces.
 *
 * @example table([{ header: 'name' }, { header: 'count', right: true }], [['fc1.weight', '25,088']])
 */
export function table(columns: Column[], rows: string[][], indent = 2): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    ' '.repeat(indent) +
    cells
      .map((cell, i) => (columns[i].right ? cell.padStart(widths[i]) : i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** A shape: '[batch, 1, 28, 28]'; null dims as '?', unknown rank as '[...]'. */
export function shape(dims: readonly (number | string | null)[] | null | undefined): string {
  if (!dims) return '[...]';
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

/** Pretty JSON with a trailing newline, as every `--json` prints. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
