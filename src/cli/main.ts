// The scalpel command line: parse flags, call the library, print a report. Never calls process.exit.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { configureRuntime, type RuntimeOptions } from '../runtime/session.js';
import { type CliIO, type CommandSpec, UsageError } from './command.js';
import { applyCommand } from './commands/apply.js';
import { benchCommand } from './commands/bench.js';
import { demoCommand } from './commands/demo.js';
import { diffCommand } from './commands/diff.js';
import { evalCommand } from './commands/eval.js';
import { gradCommand } from './commands/grad.js';
import { hardenCommand } from './commands/harden.js';
import { injectCommand } from './commands/inject.js';
import { inspectCommand } from './commands/inspect.js';
import { paramsCommand } from './commands/params.js';
import { probeCommand } from './commands/probe.js';
import { reconstructCommand } from './commands/reconstruct.js';
import { repairCommand } from './commands/repair.js';
import { trainCommand } from './commands/train.js';
import { locateCommand } from './commands/locate.js';
import { integer } from './options.js';
import { checkProvider } from './provider-check.js';
import { HELP_TOPICS } from './help-topics.js';

export { type CliIO, type CommandContext, type CommandSpec, UsageError, type Writer } from './command.js';

/** Every command, in the order `scalpel --help` lists them. Add new commands here. */
export const COMMANDS: readonly CommandSpec[] = [
  demoCommand,
  inspectCommand,
  paramsCommand,
  gradCommand,
  benchCommand,
  trainCommand,
  evalCommand,
  probeCommand,
  hardenCommand,
  injectCommand,
  reconstructCommand,
  locateCommand,
  repairCommand,
  diffCommand,
  applyCommand,
];

const DESCRIPTION = `Open up trained neural networks at the level of single parameters.

scalpel reads ONNX models (as exported by PyTorch, Keras/tf2onnx or Hugging Face
optimum), differentiates them itself into standard ONNX graphs, and runs them on
onnxruntime, with no Python: gradients and training; worst-case parameter
corruption and hardening (probe, harden); surgery that teaches a pattern by
changing a few parameters (inject); backdoor defences (reconstruct, repair) and
AI-Lancet (locate, repair --method flip); and every edit saved, audited and
undone as a sparse delta (diff, apply).`;

const FOOTER = `
Data files:
  Batches are safetensors or NumPy .npz files with one tensor per model input, named
  after the input, plus the labels: an int64 tensor \`y\` of class indices (or a float
  target tensor for --loss mse|kl). Extra tensors are ignored; NaN or infinite values
  are an error.

Examples:
  # what a model holds, and whether scalpel can differentiate it
  $ scalpel inspect model.onnx

  # the gradient of the cross-entropy loss on a batch, for every parameter
  $ scalpel grad model.onnx --data batch.safetensors --out grads.safetensors

  # time forward and backward on one thread
  $ scalpel --threads 1 bench model.onnx --data batch.safetensors

  # a command's options and examples
  $ scalpel help grad

Help topics:
  scalpel help triggers   the trigger language (patches, blends, trigger files)
  scalpel help params     the parameter selection language

Environment:
  SCALPEL_DEBUG=1  print the stack trace of an error

Output:
  Reports go to stdout; --json prints them as JSON, --json FILE writes the JSON to FILE.
  Every file a command writes is named on stderr (wrote …), written atomically, and
  never over one of its inputs.

Exit status:
  0 on success; 1 on bad input (a missing or unreadable file, a file's content, a value
  out of range for the model or the data, an unsupported op); 2 on a usage error (an
  unknown option, a missing argument, a flag value that does not parse, conflicting flags).
`;

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Commander's usage messages, as one `scalpel: error: …` line with a pointer to the help. */
function usageError(command: string) {
  return (str: string, write: (s: string) => void) => {
    write(`scalpel: error: ${oneLine(str.replace(/^error:\s*/, ''))} (see '${command} --help')\n`);
  };
}

