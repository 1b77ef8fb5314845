// Progress bars on stderr, drawn only when stderr is a terminal.
import cliProgress from 'cli-progress';
import type { CliIO } from './command.js';

export interface Progress {
  /** Report `done` of `total` for `label`, with an optional status (loss, speed); a new label starts a new bar. */
  update(label: string, done: number, total: number, status?: string): void;
  /** Finish the current bar. */
  stop(): void;
}

/**
 * A progress reporter writing to `io.stderr`; a no-op unless stderr is a terminal.
 *
 * @example const p = progress(io); p.update('forward', 3, 20); p.stop();
 */
export function progress(io: CliIO): Progress {
  const stream = io.stderr as NodeJS.WriteStream;
  if (!stream.isTTY || typeof stream.cursorTo !== 'function') return { update() {}, stop() {} };
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
