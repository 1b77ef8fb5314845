/**
 * Evaluate thousands of different small models in one process, as a library user, a sweep or a service would, and
 * report the process's memory: `inspect` and `eval` of each model through the CLI's `run()` in-process (issue 16:
 * 3,000 models must stay under 2 GB).
 *
 * The models are zoo MLPs and LeNet-5s of random widths, seeds and class counts, a share of them mutated at random
 * (a weight tensor perturbed, an activation swapped, a node's input rewired, an initializer truncated, an output
 * renamed), so that every file is different and some are broken; a broken model must be refused in one line.
 *
 * Usage: node --import tsx scripts/fuzz-many-models.ts [--models N] [--seed S] [--every K] [--clear-every K]
 *   --models N        how many models (default 3000)
 *   --every K         print the RSS every K models (default 250)
 *   --clear-every K   clear the session cache every K models (the workaround, for comparison; default never)
 *   --gc              with --clear-every, also run the garbage collector then (needs node --expose-gc): shows whether
 *                     the memory is held by sessions dropped from the cache but never released
 *   --limit-mb M      stop early once the RSS passes M MB (default 8000), reporting where
 *
 * Prints a table of RSS and heap by models done, then the peak RSS, the exit codes and the wall time; exits 1 when a
 * run printed anything but JSON/tables or one `scalpel: error:` line, or exited other than 0 or 1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../src/cli/main.js';
import { takeRows } from '../src/data/batches.js';
import { loadLabelledData } from '../src/data/load-dataset.js';
import { encodeSafetensors } from '../src/data/safetensors.js';
import { buildModel } from '../src/models/index.js';
import type { Model } from '../src/onnx/ir.js';
import { writeModel } from '../src/onnx/model-io.js';
import { clearSessionCache } from '../src/runtime/session.js';
import { Rng } from '../src/tensor/rng.js';

const { values: flags } = parseArgs({
  options: {
    models: { type: 'string', default: '3000' },
    seed: { type: 'string', default: '0' },
    every: { type: 'string', default: '250' },
    'clear-every': { type: 'string' },
    'limit-mb': { type: 'string', default: '8000' },
    gc: { type: 'boolean', default: false },
  },
});
const total = Number(flags.models);
const every = Number(flags.every);
const clearEvery = flags['clear-every'] !== undefined ? Number(flags['clear-every']) : undefined;
const limit = Number(flags['limit-mb']) * 2 ** 20;
const rng = new Rng(Number(flags.seed));
const tmp = mkdtempSync(join(tmpdir(), 'scalpel-many-models-'));

/** One random small model, mutated with probability 0.3. Returns the model and what was done to it. */
function randomModel(i: number): { model: Model; what: string } {
  const kind = rng.uniform() < 0.7 ? 'mlp' : 'lenet5';
  const width = kind === 'mlp' ? 8 + rng.int(57) : 2 + rng.int(7);
  const model = buildModel(kind, { seed: i, width, classes: 10 });
  let what = `${kind} width ${width}`;
  if (rng.uniform() < 0.3) {
    const inits = [...model.graph.initializers.values()].filter((t) => t.tensor?.dtype === 'float32');
    const nodes = model.graph.nodes;
    switch (rng.int(5)) {
      case 0: {
        const t = inits[rng.int(inits.length)].tensor!.data as Float32Array;
        for (let k = 0; k < t.length; k++) t[k] += 0.1 * rng.normal();
        what += ', weights perturbed';
        break;
      }
      case 1: {
        const act = nodes.filter((n) => n.opType === 'Relu');
        if (act.length) act[rng.int(act.length)].opType = ['Tanh', 'Sigmoid', 'Softplus', 'Abs'][rng.int(4)];
        what += ', activation swapped';
        break;
      }
      case 2: {
        const n = nodes[1 + rng.int(nodes.length - 1)];
        const producers = nodes.filter((m) => m !== n).flatMap((m) => m.outputs);
        n.inputs[0] = producers[rng.int(producers.length)];
        what += ', input rewired (may be invalid)';
        break;
      }
      case 3: {
        const init = inits[rng.int(inits.length)];
        const t = init.tensor!;
        init.tensor = { ...t, data: (t.data as Float32Array).slice(0, Math.max(1, t.data.length - 1 - rng.int(4))) };
        what += ', initializer truncated (invalid)';
        break;
      }
      default:
        model.graph.outputs[0].name = `${model.graph.outputs[0].name}_missing`;
        what += ', output renamed (invalid)';
    }
  }
  return { model, what };
}

