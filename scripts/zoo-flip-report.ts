// One table per defence over a half of the zoo's backdoored models, from scripts/zoo-flip.ts's results: mean and worst
// ASR after, mean ACC change, mean DER, parameters changed, and how many models meet the issue's target (ASR ≤ 2%
// with clean accuracy within 1 point). A model whose repair did not run (no label flagged) counts as a miss.
// Usage: node --import tsx scripts/zoo-flip-report.ts --half report [--variants flip,general,unlearn,fine-prune] [--zoo /work/zoo] [--out FILE.md]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ZOO } from './zoo-list.js';

const { values: a } = parseArgs({
  options: {
    half: { type: 'string', default: 'report' },
    variants: { type: 'string', default: 'flip,general,general-r3,unlearn,fine-prune' },
    zoo: { type: 'string', default: '/work/zoo' },
    out: { type: 'string' },
  },
});
const NAMES: Record<string, string> = {
  flip: '`flip` as today (locate --layer auto on one reconstruction, judged on its own held-out pairs)',
  general: '`flip`, generalising (locate on jittered pairs of 2 reconstructions; layer and flips judged on a 3rd)',
  'general-r3': '`flip`, generalising, 3 rounds (locate → flip again on the pairs still unfixed)',
  unlearn: '`unlearn` (the seed-0 reconstruction)',
  'fine-prune': '`fine-prune` (--max-drop 4)',
};
interface R {
  model: string;
  before: { acc: number; asr: number };
  after?: { acc: number; asr: number };
  der?: number;
  changed?: number;
  layer?: string;
  flipped?: number;
  skipped?: string;
  seconds: number;
}
const models = ZOO.filter((m) => m.target !== undefined && (a.half === 'all' || m.split === a.half));
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
const lines: string[] = [];
for (const v of a.variants!.split(',')) {
  const rs = models
    .map((m) => join(a.zoo!, 'flip', v, `${m.name}.json`))
    .filter(existsSync)
    .map((f) => JSON.parse(readFileSync(f, 'utf8')) as R);
  if (rs.length === 0) continue;
  const done = rs.filter((r) => r.after);
  const meets = done.filter((r) => r.after!.asr <= 0.02 && r.before.acc - r.after!.acc <= 0.01).length;
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  lines.push(`#### ${NAMES[v] ?? v}`, '');
  lines.push(
    `${rs.length} of ${models.length} backdoored models of the ${a.half} half; **${meets}/${rs.length} meet ASR ≤ 2% with ACC within 1 point**; mean ASR after ${done.length ? pct(mean(done.map((r) => r.after!.asr))) : '—'}, worst ${done.length ? pct(Math.max(...done.map((r) => r.after!.asr))) : '—'}; mean ACC change ${done.length ? `${(100 * mean(done.map((r) => r.after!.acc - r.before.acc))).toFixed(2)} points` : '—'}; mean DER ${done.length ? mean(done.map((r) => r.der!)).toFixed(4) : '—'}.`,
    '',
  );
  lines.push('| model | ASR before → after | ACC before → after | DER | parameters changed | where | time |', '|---|---|---|---|---|---|---|');
  for (const r of rs) {
    lines.push(
      r.after
        ? `| ${r.model} | ${pct(r.before.asr)} → ${pct(r.after.asr)} | ${pct(r.before.acc)} → ${pct(r.after.acc)} | ${r.der!.toFixed(4)} | ${r.changed?.toLocaleString('en-US') ?? '—'} | ${r.layer ?? '—'} | ${r.seconds.toFixed(0)} s |`
        : `| ${r.model} | ${pct(r.before.asr)} → not repaired (${r.skipped}) | ${pct(r.before.acc)} | — | 0 | — | ${r.seconds.toFixed(0)} s |`,
    );
  }
  lines.push('');
}
const text = lines.join('\n');
process.stdout.write(text);
if (a.out) writeFileSync(a.out, text);
