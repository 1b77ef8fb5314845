// Text report of `scalpel inject`: what was taught, then one row per run (success, side effects, changed parameters),
// and for a single run the changed parameters by layer and the flip matrix.
import type { InjectReport, InjectRun } from '../surgery/inject.js';
import { int, num, pct, table } from './format.js';

/** A difference of two shares in percentage points, signed. */
const points = (x: number) => `${x >= 0 ? '+' : '−'}${(100 * Math.abs(x)).toFixed(2)}`;

/** The columns of the comparison table, shared by text and HTML. */
export function runCells(r: InjectRun): string[] {
  const m = r.measures;
  return [
    r.method,
    r.budgetText === String(r.budget) ? int(r.budget) : `${r.budgetText} (${int(r.budget)})`,
    int(m.changed.count),
    pct(m.success.after),
    pct(m.clean.after),
    points(m.clean.after - m.clean.before),
    pct(m.consistency),
    num(m.meanKl),
    num(m.changed.l2),
    num(m.changed.linf),
    `${r.wallSeconds.toFixed(1)} s`,
  ];
}

export const RUN_HEADERS = ['method', 'budget N', 'changed', 'success', 'clean acc', 'Δ acc (pt)', 'consistency', 'KL(old‖new)', '‖δ‖₂', '‖δ‖∞', 'time'];

/** The flip matrix as text: rows the old prediction, columns the new one. */
export function flipText(flips: number[][]): string {
  const c = flips.length;
  const cols = [{ header: 'old \\ new' }, ...Array.from({ length: c }, (_, j) => ({ header: String(j), right: true }))];
  return table(
    cols,
    flips.map((row, i) => [String(i), ...row.map((v, j) => (v === 0 ? '.' : i === j ? String(v) : `${v}`))]),
  );
}

/** The text `scalpel inject` prints. */
export function injectText(r: InjectReport): string {
  const lines: string[] = [];
  lines.push(`pattern: ${r.description}`);
  lines.push(
    `model ${r.model}; ${int(r.params.k)} parameters may change (${r.params.selector}, ${r.params.tensors} tensors) of ${int(r.params.total || r.params.k)}`,
  );
  lines.push(
    `data ${r.data}: training stream ${int(r.examples.stream)} inputs (${int(r.examples.patternTrain)} pattern, ${int(r.examples.cleanTrain)} clean, ${r.settings.cleanWeight} clean per pattern input, clean fitted to ${r.settings.cleanLabels} labels); ` +
      `${r.settings.steps} steps of ${r.settings.batchSize}, ${r.settings.optimizer} lr ${r.settings.lr}`,
  );
  lines.push(`measured on the test split: ${int(r.examples.cleanTest)} clean inputs; pattern success on ${r.patternTest}`);
  lines.push(`original model: clean accuracy ${pct(r.baseline.cleanAccuracy)}, pattern success ${pct(r.baseline.success)}`, '');
  const right = RUN_HEADERS.map((h, i) => ({ header: h, right: i > 0 }));
  lines.push(table(right, r.runs.map(runCells)).trimEnd());
  if (r.runs.length === 1) {
    const run = r.runs[0];
    const m = run.measures;
    lines.push('', `changed parameters by layer (${int(m.changed.count)} of ${int(m.changed.k)}, ${(100 * m.changed.fraction).toPrecision(3)}%):`);
    lines.push(
      table(
        [{ header: 'layer' }, { header: 'changed', right: true }, { header: 'of', right: true }],
        m.changed.byLayer.map((l) => [l.layer, int(l.count), int(l.size)]),
      ).trimEnd(),
    );
    const flipped = m.flips.reduce((a, row, i) => a + row.reduce((b, v, j) => b + (i === j ? 0 : v), 0), 0);
    lines.push('', `flip matrix on the clean test inputs (rows: old prediction, columns: new; ${int(flipped)} of ${int(m.clean.examples)} changed):`);
    lines.push(flipText(m.flips).trimEnd());
    const d = Object.entries(run.details).map(
      ([k, v]) => `${k} ${Array.isArray(v) ? v.join(' → ') : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : num(v)) : v}`,
    );
    if (d.length) lines.push('', `${run.method}: ${d.join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}
