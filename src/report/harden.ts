// Text report of a hardening run: the training summary, then both models under the same corruption sweep.
import type { HardenReport, HardenSide } from '../corruption/harden.js';
import { int, normText, num, pct, table } from './format.js';

/** A difference of two accuracies in percentage points, signed: '+2.80', '−3.40'. */
export const points = (x: number) => `${x >= 0 ? '+' : '−'}${(100 * Math.abs(x)).toFixed(2)}`;

function sideTable(s: HardenSide): string {
  const rows = [['clean', '-', pct(s.clean.accuracy), num(s.clean.loss)]];
  for (const r of s.records) rows.push([`p = ${normText(r.norm)}`, num(r.eps), pct(r.accuracy), num(r.loss)]);
  return table([{ header: 'corruption' }, { header: 'ε', right: true }, { header: 'accuracy', right: true }, { header: 'loss', right: true }], rows);
}

/** The text `scalpel harden` prints. */
export function hardenText(r: HardenReport): string {
  if (!r.completed) return `stopped after ${r.steps} steps; nothing written to ${r.out} (resume from the checkpoint with --resume)\n`;
  const lines: string[] = [];
  lines.push(`hardened ${r.start === 'fine-tuned' ? 'the input model (fine-tuning)' : `${r.start} from scratch`}: ${r.method.description}`);
  lines.push(`  over ${int(r.method.k)} parameters (${r.method.params}); ${r.steps} steps on ${int(r.trainExamples)} examples`);
  const last = r.history.at(-1);
  if (last) {
    const obj = last.trainObjective !== undefined ? `, objective ${num(last.trainObjective)}` : '';
    const val = last.validationAccuracy !== undefined ? `; validation accuracy ${pct(last.validationAccuracy)}` : '';
    lines.push(`  last epoch: train loss ${num(last.trainLoss)}${obj}${val}`);
  }
  lines.push('');
  const c = r.comparison;
  if (c) {
    const n = c.rows[0]?.n;
    lines.push(`baseline: ${c.baselineName}`);
    lines.push(
      `gradient-based corruption on ${int(c.examples)} test examples (${c.data}), n = ${c.settings.n}${n !== undefined ? ` (${int(n)} parameters)` : ''}, the gradient taken on the same examples for each model:`,
    );
    const rows = [
      [
        'clean',
        '-',
        pct(c.clean.baseline.accuracy),
        pct(c.clean.hardened.accuracy),
        points(c.clean.gain),
        num(c.clean.baseline.loss),
        num(c.clean.hardened.loss),
      ],
    ];
    for (const row of c.rows) {
      rows.push([
        `p = ${normText(row.norm)}`,
        num(row.eps),
        pct(row.baseline.accuracy),
        pct(row.hardened.accuracy),
        points(row.gain),
        num(row.baseline.loss),
        num(row.hardened.loss),
      ]);
    }
    lines.push(
      table(
        [
          { header: 'corruption' },
          { header: 'ε', right: true },
          { header: 'baseline', right: true },
          { header: 'hardened', right: true },
          { header: 'gain (points)', right: true },
          { header: 'loss before', right: true },
          { header: 'loss after', right: true },
        ],
        rows,
      ).trimEnd(),
    );
    if (c.rows.length) {
      const mean = c.rows.reduce((a, x) => a + x.gain, 0) / c.rows.length;
      lines.push('', `mean accuracy gain under corruption ${points(mean)} points; clean accuracy ${points(c.clean.gain)} points`);
    }
  } else if (r.sweep) {
    lines.push('the hardened model under gradient-based corruption on the test split (give --baseline MODEL to compare):');
    lines.push(sideTable(r.sweep).trimEnd());
  } else if (r.test) {
    lines.push(`test accuracy ${pct(r.test.accuracy)} (${int(r.test.examples)} examples, loss ${num(r.test.loss)})`);
  }
  return lines.join('\n') + '\n';
}
