// Text report of `scalpel locate`: every layer tried, the chosen one, its most often located weights.
import type { LocateErrorsResult } from '../lancet/locate-errors.js';
import { int, num, table } from './format.js';

/** Flat index → tensor coordinates: 130 in [10, 84] → '1, 46'. */
export function coordinates(index: number, shape: readonly number[]): string {
  const out: number[] = [];
  let r = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    out.unshift(r % shape[d]);
    r = Math.floor(r / shape[d]);
  }
  return out.join(', ');
}

const ratio = (r: number | null) => (r === null ? '-' : `${num(100 * r, 3)}%`);

export function locateText(r: LocateErrorsResult): string {
  const f = r.file;
  const out = [
    `${f.model}: errors from ${r.source}${r.oracle ? "  [ORACLE: the attacker's trigger, not a defender's result]" : ''}`,
    `defender data: ${r.defender}`,
    `pairs: ${f.pairs} used of ${r.available} available; fixed means ${r.fix === 'not-wrong' ? 'no longer predicted as the class the error sent it to' : 'predicted as its true label'}; ${r.search} ablation search`,
    '',
    'layers tried (fixed: pairs whose error zeroing the top-IV share of the layer fixed; ratio: mean smallest share):',
    table(
      [
        { header: 'layer' },
        { header: 'weights', right: true },
        { header: 'fixed', right: true },
        { header: 'mean ratio', right: true },
        { header: 'located', right: true },
        { header: 'passes', right: true },
        { header: 'time', right: true },
        { header: '' },
      ],
      r.layers.map((l) => [
        l.layer,
        int(l.size),
        `${l.fixed}/${l.pairs}`,
        ratio(l.meanRatio),
        int(l.weights.length),
        int(l.evaluations),
        `${l.seconds.toFixed(2)} s`,
        l.layer === r.chosen ? '<- chosen' : '',
      ]),
    ),
    `chosen layer ${f.layer} (${f.param} [${f.shape.join(', ')}]): ${int(f.weights.length)} weights located (${num((100 * f.weights.length) / f.size, 3)}% of the layer); most often located:`,
    table(
      [
        { header: 'index', right: true },
        { header: 'position', right: true },
        { header: 'count', right: true },
      ],
      f.weights.slice(0, 10).map((w) => [String(w.index), `[${coordinates(w.index, f.shape)}]`, `${w.count}/${f.pairs}`]),
    ),
    `done in ${r.seconds.toFixed(1)} s`,
  ];
  return out.join('\n') + '\n';
}
