// Progress on stderr: bars on a terminal, a plain line every half minute in a log.
import cliProgress from 'cli-progress';
import type { CliIO } from './command.js';

export interface Progress {
  /** Report `done` of `total` for `label`, with an optional status (loss, speed); a new label starts a new bar. */
  update(label: string, done: number, total: number, status?: string): void;
  /** Finish the current bar. */
  stop(): void;
}

/** Seconds between progress lines when stderr is not a terminal (a log file, CI). */
const LOG_INTERVAL_S = 30;

/**
 * A progress reporter writing to `io.stderr`: a bar on a terminal; elsewhere (redirected to a file, CI) one
 * line every half minute of the same work, so short commands print nothing and long ones show they are alive.
 *
 * @example const p = progress(io); p.update('forward', 3, 20); p.stop();
 */
export function progress(io: CliIO): Progress {
  const stream = io.stderr as NodeJS.WriteStream;
  if (!stream.isTTY || typeof stream.cursorTo !== 'function') return logLines(io);
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(label, done, total, status = '') {
      if (label !== current || !bar) {
        stop();
        current = label;
        bar = new cliProgress.SingleBar(
          { stream, format: `${label.padEnd(18)} {bar} {value}/{total} {status}`, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { status });
      }
      bar.update(done, { status });
      if (done >= total) stop();
    },
    stop,
  };
}

function logLines(io: CliIO): Progress {
  let current = '';
  let started = 0;
  let last = 0;
  return {
    update(label, done, total, status = '') {
      const now = Date.now();
      if (label !== current) {
        current = label;
        started = last = now;
        return;
      }
      if (now - last < LOG_INTERVAL_S * 1000 || done >= total) return;
      last = now;
      const elapsed = (now - started) / 1000;
      const eta = done > 0 ? (elapsed * (total - done)) / done : NaN;
      io.stderr.write(
        `${label}: ${done}/${total}${status ? ` ${status}` : ''} (${Math.round(elapsed)} s${Number.isFinite(eta) ? `, about ${Math.round(eta)} s left` : ''})\n`,
      );
    },
    stop() {
      current = '';
    },
  };
}
