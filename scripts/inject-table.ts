/**
 * Turn `scalpel inject --json` reports (one run or a sweep) into the README's markdown table: one row per run with the
 * single-run command that reproduces it (runs are deterministic for a seed; a sweep's runs equal the single runs).
 *
 * Usage: node --import tsx scripts/inject-table.ts REPORT.json [BASE_COMMAND]
 *   BASE_COMMAND: the command without --method/--budget/-o (default: rebuilt from the report's model and pattern)
 */
import { readFileSync } from 'node:fs';
import type { InjectReport } from '../src/surgery/inject.js';
import { settingFlags, splitChoice } from '../src/surgery/methods.js';

const [file, base] = process.argv.slice(2);
const r = JSON.parse(readFileSync(file, 'utf8')) as InjectReport;
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const pt = (x: number) => `${x >= 0 ? '+' : '−'}${(100 * Math.abs(x)).toFixed(2)}`;
const target = /→ class (\d+)/.exec(r.description)?.[1];
const cmdBase = base ?? `scalpel --threads 1 inject ${r.model} --pattern ${r.pattern}${target !== undefined ? ` --target ${target}` : ''}`;
console.log('| method | budget N | changed | success | clean acc (before → after) | consistency | KL(old‖new) | ‖δ‖₂ | ‖δ‖∞ | time | command |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const run of r.runs) {
  const m = run.measures;
  const { method } = splitChoice(run.method);
  // The settings the report records that this run's method reads, as their flags.
  const given = r.settings.method as Record<string, unknown>;
  const settings = settingFlags()
    .filter((f) => given[f.key] !== undefined && method.settings.some((s) => s.key === f.key))
    .map((f) => ` ${f.flag.split(' ')[0]} ${String(given[f.key])}`)
    .join('');
  const flags = `--method ${run.method}${method.budgeted ? ` --budget ${run.budgetText}` : ''}${settings}`;
  console.log(
    `| ${run.method} | ${run.budgetText === 'all' ? `all (${run.budget.toLocaleString('en')})` : run.budget.toLocaleString('en')} | ${m.changed.count.toLocaleString('en')} | ${pct(m.success.after)} | ` +
      `${pct(m.clean.before)} → ${pct(m.clean.after)} (${pt(m.clean.after - m.clean.before)}) | ${pct(m.consistency)} | ${m.meanKl.toPrecision(3)} | ${m.changed.l2.toPrecision(3)} | ${m.changed.linf.toPrecision(3)} | ${run.wallSeconds.toFixed(0)} s | ` +
      `\`${cmdBase} ${flags} -o out.onnx\` |`,
  );
}
