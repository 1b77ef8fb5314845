// Trigger reconstruction (Neural Cleanse) on LeNet-5: scalpel against the same procedure in PyTorch, side by side.
// usage: node --import tsx bench/reconstruct.ts [--model models/lenet5-badnets.onnx] [--data fashion-mnist] [--threads 1,2] [--fixed 200] [--no-full]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { anomalyIndex } from '../src/backdoor/anomaly.js';
import { modelNormalization, reconstruct } from '../src/backdoor/neural-cleanse.js';
import { loadDefenderData } from '../src/defence/defender-data.js';
import { writeNpz } from '../src/data/npy.js';
import { floatInitializers } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { configureRuntime } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { matchNormalization } from '../src/tasks/normalization.js';
import { TORCH_PYTHON } from './torch-reference.js';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/lenet5-badnets.onnx' },
    data: { type: 'string', default: 'fashion-mnist' },
    threads: { type: 'string', default: '1,2' },
    fixed: { type: 'string', default: '200' },
    'no-full': { type: 'boolean', default: false },
  },
});
const fixed = Number(a.fixed);
const model = readModel(a.model!);
const defender = matchNormalization(model, await loadDefenderData({ data: a.data }));
const norm = modelNormalization(model, defender) as { mean: number; std: number };
const dir = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'scalpel-bench-nc-'));
const npz = join(dir, 'data.npz');
const pixels = Float32Array.from(defender.x.data as Float32Array, (v) => v * norm.std + norm.mean);
const arrays: Record<string, HostTensor> = {
  pixels: { ...defender.x, data: pixels },
  mean: { dtype: 'float32', dims: [], data: Float32Array.of(norm.mean) },
  std: { dtype: 'float32', dims: [], data: Float32Array.of(norm.std) },
};
for (const i of floatInitializers(model.graph)) arrays[i.name] = i.tensor!;
await writeNpz(npz, arrays);

function torch(threads: number, extra: string[]): { seconds: number; steps: number; labels: { l1: number; steps: number }[] } {
  const r = spawnSync(TORCH_PYTHON, ['bench/torch_reconstruct.py', npz, '--threads', String(threads), ...extra], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) throw new Error(`PyTorch failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

console.log(
  `# ${a.model}, ${defender.x.dims[0]} defender images of ${defender.source}; ${cpus()[0]?.model}, ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}; ${new Date().toISOString()}`,
);
console.log('| threads | scalpel ms/step | PyTorch ms/step | scalpel, all 10 labels | PyTorch, all 10 labels | flagged (scalpel / PyTorch) |');
console.log('|---:|---:|---:|---:|---:|---|');
try {
  for (const threads of a.threads!.split(',').map(Number)) {
    configureRuntime({ threads });
    // One step = forward + input gradient + Adam on batch 64; timed between the first and the last step of a fixed run.
    let t1 = 0;
    let tN = 0;
    const time = (label: number, step: number) => {
      if (step === 1) t1 = performance.now();
      if (step === fixed) tN = performance.now();
    };
    await reconstruct(model, defender, { labels: [0], steps: 20, earlyStopPatience: 1e9 });
    await reconstruct(model, defender, { labels: [0], steps: fixed, earlyStopPatience: 1e9, onProgress: time });
    const ours = (tN - t1) / (fixed - 1);
    const theirs = (torch(threads, ['--fixed-steps', String(fixed)]).seconds * 1000) / fixed;
    let full = ['—', '—', '—'];
    if (!a['no-full']) {
      const r = await reconstruct(model, defender, {});
      const t = torch(threads, []);
      const flaggedTorch = anomalyIndex(t.labels.map((l) => l.l1)).flagged;
      full = [
        `${r.seconds.toFixed(1)} s (${r.labels.reduce((s, l) => s + l.steps, 0)} steps)`,
        `${t.seconds.toFixed(1)} s (${t.steps} steps)`,
        `${r.flagged.join(',') || 'none'} / ${flaggedTorch.join(',') || 'none'}`,
      ];
    }
    console.log(`| ${threads} | ${ours.toFixed(2)} | ${theirs.toFixed(2)} | ${full.join(' | ')} |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
