// What every command file exports, and what it gets when it runs.
import type { Command } from 'commander';
import type { RuntimeOptions } from '../runtime/session.js';

/** Where a command writes: anything with `write(string)`, such as process.stdout or a test's collector. */
export interface Writer {
  write(chunk: string): unknown;
  /** True for a terminal: progress is drawn as bars then, and as a line every half minute otherwise. */
  isTTY?: boolean;
}

export interface CliIO {
  stdout: Writer;
  stderr: Writer;
  /** Environment variables (default process.env); SCALPEL_DEBUG=1 prints stack traces. */
  env?: Record<string, string | undefined>;
}

export interface CommandContext {
  io: CliIO;
  /** Execution provider and threads from the global options; pass it to the library call. */
  runtime: RuntimeOptions;
  /** The whole command line (without `node` and the script), for records such as a model's training command. */
  argv: readonly string[];
}

/**
 * One command: its help, its flags, and its action. `main.ts` lists every command in one table.
 *
 * @example
 * export const hello: CommandSpec = {
 *   name: 'hello', summary: 'Say hello', description: 'Says hello.', examples: [['scalpel hello', 'says hello']],
 *   configure: (cmd) => cmd.argument('<who>'),
 *   run: async (ctx, [who]) => { ctx.io.stdout.write(`hello ${who}\n`); return 0; },
 * };
 */
export interface CommandSpec {
  name: string;
  /** One line for the command list of `scalpel --help`. */
  summary: string;
  /** The description at the top of `scalpel NAME --help`. */
  description: string;
  /** Example command lines, each with what it does. */
  examples: [command: string, what: string][];
  /** Declare the command's arguments and options. */
  configure(cmd: Command): void;
  /** Do the work; returns the exit code. User errors are thrown as Errors (main prints them). */
  run(ctx: CommandContext, args: string[], opts: Record<string, unknown>): Promise<number>;
}

/** Thrown by a command for a usage problem found after parsing (conflicting flags, …): exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
