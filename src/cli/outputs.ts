// A command's outputs, one convention for all: `--json [file]` prints the report as JSON or writes it to a file;
// every file is checked before the work (never an input, never two flags on one file, its directory there), written
// atomically after it, and named on stderr in one `wrote …` line, so that stdout holds only the report.
import { Buffer } from 'node:buffer';
import type { Command } from 'commander';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { samePath } from '../onnx/model-io.js';
import { json as toJson } from '../report/format.js';
import { UsageError, type CommandContext } from './command.js';
import { checkOutputPath } from './output-path.js';

/** The value of `--json [file]`: absent, `true` (print), or a file name. */
export type JsonFlag = boolean | string | undefined;

/**
 * Declare `--json [file]` on a command.
 *
 * @example addJsonOption(cmd) // scalpel eval m.onnx --json | jq .accuracy; scalpel eval m.onnx --json r.json
 */
export function addJsonOption(cmd: Command, what = 'the report'): Command {
  return cmd.option('--json [file]', `print ${what} as JSON, or write it to FILE`);
}

/** The file `--json` writes to, if any. */
export function jsonFile(flag: JsonFlag): string | undefined {
  return typeof flag === 'string' ? flag : undefined;
}

/**
 * Check a command's output files before any work: each one named (not empty), none of `inputs`, its directory there,
 * and no two flags naming one file (a usage error).
 *
 * @param outputs flag → path (undefined when the flag is not given), e.g. { '-o': f.out, '--json': jsonFile(f.json) }
 * @example checkOutputs({ '-o': 'out.onnx', '--html': 'r.html' }, { model: 'in.onnx' });
 */
export function checkOutputs(outputs: Record<string, string | undefined>, inputs: Record<string, string | undefined>): void {
  const given = Object.entries(outputs).filter((e): e is [string, string] => e[1] !== undefined);
  for (const [flag, path] of given) {
    if (path.trim() === '') throw new UsageError(`${flag} needs a file name`);
    checkOutputPath(path, inputs, flag);
  }
  for (let i = 0; i < given.length; i++) {
    for (let j = i + 1; j < given.length; j++) {
      if (samePath(given[i][1], given[j][1])) throw new UsageError(`${given[i][0]} and ${given[j][0]} name the same file (${given[i][1]})`);
    }
  }
}

/** Name the files a command wrote, on stderr, in one line. */
export function reportWritten(ctx: CommandContext, paths: readonly string[]): void {
  if (paths.length === 0) return;
  const list = paths.length === 1 ? paths[0] : `${paths.slice(0, -1).join(', ')} and ${paths.at(-1)}`;
  ctx.io.stderr.write(`wrote ${list}\n`);
}

export interface FinishOptions {
  /** The `--json [file]` flag. */
  json: JsonFlag;
  /** The report as JSON will hold it. */
  report: unknown;
  /** The report as text, for stdout when `--json` does not print. */
  text: () => string;
  /** Files to write atomically now, path → content (an `--html` page, …). */
  files?: Record<string, string | Buffer>;
  /** Files the command already wrote (a model, a delta), named in the `wrote` line first. */
  written?: readonly string[];
}

/**
 * End a command: write its files (atomically), the JSON report to `--json FILE` if given, the report to stdout (JSON
 * with a bare `--json`, else text), and one `wrote …` line on stderr naming every file written.
 *
 * @example await finishCommand(ctx, { json: f.json, report, text: () => evalText(report), files: { [f.html]: page } });
 */
export async function finishCommand(ctx: CommandContext, o: FinishOptions): Promise<void> {
  const written = [...(o.written ?? [])];
  for (const [path, content] of Object.entries(o.files ?? {})) {
    await writeFileAtomic(path, [typeof content === 'string' ? Buffer.from(content) : content]);
    written.push(path);
  }
  const file = jsonFile(o.json);
  if (file) {
    await writeFileAtomic(file, [Buffer.from(toJson(o.report))]);
    written.push(file);
  }
  ctx.io.stdout.write(o.json === true ? toJson(o.report) : o.text());
  reportWritten(ctx, written);
}
