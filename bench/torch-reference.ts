// Client for bench/torch_reference.py: one long-lived Python process answering JSON-line timing requests.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const TORCH_PYTHON = process.env.SCALPEL_TORCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'torch_reference.py');

export interface TorchTiming {
  model: string;
  threads: number;
  batch: number;
  params: number;
  fwd_bwd_ms: number;
  fwd_bwd_min_ms: number;
  fwd_bwd_iters: number;
  fwd_ms: number;
  waitPolicy?: string;
}

export interface TimingBudget {
  warmup: number;
  minIters: number;
  minTimeMs: number;
  maxTimeMs: number;
  /** 'wall' (default) times each call; 'cpu' takes the process's CPU time (all threads) per call, which on a shared
   *  machine measures the work done rather than the load (meaningful as a speed only at 1 thread). */
  clock?: 'wall' | 'cpu';
}

/** The torch version when `python` can import torch, else undefined with the reason. */
export function probeTorch(python = TORCH_PYTHON): { version?: string; reason?: string } {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return { reason: `${python}: ${r.error.message}` };
  if (r.status !== 0) return { reason: `${python} cannot import torch: ${r.stderr.trim().split('\n').pop()}` };
  return { version: r.stdout.trim() };
}

/** A running `torch_reference.py --serve`; `measure` sends one request and awaits its answer. */
export class TorchReference {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ((line: string) => void)[] = [];
  private stderr = '';

  private constructor(
    threads: number,
    python: string,
    readonly waitPolicy: 'default' | 'passive',
  ) {
    const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    delete env.OMP_WAIT_POLICY;
    if (waitPolicy === 'passive') env.OMP_WAIT_POLICY = 'PASSIVE';
    this.proc = spawn(python, [SCRIPT, '--serve'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.lines = createInterface({ input: this.proc.stdout });
    this.lines.on('line', (l) => this.pending.shift()?.(l));
    this.proc.on('exit', () => {
      for (const p of this.pending.splice(0)) p(JSON.stringify({ error: `python exited: ${this.stderr.trim().slice(-500)}` }));
    });
  }

  /**
   * Start the server with OMP_NUM_THREADS set to `threads` and wait until torch is imported. `passive` sets
   * OMP_WAIT_POLICY=PASSIVE: OpenMP workers sleep instead of spinning between parallel regions, the analogue of
   * onnxruntime's allow_spinning=0 (spinning wins on an idle machine and loses badly on a loaded one).
   */
  static async start(threads: number, waitPolicy: 'default' | 'passive' = 'default', python = TORCH_PYTHON): Promise<TorchReference> {
    const ref = new TorchReference(threads, python, waitPolicy);
    const hello = JSON.parse(await ref.next()) as { ready?: boolean; error?: string };
    if (!hello.ready) throw new Error(`torch reference did not start: ${hello.error ?? 'no answer'}`);
    return ref;
  }

  private next(): Promise<string> {
    return new Promise((resolve) => this.pending.push(resolve));
  }

  async measure(model: string, threads: number, batch: number, budget: TimingBudget): Promise<TorchTiming> {
    const answer = this.next();
    this.proc.stdin.write(
      JSON.stringify({
        model,
        threads,
        batch,
        warmup: budget.warmup,
        min_iters: budget.minIters,
        min_time: budget.minTimeMs / 1000,
        max_time: budget.maxTimeMs / 1000,
        clock: budget.clock ?? 'wall',
      }) + '\n',
    );
    const res = JSON.parse(await answer) as TorchTiming & { error?: string };
    if (res.error) throw new Error(res.error);
    return res;
  }

  close(): void {
    this.proc.stdin.end();
    this.lines.close();
  }
}