/** Run the CLI in-process; the exit code and stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await run(args, { stdout: { write: () => true }, stderr: { write: (s: string) => (stderr += s) }, env: {} });
  return { code, stderr };
}

const test = await loadLabelledData('embedded', 'test');
const rows = Array.from({ length: 64 }, (_, i) => i);
const dataFile = join(tmp, 'data.safetensors');
writeFileSync(dataFile, encodeSafetensors({ x: takeRows(test.x, rows), y: takeRows(test.y, rows) }));

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const codes = new Map<string, number>();
const bad: string[] = [];
let peak = process.memoryUsage().rss;
const t0 = performance.now();
console.log(
  `models | RSS MB | heap MB | external MB | seconds${clearEvery ? ` (session cache cleared every ${clearEvery}${flags.gc ? ', then a GC' : ''})` : ''}`,
);
console.log('--- | --- | --- | --- | ---');
for (let i = 1; i <= total; i++) {
  const { model, what } = randomModel(i);
  const path = join(tmp, `model-${i % 8}.onnx`);
  writeModel(model, path);
  for (const args of [
    ['inspect', path, '--json'],
    ['--threads', '1', 'eval', path, '--data', dataFile, '--normalize', 'none', '--json'],
  ]) {
    const r = await cli(args);
    const key = `${args.includes('eval') ? 'eval' : 'inspect'} exit ${r.code}`;
    codes.set(key, (codes.get(key) ?? 0) + 1);
    const lines = r.stderr.split('\n').filter((l) => l !== '' && !/^scalpel: (note|warning): /.test(l));
    const oneError = r.code === 1 && lines.length === 1 && lines[0].startsWith('scalpel: error: ') && !lines[0].includes('internal error');
    if (!(r.code === 0 && lines.length === 0) && !oneError)
      bad.push(`model ${i} (${what}): ${args[args.indexOf(path) - 1]} exit ${r.code}: ${r.stderr.slice(0, 300)}`);
  }
  if (clearEvery && i % clearEvery === 0) {
    clearSessionCache();
    if (flags.gc) (globalThis as { gc?: () => void }).gc?.();
  }
  const rss = process.memoryUsage().rss;
  peak = Math.max(peak, rss);
  const stop = rss > limit;
  if (i % every === 0 || i === total || stop) {
    const m = process.memoryUsage();
    console.log(`${i} | ${mb(m.rss)} | ${mb(m.heapUsed)} | ${mb(m.external + m.arrayBuffers)} | ${((performance.now() - t0) / 1000).toFixed(0)}`);
  }
  if (stop) {
    console.log(`stopped after ${i} of ${total} models: RSS ${mb(rss)} MB passed --limit-mb ${flags['limit-mb']}`);
    process.exitCode = 1;
    break;
  }
}
rmSync(tmp, { recursive: true, force: true });
const maxRss = process.resourceUsage().maxRSS * 1024;
console.log(`\npeak RSS ${mb(Math.max(peak, maxRss))} MB over ${total} models (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
console.log(`exit codes: ${[...codes].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
if (bad.length) {
  console.log(`${bad.length} runs ended otherwise than exit 0 or one error line:\n${bad.slice(0, 20).join('\n')}`);
  process.exitCode = 1;
}
