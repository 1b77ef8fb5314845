// One line describing the machine a bench ran on, and its load average (shared by the bench scripts).
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/** Cores, CPU model and vector extensions, memory. */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? '?';
  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc', { encoding: 'utf8' }).trim();
  } catch {}
  let isa = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const flags = new Set((/^flags\s*:(.*)$/m.exec(info)?.[1] ?? '').trim().split(/\s+/));
    const family = /^cpu family\s*:\s*(\d+)/m.exec(info)?.[1];
    const model = /^model\s*:\s*(\d+)/m.exec(info)?.[1];
    isa = `, family ${family} model ${model}, ${['avx512f', 'avx2', 'fma'].filter((f) => flags.has(f)).join('/')}`;
  } catch {}
  return `${nproc} cores (${cpu}${isa}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB memory`;
}

/** The 1/5/15-minute load averages, e.g. "1.20 0.95 0.80". */
export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Milliseconds with 3 significant-ish digits. */
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}
