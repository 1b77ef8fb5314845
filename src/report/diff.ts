// `scalpel diff` as text: graph differences, then what changed, by tensor, kind and layer, and the largest changes.
import type { DiffReport, GroupChange } from '../params/diff.js';
import { int, num, share as pct, table } from './format.js';

function groupTable(title: string, rows: GroupChange[]): string {
  const shown = rows.filter((r) => r.changed > 0);
  if (shown.length === 0) return '';
  return `\n${title}\n${table(
    [{ header: 'group' }, { header: 'changed', right: true }, { header: 'of', right: true }, { header: 'share', right: true }],
    shown.map((r) => [r.group, int(r.changed), int(r.size), pct(r.fraction)]),
  )}`;
}

/** The text report of `scalpel diff`. */
export function diffText(r: DiffReport, deltaPath?: string): string {
  const out: string[] = [];
  out.push(`${r.a} -> ${r.b}\n`);
  if (r.differences.graph.length) {
    out.push(
      `\nThe graphs differ (${r.differences.graph.length} difference${r.differences.graph.length > 1 ? 's' : ''}):\n${r.differences.graph.map((d) => `  - ${d}\n`).join('')}`,
    );
  } else out.push('Same graph: same nodes, inputs, outputs and parameter names, shapes and types.\n');
  if (r.differences.metadata.length) out.push(`Metadata: ${r.differences.metadata.join('; ')}\n`);
  const how = r.atol !== undefined ? `differing by more than ${r.atol}` : 'bitwise different';
  out.push(
    `\nChanged: ${int(r.changed)} of ${int(r.params.entries)} parameter entries (${pct(r.fraction)}), ${how}, in ${r.byTensor.filter((t) => t.l0 > 0).length} of ${r.params.tensors} tensors\n`,
  );
  if (r.changed === 0) return out.join('') + (deltaPath ? `Delta (empty) written to ${deltaPath}\n` : '');
  out.push(`Change: L0 ${int(r.norms.l0)}, L1 ${num(r.norms.l1)}, L2 ${num(r.norms.l2)}, L∞ ${num(r.norms.linf)} (finite changes)\n`);
  if (r.becameNonFinite)
    out.push(
      `Warning: ${int(r.becameNonFinite)} entries became NaN or infinite, first: ${r.nonFinite
        .slice(0, 5)
        .map((e) => `${e.tensor}[${e.index}] = ${e.after}`)
        .join(', ')}\n`,
    );
  const changed = r.byTensor.filter((t) => t.l0 > 0);
  out.push(
    `\nBy tensor\n${table(
      [
        { header: 'tensor' },
        { header: 'kind' },
        { header: 'changed', right: true },
        { header: 'of', right: true },
        { header: 'share', right: true },
        { header: 'L2', right: true },
        { header: 'L∞', right: true },
      ],
      changed.map((t) => [t.name, t.kind, int(t.l0), int(t.size), pct(t.fraction), num(t.l2), num(t.linf)]),
    )}`,
  );
  out.push(groupTable('By kind', r.byKind));
  out.push(groupTable('By layer', r.byLayer));
  if (r.largest.length) {
    out.push(
      `\nLargest changes\n${table(
        [
          { header: 'tensor' },
          { header: 'index', right: true },
          { header: 'position' },
          { header: 'before', right: true },
          { header: 'after', right: true },
          { header: 'change', right: true },
        ],
        r.largest.map((c) => [c.tensor, String(c.index), `[${c.position.join(', ')}]`, num(c.before), num(c.after), num(c.change)]),
      )}`,
    );
  }
  if (deltaPath) out.push(`\nDelta written to ${deltaPath}\n`);
  return out.join('');
}
