// Gather's gradient alone, at embedding sizes: loss = Σ Gather(table [V, d], ids [B, T]) ⊙ R, differentiated w.r.t. the
// table, in the rule's two forms (scatter, rows), against one dense [V, d] pass returned to JS (the floor of any
// dense gradient). `node --import tsx bench/gather-grad.ts [--clock cpu|wall]`; ms per call, median.
import { parseArgs } from 'node:util';
import { differentiate } from '../src/autodiff/differentiate.js';
import type { GradContext } from '../src/autodiff/grad-context.js';
import { RULES } from '../src/autodiff/rules/index.js';
import { gatherGrad, type GatherGradVariant } from '../src/autodiff/rules/Gather.js';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';
import { timeCpu, timeIt } from './engine.js';

const { values: args } = parseArgs({ options: { clock: { type: 'string', default: 'cpu' } } });
const timer = args.clock === 'wall' ? timeIt : timeCpu;
const budget = { warmup: 3, minIters: 20, minTimeMs: 1000, maxTimeMs: 5000 };
const CASES = [
  [30522, 128, 32, 64, 17],
  [10000, 200, 20, 35, 13],
  [10000, 200, 20, 35, 17],
] as const;

console.log(`| table [V, d] | ids | opset | scatter | rows (the rule) | one [V, d] pass returned |`);
console.log('|---|---|---:|---:|---:|---:|');
for (const [V, d, B, T, opset] of CASES) {
  const rng = createRng(1);
  const b = new GraphBuilder();
  const table = b.input('table', 'float32', [V, d]);
  const ids = b.input('ids', 'int64', [B, T]);
  const r = b.input('r', 'float32', [B, T, d]);
  const loss = b.op('ReduceSum', [b.op('Mul', [b.op('Gather', [table, ids], { axis: 0 }), r])], { keepdims: 0 });
  b.output(loss, 'float32', []);
  const model = makeModel(b.graph, opset);
  const feeds: Record<string, HostTensor> = {
    table: { dtype: 'float32', dims: [V, d], data: Float32Array.from({ length: V * d }, () => rng.normal()) },
    ids: { dtype: 'int64', dims: [B, T], data: BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(V))) },
    r: { dtype: 'float32', dims: [B, T, d], data: Float32Array.from({ length: B * T * d }, () => rng.normal()) },
  };
  const ms: Record<string, number> = {};
  for (const variant of ['scatter', 'rows'] as GatherGradVariant[]) {
    const saved = RULES.Gather;
    RULES.Gather = (g: GradContext) => gatherGrad(g, variant);
    let diff;
    try {
      diff = differentiate(model, { of: loss, wrt: ['table'] });
    } finally {
      RULES.Gather = saved;
    }
    const exe = await compile(diff.model, { threads: 1 });
    const fetch = [diff.gradients.get('table')!];
    ms[variant] = (await timer(() => exe.run(feeds, fetch), budget)).medianMs;
  }
  const fb = new GraphBuilder();
  const y = fb.op('Add', [fb.input('table', 'float32', [V, d]), fb.constant(1)]);
  fb.output(y, 'float32', [V, d]);
  const floorExe = await compile(makeModel(fb.graph, opset), { threads: 1 });
  const floor = (await timer(() => floorExe.run({ table: feeds.table }, [y]), budget)).medianMs;
  console.log(`| [${V}, ${d}] | [${B}, ${T}] | ${opset} | ${ms.scatter.toFixed(2)} | ${ms.rows.toFixed(2)} | ${floor.toFixed(2)} |`);
}
