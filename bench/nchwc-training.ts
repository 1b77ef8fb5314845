// Which Convs of a fwd+bwd graph to lower to NCHWc: all, none, forward only, backward only; CPU time per step at
// 1 thread (robust on a shared machine). `node --import tsx bench/nchwc-training.ts [lenet,resnet]`
import { join } from 'node:path';
import { readModel } from '../src/onnx/model-io.js';
import { lowerToNchwc } from '../src/runtime/nchwc.js';
import { compile, nchwcBlockSize } from '../src/runtime/session.js';
import { FIXTURES, randomBatch, readMeta, timeCpu, trainingGraph, wrtNames } from './engine.js';
const B = await nchwcBlockSize();
for (const m of (process.argv[2] ?? 'lenet,resnet').split(',')) {
  const meta = readMeta(m);
  const model = readModel(join(FIXTURES, `${m}.onnx`));
  const tg = trainingGraph(model, wrtNames(model, meta, 'params'));
  const fwdNames = new Set(model.graph.nodes.map((n) => n.name));
  const { x, y } = randomBatch(meta, 64);
  const feeds = { ...Object.fromEntries(tg.values), x, y };
  const fetch = [tg.loss, ...tg.gradients.values()];
  const variants: [string, Parameters<typeof lowerToNchwc>[2] | null][] = [
    ['all convs', {}],
    ['none', null],
    ['forward convs only', { convFilter: (n) => fwdNames.has(n.name) }],
    ['backward convs only', { convFilter: (n) => !fwdNames.has(n.name) }],
  ];
  const cells = [];
  for (const [name, o] of variants) {
    const low = o ? lowerToNchwc(tg.model, B, o) : { model: tg.model, convs: 0, reorders: 0 };
    cells.push({ name: `${name} (${low.convs} convs, ${low.reorders} reorders)`, exe: await compile(low.model, { threads: 1, portable: true }) });
  }
  const best: Record<string, number> = {};
  for (let r = 0; r < 4; r++)
    for (const c of cells)
      best[c.name] = Math.min(
        best[c.name] ?? Infinity,
        (await timeCpu(() => c.exe.run(feeds, fetch), { warmup: 3, minIters: 20, minTimeMs: 300, maxTimeMs: 3000 })).medianMs,
      );
  console.log(m, best);
}
