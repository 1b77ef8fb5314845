// `scalpel diff` on two models of 100M float32 parameters: wall time and peak memory of the whole command, in a
// child process, with the sizes of the two files beside them; also the delta's apply/revert round trip.
// Usage: node --import tsx bench/diff.ts [--params 100e6] [--changed 0.001] [--rounds 3] [--dir /tmp] [--write BENCHMARKS.md]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { writeDelta } from '../src/params/delta-file.js';
import { diffModels } from '../src/params/diff.js';
import { withParams } from '../src/params/with-params.js';
import { Rng } from '../src/tensor/rng.js';
import { writeSection } from './markdown.js';

const { values: args } = parseArgs({
  options: {
    params: { type: 'string', default: '100e6' },
    changed: { type: 'string', default: '0.001' },
    rounds: { type: 'string', default: '3' },
    dir: { type: 'string', default: '/tmp' },
    write: { type: 'string' },
  },
});
const total = Number(args.params);
const share = Number(args.changed);
const rounds = Number(args.rounds);

/** A chain of square MatMuls holding `total` float32 parameters (the weights' values are seeded noise). */
function bigModel(k: number) {
  const side = 4096;
  const layers = Math.max(1, Math.round(k / (side * side)));
  const g = new GraphBuilder();
  const rng = new Rng(1);
  let h = g.input('x', 'float32', ['batch', side]);
  for (let l = 0; l < layers; l++) {
    const w = new Float32Array(side * side);
    for (let i = 0; i < w.length; i++) w[i] = (rng.nextUint32() / 2 ** 32 - 0.5) * 0.02;
    const name = g.param(`layer${l}.weight`, { dtype: 'float32', dims: [side, side], data: w });
    h = g.op('MatMul', [h, name]);
  }
  g.output(h, 'float32', ['batch', side]);
  return makeModel(g.graph);
}

const dir = mkdtempSync(join(args.dir, 'scalpel-diff-bench-'));
try {
  const a = bigModel(total);
  const count = [...a.graph.initializers.values()].reduce((s, i) => s + (i.tensor?.data.length ?? 0), 0);
  const rng = new Rng(2);
  const edited = new Map(
    [...a.graph.initializers.values()].map((i) => {
      const d = (i.tensor!.data as Float32Array).slice();
      const n = Math.round(d.length * share);
      for (let j = 0; j < n; j++) d[rng.nextUint32() % d.length] += 1e-3;
      return [i.name, { ...i.tensor!, data: d }] as const;
    }),
  );
  const pa = join(dir, 'a.onnx');
  const pb = join(dir, 'b.onnx');
  writeModel(a, pa);
  writeModel(withParams(a, edited), pb);
  const bytes = statSync(pa).size + statSync(pb).size;
  const cli = join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
  const time = (argv: string[]) => {
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, '--import', 'tsx', cli, ...argv], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scalpel ${argv.join(' ')} failed: ${r.stderr}`);
    const [secs, kb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
    return { secs, rss: kb * 1024 };
  };
  // Node and tsx start-up, measured the same way, so the diff's own time can be told apart.
  const startup = Math.min(...Array.from({ length: rounds }, () => time(['--version']).secs));
  const plain = Array.from({ length: rounds }, () => time(['diff', pa, pb, '--json']));
  const runs = Array.from({ length: rounds }, () => time(['diff', pa, pb, '--out', join(dir, 'd.safetensors'), '--json']));
  const best = runs.reduce((x, y) => (y.secs < x.secs ? y : x));
  const bestPlain = plain.reduce((x, y) => (y.secs < x.secs ? y : x));
  const rss = Math.max(...runs.map((r) => r.rss));
  // The same work in this process, without start-up: read both, compare, hash, write the delta.
  let inProcess = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const { delta } = diffModels(readModel(pa), readModel(pb));
    await writeDelta(join(dir, 'e.safetensors'), delta);
    inProcess = Math.min(inProcess, (performance.now() - t0) / 1000);
  }
  const apply = time(['apply', pa, join(dir, 'd.safetensors'), '-o', join(dir, 'c.onnx')]);
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  const report = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; load average ${loadavg()[0].toFixed(2)} at the start; ${new Date().toISOString().slice(0, 10)}.`,
    `Command: \`node --import tsx bench/diff.ts --params ${args.params} --changed ${args.changed} --rounds ${rounds}\` (best of ${rounds}; times from /usr/bin/time, peak memory is the process's maximum resident set).`,
    '',
    '| | value |',
    '|---|---:|',
    `| parameters per model (float32) | ${count.toLocaleString('en-US')} |`,
    `| entries changed | ${Math.round(count * share).toLocaleString('en-US')} requested (${(100 * share).toPrecision(2)}%, with repeats) |`,
    `| the two files | ${gib(bytes)} GiB |`,
    `| \`scalpel diff A B --json\`, whole command | ${bestPlain.secs.toFixed(2)} s |`,
    `| \`scalpel diff A B --out delta --json\`, whole command (also hashes A, writes the delta) | ${best.secs.toFixed(2)} s |`,
    `| the same in-process: read both, compare, hash, write the delta | ${inProcess.toFixed(2)} s |`,
    `| of which Node + tsx start-up (\`scalpel --version\`) | ${startup.toFixed(2)} s |`,
    `| peak memory of the diff | ${gib(rss)} GiB (${(rss / bytes).toFixed(2)}× the two files) |`,
    `| \`scalpel apply A delta -o C\`, whole command | ${apply.secs.toFixed(2)} s, ${gib(apply.rss)} GiB peak |`,
  ].join('\n');
  console.log(report);
  if (args.write) writeSection(args.write, 'diff', report);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
