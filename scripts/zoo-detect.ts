// Run Neural Cleanse over the zoo and cache each run: /work/zoo/nc/SCHEDULE/NAME/sSEED/ (the reconstruct -o folder)
// plus transfer.json (the second test: each label's trigger stamped on 1,000 held-out defender images).
// Usage: nice -n 5 node --import tsx scripts/zoo-detect.ts --half dev|report|all --seeds 0,1,2 --schedule batch|original
//        [--zoo /work/zoo] [--data DIR] [--worker K/W] [--models a,b]
// A run already cached is skipped. Run W workers with --worker 0/W … W-1/W to share the jobs.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { reconstruct, type ReconstructSchedule } from '../src/backdoor/neural-cleanse.js';
import { writeReconstruction } from '../src/backdoor/reconstruct-output.js';
import { triggerTransfer } from '../src/backdoor/trigger-transfer.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { defenderSplit } from './zoo-defender.js';
import { readModel } from '../src/onnx/model-io.js';
import { ZOO } from './zoo-list.js';

const { values: a } = parseArgs({
  options: {
    half: { type: 'string', default: 'all' },
    seeds: { type: 'string', default: '0' },
    schedule: { type: 'string', default: 'batch' },
    zoo: { type: 'string', default: '/work/zoo' },
    data: { type: 'string', default: 'fashion-mnist' },
    worker: { type: 'string', default: '0/1' },
    models: { type: 'string' },
  },
});
const seeds = a.seeds!.split(',').map(Number);
const [k, w] = a.worker!.split('/').map(Number);
const schedule = a.schedule as ReconstructSchedule;
const picked = ZOO.filter((m) => (a.half === 'all' || m.split === a.half) && (!a.models || a.models.split(',').includes(m.name)));
const jobs = picked.flatMap((m) => seeds.map((seed) => ({ m, seed }))).filter((_, i) => i % w === k);

const train = await loadLabelledData(a.data, 'train');
for (const { m, seed } of jobs) {
  const dir = join(a.zoo!, 'nc', schedule, m.name, `s${seed}`);
  if (existsSync(join(dir, 'transfer.json'))) continue;
  if (!existsSync(join(a.zoo!, `${m.name}.eval.json`))) {
    process.stderr.write(`${m.name}: not built yet, skipped\n`);
    continue;
  }
  const model = readModel(join(a.zoo!, `${m.name}.onnx`));
  const { defender, heldOut } = defenderSplit(train, seed);
  const r = await reconstruct(model, defender, { seed, schedule, runtime: { threads: 1 } });
  await writeReconstruction(dir, r, model, { model: m.name, seed, schedule });
  const transfer = [];
  for (const l of r.labels) transfer.push(await triggerTransfer(model, l.trigger, heldOut, l.label, { threads: 1 }));
  writeFileSync(join(dir, 'transfer.json'), JSON.stringify({ seconds: r.seconds, transfer }, null, 1));
  process.stderr.write(`${m.name} s${seed} ${schedule}: flagged [${r.flagged}] in ${r.seconds.toFixed(0)} s\n`);
}