function examples(spec: CommandSpec): string {
  return `\nExamples:\n${spec.examples.map(([c, what]) => `  # ${what}\n  $ ${c}\n`).join('\n')}`;
}

interface GlobalFlags {
  threads?: number;
  provider?: string;
  portable?: boolean;
}

function buildProgram(io: CliIO, argv: readonly string[], started: (name: string) => void, done: (code: number) => void): Command {
  const program = new Command('scalpel');
  program
    .description(DESCRIPTION)
    .usage('[global options] <command> [options]')
    .version(version(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help')
    .helpCommand('help [command]', 'print help for a command')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: all cores)', integer(1))
    .option('--provider <name>', 'execution provider: cpu (default), cuda, coreml, …')
    .option('--portable', 'standard ONNX ops only: no onnxruntime NCHWc kernels for Convs with fed weights on the CPU')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: usageError('scalpel'),
    })
    .exitOverride()
    .addHelpText('after', FOOTER);

  for (const spec of COMMANDS) {
    const cmd = program.command(spec.name).summary(spec.summary).description(spec.description);
    cmd.configureOutput({ outputError: usageError(`scalpel ${spec.name}`) });
    spec.configure(cmd);
    cmd.addHelpText('after', examples(spec));
    cmd.action(async (...args: unknown[]) => {
      const self = args[args.length - 1] as Command;
      started(spec.name);
      const g = self.optsWithGlobals<GlobalFlags>();
      const runtime: RuntimeOptions = { threads: g.threads, executionProvider: g.provider, portable: g.portable };
      checkProvider(g.provider);
      if (g.threads !== undefined || g.provider !== undefined || g.portable !== undefined) configureRuntime(runtime);
      done(await spec.run({ io, runtime, argv }, self.args.slice(0, self.registeredArguments.length), self.opts()));
    });
  }
  return program;
}

/** Errors that are bugs in scalpel rather than problems with the user's files or flags. */
function isInternal(e: unknown): boolean {
  return e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError;
}

/**
 * Run the scalpel command line with `argv` (without `node` and the script), writing to `io`.
 * Returns the exit status: 0 success, 1 failure, 2 usage error. Errors print one line,
 * `scalpel: error: …`, to stderr (with a stack trace only when SCALPEL_DEBUG=1).
 *
 * @example process.exitCode = await run(['inspect', 'model.onnx']);
 */
export async function run(argv: readonly string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let code = 0;
  let command = 'scalpel';
  const program = buildProgram(
    io,
    argv,
    (name) => (command = `scalpel ${name}`),
    (c) => (code = c),
  );
  const env = io.env ?? process.env;
  try {
    if (argv[0] === 'help' && argv[1] !== undefined && HELP_TOPICS[argv[1]] !== undefined) {
      io.stdout.write(HELP_TOPICS[argv[1]]);
      return 0;
    }
    if (argv[0] === 'help' && argv[1] !== undefined && !argv[1].startsWith('-') && !COMMANDS.some((c) => c.name === argv[1])) {
      throw new UsageError(
        `there is no command or help topic '${argv[1]}'; the commands are ${COMMANDS.map((c) => c.name).join(', ')}; the topics are ${Object.keys(HELP_TOPICS).join(', ')}`,
      );
    }
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors (already printed by commander) and help shown for a bare `scalpel`, 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      io.stderr.write(`scalpel: error: ${oneLine(e.message)} (see '${command} --help')\n`);
      return 2;
    }
    const message = e instanceof Error ? e.message : String(e);
    const internal = isInternal(e);
    io.stderr.write(
      `scalpel: error: ${oneLine(message)}${internal && env.SCALPEL_DEBUG !== '1' ? ' (an internal error; SCALPEL_DEBUG=1 shows the stack trace)' : ''}\n`,
    );
    if (env.SCALPEL_DEBUG === '1' && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return 1;
  }
}

// Run when executed directly (`node --import tsx src/cli/main.ts …`), not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await run(process.argv.slice(2));
}
