// AI-Lancet's locate against the same steps in PyTorch (bench/torch_lancet.py), side by side in one run:
// K pairs from the BadNets LeNet-5 (the attacker's trigger on the defender's data, as an oracle run), IV by the
// second-order graph and the coarse-to-fine ablation, for every conv/fc layer (what `--layer auto` does).
//
//   node --import tsx bench/lancet.ts [--pairs 100] [--threads 1] [--write BENCHMARKS.md] [--json FILE]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDefenderData } from '../src/defence/defender-data.js';
import { writeNpz } from '../src/data/npy.js';
import { parseTrigger } from '../src/data/triggers.js';
import { lancetLayers } from '../src/lancet/layers.js';
import { locateInLayer } from '../src/lancet/locate.js';
import { stamper } from '../src/lancet/locate-errors.js';
import { stack } from '../src/lancet/pairs.js';
import { triggerPairs } from '../src/lancet/trigger-pairs.js';
import { floatInitializers } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { clearSessionCache, configureRuntime } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { matchNormalization } from '../src/tasks/normalization.js';

const { values: a } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100' },
    threads: { type: 'string', default: '1' },
    write: { type: 'string' },
    json: { type: 'string' },
    data: { type: 'string', default: 'fashion-mnist' },
  },
});
const threads = Number(a.threads);
configureRuntime({ threads });
const TORCH_PYTHON = '/usr/bin/python3';
const model = readModel('models/lenet5-badnets.onnx');
const defender = matchNormalization(model, await loadDefenderData({ data: a.data, seed: 0 }));
const all = await triggerPairs(model, defender, stamper(parseTrigger('patch:4x4@bottom-right:white'), defender), { source: 'bench', oracle: true });
const set = { ...all, pairs: all.pairs.slice(0, Number(a.pairs)) };

const ours: { layer: string; seconds: number; fixed: number; located: number; evaluations: number; top: [number, number][] }[] = [];
clearSessionCache();
const t0 = performance.now();
for (const layer of lancetLayers(model)) {
  const r = await locateInLayer(model, layer, set);
  ours.push({
    layer: layer.name,
    seconds: r.seconds,
    fixed: r.fixed,
    located: r.weights.length,
    evaluations: r.evaluations,
    top: r.weights.slice(0, 10).map((w) => [w.index, w.count]),
  });
}
const oursTotal = (performance.now() - t0) / 1000;

let torch: { torch: string; seconds: number; layers: typeof ours } | undefined;
if (existsSync(TORCH_PYTHON)) {
  const npz = join(tmpdir(), `scalpel-lancet-bench-${process.pid}.npz`);
  const arrays: Record<string, HostTensor> = {};
  for (const i of floatInitializers(model.graph)) arrays[i.name] = i.tensor!;
  arrays.x = stack(
    set.pairs.map((p) => p.x),
    set.dims,
  );
  arrays.clean = stack(
    set.pairs.map((p) => p.clean),
    set.dims,
  );
  arrays.label = { dtype: 'int64', dims: [set.pairs.length], data: BigInt64Array.from(set.pairs, (p) => BigInt(p.label)) };
  arrays.wrong = { dtype: 'int64', dims: [set.pairs.length], data: BigInt64Array.from(set.pairs, (p) => BigInt(p.wrong)) };
  await writeNpz(npz, arrays);
  try {
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    torch = JSON.parse(execFileSync(TORCH_PYTHON, ['bench/torch_lancet.py', '--npz', npz, '--threads', String(threads)], { env, encoding: 'utf8' }));
  } catch (e) {
    console.error(`PyTorch reference skipped: ${(e as Error).message.split('\n')[0]}`);
  }
}

const same = (l: string) => {
  const t = torch?.layers.find((x) => x.layer === l);
  const o = ours.find((x) => x.layer === l)!;
  if (!t) return '—';
  return o.fixed === t.fixed && o.located === t.located && JSON.stringify(o.top) === JSON.stringify(t.top)
    ? 'yes'
    : `no (${t.fixed} fixed, ${t.located} located)`;
};
const lines = [
  `LeNet-5 BadNets, K = ${set.pairs.length} pairs, ${threads} thread(s), ${cpus()[0]?.model ?? 'unknown CPU'}, ${new Date().toISOString().slice(0, 10)}; PyTorch ${torch?.torch ?? 'not run'}`,
  '',
  '| layer | weights fixed pairs | scalpel | PyTorch | same located weights and counts |',
  '|---|---|---|---|---|',
  ...ours.map(
    (o) =>
      `| ${o.layer} | ${o.fixed}/${set.pairs.length} | ${o.seconds.toFixed(2)} s | ${torch ? `${torch.layers.find((x) => x.layer === o.layer)!.seconds.toFixed(2)} s` : '—'} | ${same(o.layer)} |`,
  ),
  `| all five (\`--layer auto\`) | | **${oursTotal.toFixed(2)} s** | ${torch ? `**${torch.seconds.toFixed(2)} s**` : '—'} | |`,
];
const text = lines.join('\n');
console.log(text);
if (a.json) writeFileSync(a.json, JSON.stringify({ ours, oursTotal, torch }, null, 2));
if (a.write) {
  const md = readFileSync(a.write, 'utf8');
  const start = '<!-- bench:lancet:start -->';
  const end = '<!-- bench:lancet:end -->';
  const block = `${start}\n${text}\n${end}`;
  writeFileSync(a.write, md.includes(start) ? md.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${md.trimEnd()}\n\n${block}\n`);
}
