// onnxruntime's ReorderOutput (NCHWc → NCHW) against the same rearrangement in standard ops (Reshape to the blocked
// layout [N, C/B, H, W, B], Transpose to [N, C/B, B, H, W], Reshape to [N, C, H, W]); CPU time per run at 1 thread.
// `node --import tsx bench/reorder-output.ts`
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { NCHWC_DOMAIN } from '../src/runtime/nchwc.js';
import { compile, nchwcBlockSize } from '../src/runtime/session.js';
import { timeCpu } from './engine.js';

const B = await nchwcBlockSize();
for (const [N, C, H, W] of [
  [64, 8, 16, 16],
  [64, 16, 16, 16],
  [64, 16, 8, 8],
  [64, 32, 28, 28],
  [128, 16, 32, 32],
]) {
  const make = (std: boolean) => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [N, C, H, W]);
    const blocked = b.opN('ReorderInput', [x], 1, {}, 'blocked', NCHWC_DOMAIN)[0];
    let y: string;
    if (std) {
      const Cp = Math.ceil(C / B) * B;
      const split = b.op('Reshape', [blocked, b.ints([N, Cp / B, H, W, B])]);
      y = b.op('Reshape', [b.op('Transpose', [split], { perm: [0, 1, 4, 2, 3] }), b.ints([N, Cp, H, W])]);
      if (Cp !== C) y = b.op('Slice', [y, b.ints([0]), b.ints([C]), b.ints([1])]);
    } else y = b.opN('ReorderOutput', [blocked], 1, { channels: C }, 'out', NCHWC_DOMAIN)[0];
    b.output(y);
    const m = makeModel(b.graph, 17);
    m.opsetImports.push({ domain: NCHWC_DOMAIN, version: 1 });
    return m;
  };
  const only = (std: boolean) => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [N, C, H, W]);
    b.output(b.opN('ReorderInput', [x], 1, {}, 'blocked', NCHWC_DOMAIN)[0]);
    const m = makeModel(b.graph, 17);
    m.opsetImports.push({ domain: NCHWC_DOMAIN, version: 1 });
    return std ? m : m;
  };
  const x = { dtype: 'float32' as const, dims: [N, C, H, W], data: Float32Array.from({ length: N * C * H * W }, (_, i) => i % 97) };
  const a = await compile(make(false), { threads: 1, portable: true });
  const s = await compile(make(true), { threads: 1, portable: true });
  const base = await compile(only(false), { threads: 1, portable: true });
  const ya = (await a.run({ x }))[a.outputNames[0]].data;
  const ys = (await s.run({ x }))[s.outputNames[0]].data;
  const same = ya.length === ys.length && ya.every((v, i) => v === ys[i]);
  const best = { reorderOutput: Infinity, transpose: Infinity, reorderInputOnly: Infinity };
  for (let r = 0; r < 5; r++) {
    const bud = { warmup: 3, minIters: 30, minTimeMs: 200, maxTimeMs: 2000 };
    best.reorderOutput = Math.min(best.reorderOutput, (await timeCpu(() => a.run({ x }), bud)).medianMs);
    best.transpose = Math.min(best.transpose, (await timeCpu(() => s.run({ x }), bud)).medianMs);
    best.reorderInputOnly = Math.min(best.reorderInputOnly, (await timeCpu(() => base.run({ x }), bud)).medianMs);
  }
  console.log(
    `[${N},${C},${H},${W}] block ${B}: same result ${same}; CPU ms ReorderInput+ReorderOutput ${best.reorderOutput.toFixed(3)}, ReorderInput+Reshape/Transpose/Reshape ${best.transpose.toFixed(3)}, ReorderInput alone ${best.reorderInputOnly.toFixed(3)}`,
  );
}
