// Why the ResNet-20 training step cannot reach PyTorch's speed while parameters are fed as graph inputs: times the
// training-mode forward pass alone (loss and BatchNorm statistics, no backward), with every parameter fed as an
// input (how scalpel trains) and with the parameters as initializers (which onnxruntime pre-packs and runs with
// its NCHWc Conv kernels). A backward pass costs at least about twice its forward (dX and dW each repeat the
// forward's convolution arithmetic), so three times the fed forward bounds a step from below.
// The fed forward is timed as compile() runs it on the CPU (Convs with fed filters on onnxruntime's NCHWc kernels,
// src/runtime/nchwc.ts) and with RuntimeOptions.portable (standard ops), interleaved with the baked one over rounds.
// Run: node --import tsx bench/forward-bound.ts [--threads 1] [--batches 64,128] [--reps 15] [--rounds 3] [--modes train,eval]
import { parseArgs } from 'node:util';
import { buildModel } from '../src/models/index.js';
import { floatInitializers } from '../src/onnx/ir.js';
import { promoteToInputs } from '../src/onnx/params-as-inputs.js';
import { compile, configureRuntime, type Executable } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { withLoss } from '../src/train/losses.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    batches: { type: 'string', default: '64,128' },
    reps: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'train' },
  },
});
const threads = Number(args.threads);
const reps = Number(args.reps);
const rounds = Math.max(1, Number(args.rounds));
configureRuntime({ threads });

async function minMs(exe: Executable, feeds: Record<string, HostTensor>, outputs: string[]): Promise<number> {
  for (let i = 0; i < 3; i++) await exe.run(feeds, outputs);
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await exe.run(feeds, outputs);
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

console.log(
  `| mode | batch | threads | fed forward (NCHWc pass), min ms | 3 × fed forward | fed forward, portable | forward with initializers, min ms | 3 × that | fed / initializers |`,
);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const mode of args.modes.split(',') as ('train' | 'eval')[]) {
  for (const batch of args.batches.split(',').map(Number)) {
    const { model: lossModel, loss, target } = withLoss(buildModel('resnet20', { mode, seed: 1 }), { kind: 'cross-entropy' });
    const { model: fed, values } = promoteToInputs(
      lossModel,
      floatInitializers(lossModel.graph).map((i) => i.name),
    );
    const outputs = [loss, ...lossModel.graph.outputs.map((o) => o.name).filter((n) => n.endsWith(':new'))];
    const input = fed.graph.inputs.find((v) => !values.has(v.name) && v.name !== target)!.name;
    const data: Record<string, HostTensor> = {
      [input]: { dtype: 'float32', dims: [batch, 1, 28, 28], data: Float32Array.from({ length: batch * 784 }, (_, i) => Math.sin(i)) },
      [target]: { dtype: 'int64', dims: [batch], data: BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 10)) },
    };
    const fedFeeds = { ...data, ...Object.fromEntries(values) };
    const fast = await compile(fed);
    const portable = await compile(fed, { portable: true });
    const baked = await compile(lossModel);
    let [fedMs, portableMs, constMs] = [Infinity, Infinity, Infinity];
    for (let r = 0; r < rounds; r++) {
      fedMs = Math.min(fedMs, await minMs(fast, fedFeeds, outputs));
      portableMs = Math.min(portableMs, await minMs(portable, fedFeeds, outputs));
      constMs = Math.min(constMs, await minMs(baked, data, outputs));
    }
    console.log(
      `| ${mode} | ${batch} | ${threads} | ${fedMs.toFixed(1)} | ${(3 * fedMs).toFixed(1)} | ${portableMs.toFixed(1)} | ${constMs.toFixed(1)} | ${(3 * constMs).toFixed(1)} | ${(fedMs / constMs).toFixed(2)}× |`,
    );
  }
}
