// Text report of a trigger reconstruction: one row per label, the anomaly threshold, the flagged labels.
import type { ReconstructResult } from '../backdoor/neural-cleanse.js';
import { num, pct, table } from './format.js';

/** The per-label table and verdict of `scalpel reconstruct`. */
export function reconstructText(r: ReconstructResult): string {
  const rows = r.labels.map((l) => [
    String(l.label),
    num(l.l1),
    l.success ? 'yes' : 'no',
    pct(l.attackSuccess),
    String(l.steps),
    num(l.anomalyIndex, 3),
    l.flagged ? 'FLAGGED' : '',
  ]);
  const verdict = r.flagged.length
    ? `flagged as backdoor target${r.flagged.length > 1 ? 's' : ''}: ${r.flagged.join(', ')} (anomaly index > ${r.threshold} with a norm below the median)`
    : `no label flagged (no anomaly index > ${r.threshold} below the median)`;
  return [
    `trigger reconstruction (Neural Cleanse) on ${r.examples} images of ${r.source}, ${r.seconds.toFixed(1)} s`,
    table(
      [
        { header: 'label' },
        { header: '‖m‖₁', right: true },
        { header: 'reached 99%' },
        { header: 'success', right: true },
        { header: 'steps', right: true },
        { header: 'anomaly index', right: true },
        { header: '' },
      ],
      rows,
    ).trimEnd(),
    `median ‖m‖₁ ${num(r.median)}, MAD ${num(r.mad)}`,
    verdict,
    '',
  ].join('\n');
}
