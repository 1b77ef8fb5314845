// The --delta FILE flag of every editing command: check the path before the work, write the change after it.
import type { Command } from 'commander';
import { checkOutputPath } from '../analysis/load.js';
import type { Model } from '../onnx/ir.js';
import { samePath } from '../onnx/model-io.js';
import { changedCount, deltaBetween } from '../params/delta.js';
import { writeDelta } from '../params/delta-file.js';
import { UsageError, type CommandContext } from './command.js';

/** Declare `--delta <file>` on an editing command. */
export function addDeltaOption(cmd: Command): Command {
  return cmd.option('--delta <file>', 'also write exactly what changed, as a delta file (see scalpel help apply)');
}

/** Refuse, before any work, a --delta path that is an input or the output model, or in a missing directory. */
export function checkDeltaPath(delta: string, out: string, inputs: Record<string, string | undefined>): void {
  if (samePath(delta, out)) throw new UsageError(`--delta and -o name the same file (${delta})`);
  checkOutputPath(delta, inputs, '--delta');
}

/** Write the delta turning `before` into `after`, recording the command; returns the number of changed entries. */
export async function writeEditDelta(ctx: CommandContext, path: string, before: Model, after: Model): Promise<number> {
  const delta = deltaBetween(before, after);
  await writeDelta(path, delta, { command: ['scalpel', ...ctx.argv].join(' ') });
  return changedCount(delta);
}
