// Detection over the zoo from the runs scripts/zoo-detect.ts cached: per rule, the share of backdoored models whose
// target is flagged, of clean models with any flag, of non-target labels flagged on backdoored models, the AUC of
// the anomaly index, and the agreement of the flagged sets across seeds.
// Usage: node --import tsx scripts/zoo-detect-report.ts --half dev|report [--schedule batch] [--seeds 0,1,2] [--zoo /work/zoo] [--out FILE.md]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { anomalyIndex } from '../src/backdoor/anomaly.js';
import { foreignness } from '../src/backdoor/natural-feature.js';
import { referenceNorms, relativeAnomaly } from '../src/backdoor/reference-norms.js';
import { loadLabelledData, type LabelledData } from '../src/data/load-dataset.js';
import { readSafetensors } from '../src/data/safetensors.js';
import type { MaskTrigger } from '../src/data/triggers.js';
import { defenderSplit } from './zoo-defender.js';
import { ZOO, type ZooModel } from './zoo-list.js';

const { values: a } = parseArgs({
  options: {
    half: { type: 'string', default: 'dev' },
    schedule: { type: 'string', default: 'batch' },
    seeds: { type: 'string', default: '0,1,2' },
    zoo: { type: 'string', default: '/work/zoo' },
    out: { type: 'string' },
    transfer: { type: 'string', default: '0.9' },
    foreign: { type: 'string', default: '0.5' },
    data: { type: 'string', default: 'fashion-mnist' },
  },
});
const seeds = a.seeds!.split(',').map(Number);
const tau = Number(a.transfer);
const phi = Number(a.foreign);

/** foreignness of each flagged label's trigger, against the seed's defender images of that label. */
interface Run {
  l1: number[];
  index: number[];
  flagged: number[];
  worst: number[];
  seconds: number;
  foreign: Map<number, number>;
}
const train = await loadLabelledData(a.data, 'train');
const defenders = new Map<number, LabelledData>();
async function readTrigger(path: string): Promise<MaskTrigger> {
  const t = await readSafetensors(path);
  const clip = (name: string) => Float32Array.from(t.get(name)!.data as Float32Array, (v) => Math.min(1, Math.max(0, v)));
  const [c, h, w] = t.get('pattern')!.dims;
  return { type: 'mask', size: [h, w], channels: c, mask: clip('mask'), pattern: clip('pattern') };
}
async function readRun(m: ZooModel, seed: number, schedule = a.schedule!): Promise<Run | undefined> {
  const dir = join(a.zoo!, 'nc', schedule, m.name, `s${seed}`);
  if (!existsSync(join(dir, schedule === 'batch' ? 'transfer.json' : 'reconstruct.json'))) return undefined;
  const r = JSON.parse(readFileSync(join(dir, 'reconstruct.json'), 'utf8'));
  const t = existsSync(join(dir, 'transfer.json'))
    ? JSON.parse(readFileSync(join(dir, 'transfer.json'), 'utf8'))
    : { seconds: r.seconds, transfer: r.labels.map(() => ({ worstClass: NaN })) };
  if (!defenders.has(seed)) defenders.set(seed, defenderSplit(train, seed).defender);
  const foreign = new Map<number, number>();
  for (const l of r.flagged as number[]) foreign.set(l, foreignness(await readTrigger(join(dir, `label-${l}.safetensors`)), defenders.get(seed)!, l));
  return {
    l1: r.labels.map((l: { l1: number }) => l.l1),
    index: r.labels.map((l: { anomalyIndex: number }) => l.anomalyIndex),
    flagged: r.flagged,
    worst: t.transfer.map((x: { worstClass: number }) => x.worstClass),
    seconds: t.seconds ?? r.seconds,
    foreign,
  };
}

/** A rule turns a model's runs (one per seed) into flagged sets: one per seed, or one for all seeds. */
type Rule = { name: string; perSeed: boolean; flag: (runs: Run[], m: ZooModel) => number[][] };
const lowIndex = (r: Run) => r.index.map((v, i) => (r.l1[i] < median(r.l1) ? v : 0));
function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const k = s.length >> 1;
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
}
const RULES: Rule[] = [
  { name: 'Neural Cleanse (index > 2), one seed', perSeed: true, flag: (runs) => runs.map((r) => r.flagged) },
  {
    name: `… and the trigger transfers to every class (worst class ≥ ${tau})`,
    perSeed: true,
    flag: (runs) => runs.map((r) => r.flagged.filter((l) => r.worst[l] >= tau)),
  },
  {
    name: 'min ‖m‖₁ over the 3 seeds, then index > 2',
    perSeed: false,
    flag: (runs) => [anomalyIndex(runs[0].l1.map((_, l) => Math.min(...runs.map((r) => r.l1[l])))).flagged],
  },
  { name: 'flagged in all 3 seeds', perSeed: false, flag: (runs) => [runs[0].flagged.filter((l) => runs.every((r) => r.flagged.includes(l)))] },
  {
    name: 'flagged in at least 2 of 3 seeds',
    perSeed: false,
    flag: (runs) => [runs[0].l1.map((_, l) => l).filter((l) => runs.filter((r) => r.flagged.includes(l)).length >= 2)],
  },
  {
    name: 'median anomaly index over the 3 seeds > 2',
    perSeed: false,
    flag: (runs) => [runs[0].l1.map((_, l) => l).filter((l) => median(runs.map((r) => lowIndex(r)[l])) > 2)],
  },
  {
    name: "relative to clean twins' norms (index of log ‖m‖₁/reference > 2), one seed",
    perSeed: true,
    flag: (runs, m) => runs.map((r) => relativeAnomaly(r.l1, reference(m)).flagged),
  },
  {
    name: '**… relative, flagged in at least 2 of 3 seeds (chosen on the development half)**',
    perSeed: false,
    flag: (runs, m) => [runs[0].l1.map((_, l) => l).filter((l) => runs.filter((r) => relativeAnomaly(r.l1, reference(m)).flagged.includes(l)).length >= 2)],
  },
  {
    name: '… relative, min ‖m‖₁ over the 3 seeds',
    perSeed: false,
    flag: (runs, m) => [
      relativeAnomaly(
        runs[0].l1.map((_, l) => Math.min(...runs.map((r) => r.l1[l]))),
        reference(m),
      ).flagged,
    ],
  },
];

