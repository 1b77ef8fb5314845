// What the self-contained HTML reports share: escaping, the base style, and Chart.js inlined with
// the script that draws the charts and records on the page whether they were drawn.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

let chartJs: string | undefined;

/** Chart.js's UMD build, read once from node_modules (the package's exports map hides dist/, so go through its main file). */
function chartJsSource(): string {
  if (chartJs === undefined) {
    const main = createRequire(import.meta.url).resolve('chart.js');
    chartJs = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
  }
  return chartJs;
}

/** Text for HTML element content and quoted attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element: no `</script>`, `<!--` or line separators can close or break it. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** A chart for the page script: a Chart.js config (plain JSON) and how to label its axes. */
export interface ChartSpec {
  id: string;
  /** Log-scale axes, so the page can label their ticks as powers of ten. */
  logX: boolean;
  logY: boolean;
  /** A y axis of shares, labelled in percent. */
  percentY?: boolean;
  /** Ticks of the x axis exactly at these values, labelled as numbers (instead of powers of ten). */
  xTicks?: number[];
  config: unknown;
}

/** The style every report page starts from: type, header facts, chart grid, tables. */
export const BASE_CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;margin:0 auto;max-width:1200px;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
header dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}header dt{color:#555}header dd{margin:0;font-weight:600;overflow-wrap:anywhere}
pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}.note{color:#444;max-width:900px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}.chart{position:relative;height:320px;border:1px solid #e5e5e5;border-radius:4px;padding:8px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{padding:4px 8px;border:1px solid #e2e2e2;text-align:left}table.data td{white-space:nowrap}`;

/**
 * The page's own script: draws each chart, then records on <body> how many were drawn (data-charts-drawn),
 * how many canvases hold painted pixels (data-charts-inked), and any error (data-chart-error), so a headless
 * browser's DOM dump shows whether the charts rendered.
 */
const pageScript = (dataId: string) => `
(function () {
  var body = document.body;
  try {
    var specs = JSON.parse(document.getElementById('${dataId}').textContent);
    var sup = { '-': '⁻', '0': '⁰', '1': '¹', '2': '²', '3': '³', '4': '⁴', '5': '⁵', '6': '⁶', '7': '⁷', '8': '⁸', '9': '⁹' };
    function pow10(v) {
      var e = Math.log10(v), r = Math.round(e);
      if (Math.abs(e - r) > 1e-9) return '';
      if (r >= -3 && r <= 3) return String(Number(v.toPrecision(1)));
      return '10' + String(r).split('').map(function (c) { return sup[c]; }).join('');
    }
    var drawn = 0, inked = 0;
    specs.forEach(function (s) {
      var c = s.config, canvas = document.getElementById(s.id);
      if (s.logX) c.options.scales.x.ticks = { callback: pow10, autoSkip: false, maxRotation: 0 };
      if (s.xTicks) {
        c.options.scales.x.afterBuildTicks = function (axis) { axis.ticks = s.xTicks.map(function (v) { return { value: v }; }); };
        c.options.scales.x.ticks = { callback: function (v) { return String(Number(Number(v).toPrecision(3))); }, autoSkip: false, maxRotation: 0 };
      }
      if (s.logY) c.options.scales.y.ticks = { callback: pow10, autoSkip: false };
      if (s.percentY) c.options.scales.y.ticks = { callback: function (v) { return Math.round(v * 100) + '%'; } };
      var legend = c.options.plugins.legend;
      if (legend && legend.labels && legend.labels.filter === 'noBandEdge') legend.labels.filter = function (item) { return item.text !== 'random 5%'; };
      c.options.plugins.tooltip = { callbacks: { title: function (items) { return items.length ? 'ε = ' + items[0].parsed.x.toExponential(2) : ''; } } };
      var chart = new Chart(canvas, c);
      chart.draw();
      drawn++;
      var ctx = canvas.getContext('2d'), img = ctx.getImageData(0, 0, canvas.width, canvas.height).data, painted = 0;
      for (var i = 3; i < img.length; i += 4) if (img[i] !== 0) painted++;
      canvas.dataset.painted = String(painted);
      if (painted > 0) inked++;
    });
    body.dataset.chartsDrawn = String(drawn);
    body.dataset.chartsInked = String(inked);
  } catch (e) {
    body.dataset.chartError = String(e && e.message || e);
  }
})();
`;

/**
 * The three script elements that end a report page, one per line: the chart specs as JSON (in the element
 * `dataId`), Chart.js inlined, and the page script that draws them. The page needs one <canvas id> per spec.
 */
export function chartScripts(charts: ChartSpec[], dataId: string): string {
  return [
    `<script type="application/json" id="${escapeHtml(dataId)}">${scriptJson(charts)}</script>`,
    `<script>${chartJsSource().replace(/<\/(script)/gi, '<\\/$1')}</script>`,
    `<script>${pageScript(dataId)}</script>`,
  ].join('\n');
}
