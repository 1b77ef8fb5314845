// Memory of one process that opens many different models (a sweep, a service): compile() + one run per model,
// peak resident set size with the bounded session cache.
// `node --import tsx bench/session-cache.ts [--models 3000] [--max-sessions 32] [--hidden 128]`
// (--max-sessions 0 = unbounded, the behaviour before the cache was bounded).
import { parseArgs } from 'node:util';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import type { Model } from '../src/onnx/ir.js';
import { compile, configureSessionCache, sessionCacheStats } from '../src/runtime/session.js';
import { tensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';
import { loadAverage, machine } from './machine.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: '3000' },
    'max-sessions': { type: 'string', default: '' },
    hidden: { type: 'string', default: '128' },
  },
});
const n = Number(args.models);
const maxSessions = args['max-sessions'] === '' ? undefined : Number(args['max-sessions']) || Infinity;
if (maxSessions !== undefined) configureSessionCache({ maxSessions });
const limits = configureSessionCache();

// A 784 → h → 10 MLP (Gemm, Relu, Gemm) with h and the weights different for every model.
function mlp(i: number, hiddenMax: number): Model {
  const rng = new Rng(i + 1);
  const h = 16 + (i % (hiddenMax - 15));
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['batch', 784]);
  const w1 = b.param(
    'fc1.weight',
    tensor(
      'float32',
      [h, 784],
      Float32Array.from({ length: h * 784 }, () => rng.normal() * 0.05),
    ),
  );
  const b1 = b.param('fc1.bias', tensor('float32', [h], new Float32Array(h)));
  const w2 = b.param(
    'fc2.weight',
    tensor(
      'float32',
      [10, h],
      Float32Array.from({ length: 10 * h }, () => rng.normal() * 0.05),
    ),
  );
  const b2 = b.param('fc2.bias', tensor('float32', [10], new Float32Array(10)));
  const hid = b.op('Relu', [b.op('Gemm', [x, w1, b1], { transB: 1 })]);
  b.graph.outputs.push({ name: b.op('Gemm', [hid, w2, b2], { transB: 1 }) });
  return makeModel(b.graph);
}

const x = tensor('float32', [32, 784], new Float32Array(32 * 784).fill(0.1));
let peak = 0;
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const exe = await compile(mlp(i, Number(args.hidden)), { threads: 1 });
  await exe.run({ x });
  if (i % 25 === 24) global.gc?.();
  peak = Math.max(peak, process.memoryUsage().rss);
  if ((i + 1) % 500 === 0)
    process.stderr.write(`${i + 1} models: rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB, cache ${JSON.stringify(sessionCacheStats())}\n`);
}
console.log(
  JSON.stringify({
    machine: machine(),
    load: loadAverage(),
    models: n,
    limits: { maxSessions: limits.maxSessions, maxBytes: limits.maxBytes },
    peakRssMiB: Math.round(peak / 2 ** 20),
    endRssMiB: Math.round(process.memoryUsage().rss / 2 ** 20),
    seconds: ((performance.now() - t0) / 1000).toFixed(1),
    cache: sessionCacheStats(),
  }),
);
