// `scalpel diff --html`: one self-contained page with a heat strip per tensor (where in the tensor the changes sit)
// and the report's tables.
import type { DiffReport, GroupChange } from '../params/diff.js';
import { int, num, share } from './format.js';
import { BASE_CSS, escapeHtml } from './html.js';

/** A cell colour from white (no change) to deep red (the densest slice of any tensor). */
function heat(v: number, max: number): string {
  if (v === 0 || max === 0) return '#f4f4f4';
  const t = Math.sqrt(v / max);
  const l = Math.round(92 - 57 * t);
  return `hsl(4,78%,${l}%)`;
}

function strips(r: DiffReport): string {
  const max = Math.max(0, ...r.byTensor.flatMap((t) => t.strip.map((c, i) => c / Math.max(1, sliceSize(t.size, t.strip.length, i)))));
  const rows = r.byTensor.map((t) => {
    const cells = t.strip
      .map((c, i) => {
        const size = sliceSize(t.size, t.strip.length, i);
        return `<span class="cell" style="background:${heat(c / Math.max(1, size), max)}" title="${escapeHtml(`${t.name}: ${int(c)} of ${int(size)} entries changed in this slice`)}"></span>`;
      })
      .join('');
    return `<tr${t.l0 ? ' class="changed"' : ''}><td>${escapeHtml(t.layer)}</td><td>${escapeHtml(t.name)}</td><td class="num">${int(t.l0)} / ${int(t.size)}</td><td><div class="strip">${cells}</div></td></tr>`;
  });
  return `<table class="data strips"><thead><tr><th>layer</th><th>tensor</th><th>changed</th><th>where (flattened tensor, start → end)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function sliceSize(size: number, slices: number, i: number): number {
  return Math.floor(((i + 1) * size) / slices) - Math.floor((i * size) / slices);
}

function groupRows(rows: GroupChange[]): string {
  const max = Math.max(0, ...rows.map((r) => r.fraction));
  return rows
    .map(
      (g) =>
        `<tr><td>${escapeHtml(g.group)}</td><td class="num">${int(g.changed)}</td><td class="num">${int(g.size)}</td><td class="num">${share(g.fraction)}</td><td><span class="bar" style="width:${max ? Math.round((200 * g.fraction) / max) : 0}px"></span></td></tr>`,
    )
    .join('');
}

const CSS = `${BASE_CSS}
.strip{display:flex;height:14px;min-width:384px;border:1px solid #ddd}.cell{flex:1}
table.data td.num{text-align:right}tr.changed td:first-child{font-weight:600}.bar{display:inline-block;height:10px;background:#c0392b}
ul.diffs li{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}`;

/**
 * The diff report as a self-contained HTML page (no scripts, opens offline).
 *
 * @example await writeFileAtomic('diff.html', [Buffer.from(diffHtml(diffModels(a, b).report))]);
 */
export function diffHtml(r: DiffReport): string {
  const head = (cells: string[]) => `<thead><tr>${cells.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>`;
  const graph = r.differences.graph.length
    ? `<h2>The graphs differ</h2><ul class="diffs">${r.differences.graph.map((d) => `<li>${escapeHtml(d)}</li>`).join('')}</ul>`
    : '<p class="note">Same graph: same nodes, inputs, outputs and parameter names, shapes and types.</p>';
  const meta = r.differences.metadata.length ? `<p class="note">Metadata: ${escapeHtml(r.differences.metadata.join('; '))}</p>` : '';
  const nonFinite = r.becameNonFinite
    ? `<p class="note"><strong>${int(r.becameNonFinite)} entries became NaN or infinite</strong>: ${escapeHtml(
        r.nonFinite
          .slice(0, 10)
          .map((e) => `${e.tensor}[${e.index}] = ${e.after}`)
          .join(', '),
      )}</p>`
    : '';
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>${escapeHtml(`scalpel diff: ${r.a} → ${r.b}`)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<header><h1>scalpel diff</h1><dl><dt>from</dt><dd>${escapeHtml(r.a)}</dd><dt>to</dt><dd>${escapeHtml(r.b)}</dd>`,
    `<dt>changed</dt><dd id="changed">${int(r.changed)} of ${int(r.params.entries)} entries (${share(r.fraction)})${r.atol !== undefined ? `, beyond atol ${r.atol}` : ', bitwise'}</dd>`,
    `<dt>norms of the change</dt><dd>L1 ${num(r.norms.l1)}, L2 ${num(r.norms.l2)}, L∞ ${num(r.norms.linf)}</dd></dl></header>`,
    graph,
    meta,
    nonFinite,
    '<h2>Where the changes sit</h2><p class="note">Each strip is one parameter tensor, flattened in row-major order and cut into slices; the redder a slice, the larger the share of its entries that changed.</p>',
    strips(r),
    `<h2>By layer</h2><table class="data">${head(['layer', 'changed', 'of', 'share', ''])}<tbody>${groupRows(r.byLayer)}</tbody></table>`,
    `<h2>By kind</h2><table class="data">${head(['kind', 'changed', 'of', 'share', ''])}<tbody>${groupRows(r.byKind)}</tbody></table>`,
    r.largest.length
      ? `<h2>Largest changes</h2><table class="data">${head(['tensor', 'index', 'position', 'before', 'after', 'change'])}<tbody>${r.largest
          .map(
            (c) =>
              `<tr><td>${escapeHtml(c.tensor)}</td><td class="num">${c.index}</td><td>[${c.position.join(', ')}]</td><td class="num">${num(c.before)}</td><td class="num">${num(c.after)}</td><td class="num">${num(c.change)}</td></tr>`,
          )
          .join('')}</tbody></table>`
      : '',
    '</body></html>',
    '',
  ].join('\n');
}