/**
 * The clean twins' reference norms for a model: every seed's run of the development half's clean models of the same
 * architecture, the model itself left out (the development half is where settings may come from).
 */
function reference(m: ZooModel): number[] {
  const twins = ZOO.filter((t) => t.split === 'dev' && t.target === undefined && t.arch === m.arch && t.name !== m.name);
  const vectors = twins.flatMap((t) => twinRuns.get(t.name) ?? []);
  return referenceNorms(vectors);
}
const twinRuns = new Map<string, number[][]>();

/** Area under the ROC curve of scores of positives against negatives (ties count half). */
function auc(pos: number[], neg: number[]): number {
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

const models = ZOO.filter((m) => a.half === 'all' || m.split === a.half);
const runs = new Map<string, Run[]>();
const missing: string[] = [];
for (const m of models) {
  const rs = await Promise.all(seeds.map((s) => readRun(m, s)));
  if (rs.some((r) => !r)) missing.push(m.name);
  else runs.set(m.name, rs as Run[]);
}
for (const t of ZOO.filter((x) => x.split === 'dev' && x.target === undefined)) {
  const rs = await Promise.all(seeds.map((sd) => readRun(t, sd, 'batch')));
  twinRuns.set(
    t.name,
    rs.filter((r): r is Run => r !== undefined).map((r) => r.l1),
  );
}
const have = models.filter((m) => runs.has(m.name));
const bd = have.filter((m) => m.target !== undefined);
const clean = have.filter((m) => m.target === undefined);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const lines: string[] = [];
lines.push(
  `Half: ${a.half} (${bd.length} backdoored, ${clean.length} clean models; seeds ${seeds.join(', ')}; schedule ${a.schedule})${missing.length ? `; not yet run: ${missing.join(', ')}` : ''}.`,
  '',
);
lines.push('| rule | targets flagged | clean models with a flag | non-target labels flagged (backdoored) | agreement across seeds |', '|---|---|---|---|---|');
for (const rule of RULES) {
  let tHit = 0,
    tN = 0,
    cHit = 0,
    cN = 0,
    ntHit = 0,
    ntN = 0,
    agree = 0;
  let failed: string | undefined;
  for (const m of have) {
    let sets: number[][];
    try {
      sets = rule.flag(runs.get(m.name)!, m);
    } catch (e) {
      failed = (e as Error).message;
      break;
    }
    if (new Set(sets.map((s) => [...s].sort().join())).size === 1) agree++;
    for (const s of sets) {
      if (m.target !== undefined) {
        tN++;
        if (s.includes(m.target)) tHit++;
        ntN += 9;
        ntHit += s.filter((l) => l !== m.target).length;
      } else {
        cN++;
        if (s.length > 0) cHit++;
      }
    }
  }
  if (failed) {
    lines.push(`| ${rule.name} | not measured: ${failed} | | | |`);
    continue;
  }
  lines.push(
    `| ${rule.name} | ${tHit}/${tN} (${pct(tHit / tN)}) | ${cHit}/${cN} (${pct(cHit / cN)}) | ${ntHit}/${ntN} (${pct(ntHit / ntN)}) | ${rule.perSeed ? `${agree}/${have.length} models` : '—'} |`,
  );
}
// AUC of the anomaly index: per model (max low-side index) and per label (targets against every other label).
const modelScore = (r: Run) => Math.max(...lowIndex(r));
const aucModel = auc(
  bd.flatMap((m) => runs.get(m.name)!.map(modelScore)),
  clean.flatMap((m) => runs.get(m.name)!.map(modelScore)),
);
const posL: number[] = [];
const negL: number[] = [];
for (const m of have) for (const r of runs.get(m.name)!) lowIndex(r).forEach((v, l) => (l === m.target ? posL : negL).push(v));
lines.push(
  '',
  `AUC of the anomaly index (one value per model and seed): model level (largest index below the median: backdoored against clean) ${aucModel.toFixed(3)}; label level (the target against every other label of every model) ${auc(posL, negL).toFixed(3)}.`,
);
lines.push('', "| model | target | per seed: flagged labels (anomaly index, worst-class transfer, foreignness of each); the target's index |", '|---|---|---|');
for (const m of have) {
  const cells = runs
    .get(m.name)!
    .map(
      (r, k) =>
        `s${seeds[k]}: [${r.flagged.map((l) => `${l} (${r.index[l].toFixed(2)}, ${r.worst[l].toFixed(2)}, ${r.foreign.get(l)!.toFixed(2)})`).join(', ')}]${m.target !== undefined ? ` target ${r.index[m.target].toFixed(2)}` : ''}`,
    );
  lines.push(`| ${m.name} | ${m.target ?? '—'} | ${cells.join('; ')} |`);
}
const secs = have.flatMap((m) => runs.get(m.name)!.map((r) => r.seconds));
lines.push(
  '',
  `Reconstruction time per model (all 10 labels, one thread, loaded machine): mean ${(secs.reduce((x, y) => x + y, 0) / secs.length).toFixed(0)} s.`,
);
const text = lines.join('\n') + '\n';
process.stdout.write(text);
if (a.out) writeFileSync(a.out, text);
