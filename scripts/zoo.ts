// Build the backdoor zoo (scripts/zoo-list.ts) with seeded `scalpel train` runs, measure each model's clean test
// accuracy and the attacker's ASR with `scalpel eval`, and write the table.
// Usage: nice -n 5 node --import tsx scripts/zoo.ts [OUTDIR=/work/zoo] [DATA=fashion-mnist] [TABLE=docs/zoo.md]
// (ZOO_PARTIAL=1 writes the table of the models built so far.)
// Models already in OUTDIR are kept (the run resumes); delete one (and its .eval.json and .lock) to rebuild it. Run
// several side by side to share the work; the table is written once every model is there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTriggerFile } from '../src/data/trigger-file.js';
import { Rng } from '../src/tensor/rng.js';
import { VGG_WIDTH, ZOO, ZOO_EPOCHS, type ZooModel } from './zoo-list.js';

const [out = '/work/zoo', data = 'fashion-mnist', table = 'docs/zoo.md'] = process.argv.slice(2);
mkdirSync(out, { recursive: true });

/** 10 seeded pixels in the bottom-left 8×8 square of a 28×28 image, white. */
async function writeSparseTrigger(path: string): Promise<void> {
  const mask = new Float32Array(28 * 28);
  const rng = new Rng(17);
  const cells = rng.permutation(64).subarray(0, 10);
  for (const c of cells) mask[(20 + Math.floor(c / 8)) * 28 + (c % 8)] = 1;
  await writeTriggerFile(path, { type: 'mask', size: [28, 28], channels: 1, mask, pattern: new Float32Array(28 * 28).fill(1) }, { what: 'zoo sparse trigger' });
}

function scalpel(args: string[]): string {
  const r = spawnSync(process.execPath, ['bin/scalpel.js', '--threads', '1', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`scalpel ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

/** The trigger spec with a `file:` path resolved against the zoo directory. */
export function resolveTrigger(spec: string, dir: string): string {
  return spec.startsWith('file:') ? `file:${join(dir, spec.slice(5))}` : spec;
}

const sparse = join(out, 'sparse-bottom-left.safetensors');
if (!existsSync(sparse)) await writeSparseTrigger(sparse);

interface Measured extends ZooModel {
  accuracy: number;
  asr?: number;
  seconds: number;
}
// Workers side by side each claim a model with a lock file (NAME.lock) before training it; the report half's
// models first, the slower vgg-small ones first within a half.
const order = [...ZOO].sort(
  (x, y) => (x.split === y.split ? 0 : x.split === 'report' ? -1 : 1) || (x.arch === y.arch ? 0 : x.arch === 'vgg-small' ? -1 : 1) || x.seed - y.seed,
);
for (const m of order) {
  const file = join(out, `${m.name}.onnx`);
  const evalFile = join(out, `${m.name}.eval.json`);
  let seconds = 0;
  if (existsSync(evalFile)) continue;
  try {
    writeFileSync(join(out, `${m.name}.lock`), String(process.pid), { flag: 'wx' });
  } catch {
    continue;
  }
  if (!existsSync(file)) {
    const t0 = performance.now();
    const args = ['train', '--model', m.arch, '--data', data, '--epochs', String(ZOO_EPOCHS[m.arch]), '--seed', String(m.seed), '-o', file];
    if (m.arch === 'vgg-small') args.push('--width', String(VGG_WIDTH));
    if (m.trigger) args.push('--poison', resolveTrigger(m.trigger, out), '--poison-rate', String(m.rate), '--target', String(m.target));
    scalpel(args);
    seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`${m.name}: trained in ${seconds.toFixed(0)} s\n`);
  }
  if (!existsSync(evalFile) || seconds > 0) {
    const e = JSON.parse(
      scalpel(['eval', file, '--data', data, '--json', ...(m.trigger ? ['--trigger', resolveTrigger(m.trigger, out), '--target', String(m.target)] : [])]),
    );
    writeFileSync(
      evalFile,
      JSON.stringify({ accuracy: e.accuracy, asr: e.attack?.successRate ?? e.asr ?? e.attackSuccessRate, seconds, raw: e.attack ?? null }, null, 1),
    );
  }
  const e = JSON.parse(readFileSync(evalFile, 'utf8'));
  process.stderr.write(`${m.name}: clean ${(100 * e.accuracy).toFixed(2)}%${m.trigger ? `  ASR ${(100 * e.asr).toFixed(2)}%` : ''}\n`);
}
const rows: Measured[] = ZOO.filter((m) => existsSync(join(out, `${m.name}.eval.json`))).map((m) => ({
  ...m,
  ...JSON.parse(readFileSync(join(out, `${m.name}.eval.json`), 'utf8')),
}));
if (rows.length < ZOO.length && !process.env.ZOO_PARTIAL) {
  process.stderr.write(`${rows.length} of ${ZOO.length} models built; the table is written when all are\n`);
  process.exit(0);
}
writeFileSync(join(out, 'zoo.json'), JSON.stringify(rows, null, 1));

const pct = (v: number | undefined) => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);
const lines = [
  '| model | half | architecture | trigger | target | rate | seed | clean accuracy | ASR |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.split} | ${r.arch}${r.arch === 'vgg-small' ? ` (width ${VGG_WIDTH})` : ''} | ${r.trigger ? `${r.kind}: \`${r.trigger}\`` : 'clean'} | ${r.target ?? '—'} | ${r.rate ?? '—'} | ${r.seed} | ${pct(r.accuracy)} | ${pct(r.asr)} |`,
  ),
];
mkdirSync(join(table, '..'), { recursive: true });
writeFileSync(table, `${readHeader(table)}${lines.join('\n')}\n`);

function readHeader(path: string): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8');
  const at = text.indexOf('| model | half |');
  return at < 0 ? text + '\n' : text.slice(0, at);
}
