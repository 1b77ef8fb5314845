// Removal over the zoo's backdoored models, judged by the attacker's trigger on the test split (measurement only):
// 'flip' as `repair --method flip` does it (locate --layer auto on pairs from one reconstruction, flip judged on
// held-out pairs of the same reconstruction) and 'general' (generalisingFlip: locate on jittered pairs from the
// reconstructions of seeds 0 and 1, choose the layer and the flips on jittered pairs of seed 2's; 'general-r3' adds
// two more rounds of locate → flip on the pairs still unfixed). All read the
// label flagged by Neural Cleanse (seed 0); a model whose target is not flagged gets no repair (counted as a miss).
// 'unlearn' and 'fine-prune' run `scalpel repair --method M` with the seed-0 reconstruction (--triggers), as a user would.
// Usage: nice -n 5 node --import tsx scripts/zoo-flip.ts --half dev|report --variant flip|general|general-r3|unlearn|fine-prune [--zoo /work/zoo] [--data DIR] [--worker K/W]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { splitValidation } from '../src/data/batches.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { readSafetensors } from '../src/data/safetensors.js';
import { parseTrigger, stampImages, type MaskTrigger, type Normalization } from '../src/data/triggers.js';
import { defenceMetrics, der } from '../src/defence/metrics.js';
import { flipRepair } from '../src/lancet/flip.js';
import { generalisingFlip } from '../src/lancet/generalising-flip.js';
import { locate } from '../src/lancet/locate.js';
import { triggerPairs } from '../src/lancet/trigger-pairs.js';
import type { Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { changedCount, deltaBetween } from '../src/params/delta.js';
import { matchNormalization } from '../src/tasks/normalization.js';
import { defenderSplit } from './zoo-defender.js';
import { ZOO } from './zoo-list.js';
import { chosenFlags } from './zoo-rule.js';

const { values: a } = parseArgs({
  options: {
    half: { type: 'string', default: 'dev' },
    variant: { type: 'string', default: 'general' },
    zoo: { type: 'string', default: '/work/zoo' },
    data: { type: 'string', default: 'fashion-mnist' },
    worker: { type: 'string', default: '0/1' },
    models: { type: 'string' },
    flags: { type: 'string', default: 'plain' },
    out: { type: 'string' },
  },
});
const [k, w] = a.worker!.split('/').map(Number);
const zoo = a.zoo!;
const runtime = { threads: 1 };
const jobs = ZOO.filter(
  (m) => m.target !== undefined && (a.half === 'all' || m.split === a.half) && (!a.models || a.models.split(',').includes(m.name)),
).filter((_, i) => i % w === k);
const train = await loadLabelledData(a.data, 'train');
const test = await loadLabelledData(a.data, 'test');
const outDir = join(zoo, 'flip', a.out ?? a.variant!);
mkdirSync(outDir, { recursive: true });

for (const m of jobs) {
  const out = join(outDir, `${m.name}.json`);
  if (existsSync(out)) continue;
  const ncDir = (s: number) => join(zoo, 'nc', 'batch', m.name, `s${s}`);
  if (![0, 1, 2].every((s) => existsSync(join(ncDir(s), 'transfer.json')))) {
    process.stderr.write(`${m.name}: reconstructions not there yet, skipped\n`);
    continue;
  }
  const t0 = performance.now();
  const model = readModel(join(zoo, `${m.name}.onnx`));
  const attacker = parseTrigger(m.trigger!.startsWith('file:') ? `file:${join(zoo, m.trigger!.slice(5))}` : m.trigger!);
  const measure = (x: Model) => defenceMetrics(x, test, { trigger: attacker, target: m.target!, runtime });
  const before = await measure(model);
  // The labels to repair: those the chosen rule flags (--flags chosen), else seed 0's plain Neural Cleanse flags,
  // the most anomalous first; the flip repairs the first (the defender never learns which is the target).
  const plain = JSON.parse(readFileSync(join(ncDir(0), 'reconstruct.json'), 'utf8')) as { flagged: number[]; labels: { anomalyIndex: number }[] };
  const flagged = a.flags === 'chosen' ? chosenFlags(m, zoo) : [...plain.flagged].sort((x, y) => plain.labels[y].anomalyIndex - plain.labels[x].anomalyIndex);
  const result: Record<string, unknown> = { model: m.name, variant: a.variant, target: m.target, flagged, flags: a.flags, before };
  const label = flagged[0];
  if (a.variant === 'unlearn' || a.variant === 'fine-prune') {
    const r = spawnSync(
      process.execPath,
      [
        'bin/scalpel.js',
        '--threads',
        '1',
        'repair',
        join(zoo, `${m.name}.onnx`),
        '--method',
        a.variant,
        '--data',
        a.data!,
        '--triggers',
        ncDir(0),
        '-o',
        join(outDir, `${m.name}.onnx`),
        '--json',
      ],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    if (r.status !== 0) {
      result.skipped = r.stderr.trim().split('\n').at(-1);
    } else {
      const rep = JSON.parse(r.stdout);
      Object.assign(result, {
        label,
        after: rep.after,
        der: rep.der,
        changed: rep.changedParams,
        details: { pruned: rep.details?.pruned?.length, channels: rep.details?.channels },
      });
    }
  } else if (label === undefined) {
    result.skipped = 'no label flagged';
  } else {
    // The defender's data of seed 0 (as reconstruct drew it), split 90/10 as `repair` does.
    const defender = matchNormalization(model, defenderSplit(train, 0).defender);
    const { train: dTrain, validation } = splitValidation(defender, 0.1, 0);
    const files = await Promise.all([0, 1, 2].map((s) => readTrigger(join(ncDir(s), `label-${label}.safetensors`))));
    const trig = (s: number) => files[s];
    let repaired: Model;
    if (a.variant === 'flip') {
      const norm = defender.normalization as Normalization;
      const all = await triggerPairs(model, dTrain, (x) => stampImages(x, trig(0), norm), { source: 'seed 0', oracle: false, runtime });
      const set = { ...all, pairs: all.pairs.slice(0, 100) };
      const loc = await locate(model, set, { layer: 'auto', runtime });
      const chosen = loc.layers.find((l) => l.layer === loc.chosen)!;
      const heldOut = { ...all, pairs: all.pairs.slice(100, 1100) };
      const f = await flipRepair(model, loc.chosen, chosen.weights, heldOut, { clean: validation, runtime });
      repaired = f.model;
      Object.assign(result, { layer: f.layer, flipped: f.flipped.length, fixedShare: f.chosen.fixedShare, heldOut: f.pairs });
    } else {
      const rounds = a.variant === 'general-r3' ? 3 : 1;
      const r = await generalisingFlip(model, { train: dTrain, validation }, [trig(0), trig(1)], [trig(2)], label, { runtime, rounds });
      repaired = r.flip.model;
      Object.assign(result, {
        layer: r.flip.layer,
        flipped: r.flip.flipped.length,
        roundsFlipped: r.roundsFlipped,
        fixedShare: r.flip.chosen.fixedShare,
        layers: r.layers,
        locatePairs: r.locatePairs,
        judgePairs: r.judgePairs,
      });
    }
    const after = await measure(repaired);
    Object.assign(result, { label, after, der: der(before, after), changed: changedCount(deltaBetween(model, repaired)) });
  }
  result.seconds = (performance.now() - t0) / 1000;
  writeFileSync(out, JSON.stringify(result, null, 1));
  const r = result as { after?: { acc: number; asr: number }; before: { acc: number; asr: number } };
  process.stderr.write(
    `${m.name} ${a.variant}: ${r.after ? `ASR ${(100 * r.before.asr).toFixed(2)}% → ${(100 * r.after.asr).toFixed(2)}%, ACC ${(100 * r.before.acc).toFixed(2)}% → ${(100 * r.after.acc).toFixed(2)}%` : 'skipped'} (${(result.seconds as number).toFixed(0)} s)\n`,
  );
}

/** A reconstructed trigger file, clipped to [0, 1] (runs cached before reconstruct clipped could hold −6e-8). */
async function readTrigger(path: string): Promise<MaskTrigger> {
  const t = await readSafetensors(path);
  const clip = (name: string) => Float32Array.from(t.get(name)!.data as Float32Array, (v) => Math.min(1, Math.max(0, v)));
  const [c, h, w] = t.get('pattern')!.dims;
  return { type: 'mask', size: [h, w], channels: c, mask: clip('mask'), pattern: clip('pattern') };
}
