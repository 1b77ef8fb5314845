// Benchmark entry: `npm run bench -- [--suite engine] [--threads 1,2] [--batch 64] [--json FILE] [--write BENCHMARKS.md]`.
import { writeSection } from './markdown.js';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { benchModel, MODELS, profileTraining, type EngineRow, type WrtMode } from './engine.js';
import { bySource, type Profile } from './profile.js';
import { loadAverage, machine } from './machine.js';
import { probeTorch, TORCH_PYTHON, TorchReference, type TimingBudget } from './torch-reference.js';

const USAGE = `usage: npm run bench -- [options]
  --suite engine        suite to run: 'engine' (this runner), 'corruption' (bench/corruption.ts), 'diff' (bench/diff.ts) or 'training'
                        (bench/training.ts); the other suites' flags are passed on
  --threads 1,2         intra-op threads, one table per value (torch gets the same)
  --batch 64            batch size
  --models a,b          subset of ${MODELS.join(',')}
  --wrt params|all      differentiate w.r.t. PyTorch's parameters (default) or every float initializer
  --no-torch            skip the PyTorch reference
  --no-portable         skip the cells compiled with RuntimeOptions.portable (standard ops, no NCHWc lowering)
  --profile             add an onnxruntime op profile of each fwd+bwd graph (first thread count)
  --quick               short timing budget (smoke test)
  --rounds 3            interleaved measuring rounds per cell; the best round's median counts
  --clock wall|cpu      wall time per call (default), or the process's CPU time per call (scalpel's and PyTorch's
                        alike): on a shared machine the work done rather than the load; a speed only at 1 thread
  --json FILE           write the raw results as JSON
  --write FILE          replace the generated section of FILE (e.g. BENCHMARKS.md) with the tables
  --section NAME        the section --write replaces (default engine: between <!-- bench:engine:start/end -->)`;

// Other suites are scripts of their own, run in a child process with the remaining flags.
const SUITES: Record<string, string> = { corruption: 'corruption.ts', training: 'training.ts', diff: 'diff.ts' };
{
  const argv = process.argv.slice(2);
  const at = argv.findIndex((a) => a === '--suite' || a.startsWith('--suite='));
  const suite = at < 0 ? 'engine' : argv[at].includes('=') ? argv[at].slice('--suite='.length) : argv[at + 1];
  if (suite in SUITES) {
    const rest = argv.filter((_, i) => i !== at && !(i === at + 1 && !argv[at].includes('=')));
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(dirname(fileURLToPath(import.meta.url)), SUITES[suite]), ...rest], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
}

const { values: args } = parseArgs({
  options: {
    suite: { type: 'string', default: 'engine' },
    threads: { type: 'string', default: '1,2' },
    batch: { type: 'string', default: '64' },
    models: { type: 'string', default: MODELS.join(',') },
    wrt: { type: 'string', default: 'params' },
    'no-torch': { type: 'boolean', default: false },
    'no-portable': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    clock: { type: 'string', default: 'wall' },
    json: { type: 'string' },
    write: { type: 'string' },
    section: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (args.suite !== 'engine') throw new Error(`unknown suite '${args.suite}' (known: engine, ${Object.keys(SUITES).join(', ')})\n${USAGE}`);
const threadList = args.threads.split(',').map(Number);
const batch = Number(args.batch);
const models = args.models.split(',').filter(Boolean);
const wrt = args.wrt as WrtMode;
const rounds = Math.max(1, Number(args.rounds));
if (args.clock !== 'wall' && args.clock !== 'cpu') throw new Error(`--clock must be wall or cpu, got '${args.clock}'`);
const clock = args.clock as 'wall' | 'cpu';
const budget: TimingBudget = args.quick
  ? { warmup: 3, minIters: 10, minTimeMs: 200, maxTimeMs: 2000, clock }
  : { warmup: 10, minIters: 50, minTimeMs: 1000, maxTimeMs: 10000, clock };

const log = (s: string) => process.stderr.write(`${s}\n`);

function ortVersion(): string {
  try {
    const req = createRequire(import.meta.url);
    return (req('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return '?';
  }
}

const la = loadAverage;
const loadStart = la();
const started = new Date();

const torchProbe = args['no-torch'] ? { reason: '--no-torch' } : probeTorch();
if (!torchProbe.version) log(`PyTorch reference skipped: ${torchProbe.reason}`);

const rows: EngineRow[] = [];
for (const threads of threadList) {
  // With more than one thread PyTorch runs twice, OpenMP workers spinning (default) and sleeping (passive), and the
  // faster counts: its best case, whatever the load from elsewhere does to spinning.
  const torch = torchProbe.version
    ? await Promise.all((threads > 1 ? (['default', 'passive'] as const) : (['default'] as const)).map((p) => TorchReference.start(threads, p)))
    : undefined;
  for (const m of models) {
    log(`${m}: ${threads} thread(s), batch ${batch} ...`);
    const row = await benchModel(m, { threads, batch, budget, rounds, wrt, torch, portable: !args['no-portable'] });
    rows.push(row);
    log(
      `  ort ${fmt(row.ortFwdMs)}  promoted ${fmt(row.promotedFwdMs)}  fwd+bwd ${row.error ?? fmt(row.fwdBwdMs)}  torch ${row.torchError ?? fmt(row.torch?.fwdBwdMs)}`,
    );
  }
  for (const t of torch ?? []) t.close();
}

const profiles: { model: string; threads: number; profile?: Profile; error?: string }[] = [];
if (args.profile) {
  const threads = threadList[0];
  for (const m of models) {
    if (rows.find((r) => r.model === m)?.error) continue;
    log(`profiling ${m} (${threads} thread(s)) ...`);
    try {
      profiles.push({ model: m, threads, profile: await profileTraining(m, { threads, batch, wrt }) });
    } catch (e) {
      profiles.push({ model: m, threads, error: (e as Error).message.split('\n')[0] });
    }
  }
}
const loadEnd = la();

function fmt(ms: number | undefined): string {
  if (ms === undefined) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

function ratio(v: number | undefined, ok: (r: number) => boolean): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return `${v.toFixed(2)} ${ok(v) ? '✓' : '✗'}`;
}

function table(threads: number): string {
  const out = [
    `| model | params | ORT fwd | fwd, params as inputs | fwd params as inputs / ORT fwd (target ≤ 1.15) | **fwd+bwd** | PyTorch fwd | PyTorch fwd+bwd | fwd+bwd / ORT fwd (target ≤ 4) | fwd+bwd / fwd with params as inputs | PyTorch / scalpel fwd+bwd (target > 1) | fwd, portable | fwd+bwd, portable | grad rel. err vs torch |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  for (const r of rows.filter((x) => x.threads === threads)) {
    const fb = r.error ? `${r.error.replace(/\|/g, '/')}` : `**${fmt(r.fwdBwdMs)}**`;
    const tfb = r.torch?.fwdBwdMs;
    out.push(
      `| ${r.model} | ${r.params} | ${fmt(r.ortFwdMs)} | ${fmt(r.promotedFwdMs)} | ${ratio(r.promotedFwdMs && r.ortFwdMs ? r.promotedFwdMs / r.ortFwdMs : undefined, (x) => x <= 1.15)} | ${fb} | ${fmt(r.torch?.fwdMs)} | ${r.torchError ? 'error' : fmt(tfb)} | ` +
        `${ratio(r.fwdBwdMs && r.ortFwdMs ? r.fwdBwdMs / r.ortFwdMs : undefined, (x) => x <= 4)} | ` +
        `${r.fwdBwdMs && r.promotedFwdMs ? (r.fwdBwdMs / r.promotedFwdMs).toFixed(2) : '–'} | ` +
        `${ratio(tfb && r.fwdBwdMs ? tfb / r.fwdBwdMs : undefined, (x) => x > 1)} | ${fmt(r.portableFwdMs)} | ${fmt(r.portableFwdBwdMs)} | ${r.gradRelErr === undefined ? '–' : r.gradRelErr.toExponential(1)} |`,
    );
  }
  return out.join('\n');
}

function profileSection(): string {
  if (profiles.length === 0) return '';
  const out = [`### Where the fwd+bwd time goes (onnxruntime profiler, ${profiles[0].threads} thread(s), batch ${batch})`, ''];
  out.push(
    'Kernel time per run, summed by origin: `fwd Op` = forward nodes, `bwd Op` = nodes emitted by the gradient rule of `Op`, ' +
      "`acc` = the differentiator's own nodes (gradient accumulation Sums, seed, output Identities), `ort` = nodes onnxruntime's optimiser inserted (NCHWc layout reorders), `nchwc` = layout reorders and filter re-layouts added by scalpel's NCHWc pass (src/runtime/nchwc.ts; a lowered Conv keeps its origin). " +
      'The profiler adds a little time to every kernel, so graphs of many tiny nodes (GRU, LSTM) show more kernel time than their unprofiled wall time; read the shares, not the sums.',
    '',
  );
  for (const p of profiles) {
    if (!p.profile) {
      out.push(`- ${p.model}: profiling failed: ${p.error}`);
      continue;
    }
    const pr = p.profile;
    const src = bySource(pr)
      .slice(0, 8)
      .map((s) => `${s.label} ${fmt(s.ms)} (${((100 * s.ms) / pr.totalMs).toFixed(0)}%)`);
    const kern = pr.entries.slice(0, 6).map((e) => `${e.phase} ${e.source}→${e.kernel} ×${e.calls.toFixed(0)} ${fmt(e.msPerRun)}`);
    const row = rows.find((r) => r.model === p.model && r.threads === p.threads);
    const of = `${row?.fwdBwdMs ? ` of ${fmt(row.fwdBwdMs)} ms wall unprofiled` : ''}${row?.nodes ? `; ${row.nodes.fwd} → ${row.nodes.fwdBwd} nodes` : ''}`;
    out.push(`- **${p.model}** (${fmt(pr.totalMs)} ms kernel time${of}): ${src.join(', ')}.  `, `  top kernels: ${kern.join('; ')}.`);
  }
  return out.join('\n');
}

const cmd = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
const report = [
  `<!-- generated by \`${cmd}\`; edit the text around this section, not inside it -->`,
  `Generated ${started.toISOString().replace(/\.\d+Z$/, 'Z')} by \`${cmd}\`.`,
  '',
  `- machine: ${machine()}; Node ${process.version}; onnxruntime-node ${ortVersion()}; ` +
    (torchProbe.version ? `PyTorch ${torchProbe.version} (${TORCH_PYTHON})` : `PyTorch reference skipped (${torchProbe.reason})`),
  `- load average (1/5/15 min) at start ${loadStart}, at end ${loadEnd}`,
  `- ${clock === 'cpu' ? "**CPU** ms (the process's user + system time, all threads, per call; scalpel's and PyTorch's alike)" : 'ms'} per batch of ${batch}: ${rounds} interleaved rounds per cell (scalpel's cells, then PyTorch's, round after round), ` +
    `each ${budget.warmup} warm-up runs then ≥ ${Math.ceil(budget.minIters / rounds)} timed runs and ≥ ${(budget.minTimeMs / rounds / 1000).toFixed(2)} s; ` +
    `the table shows the best round's median. fwd and fwd+bwd run as compile() runs them on the CPU (Convs with fed filters lowered to onnxruntime's NCHWc kernels, src/runtime/nchwc.ts); the \"portable\" columns are the same graphs with RuntimeOptions.portable (standard ops only), timed in the same rounds. PyTorch with more than one thread is run with OpenMP's default (spinning) and passive wait policy and the faster counts; ` +
    `fwd+bwd differentiates w.r.t. ${wrt === 'params' ? "PyTorch's trainable parameters (BatchNorm running statistics are fed but not differentiated)" : 'every float initializer'}`,
  '',
  ...threadList.flatMap((t) => [`### ${t} thread${t > 1 ? 's' : ''}, batch ${batch}`, '', table(t), '']),
  profileSection(),
].join('\n');

console.log(report);
if (args.json) writeFileSync(args.json, JSON.stringify({ started, cmd, loadStart, loadEnd, batch, rows, profiles }, null, 2));
if (args.write) {
  writeSection(args.write, args.section ?? 'engine', report);
  log(`wrote ${args.write}`);
}
