// How commands open a user's model: through src/tasks/, with its notes and warnings on stderr.
import type { Normalization } from '../data/triggers.js';
import { openClassifier, openModelFile, openTask, type ClassifierTask, type OpenClassifierOptions, type OpenedModel, type TextTask } from '../tasks/open.js';
import type { TaskKind } from '../tasks/task.js';
import type { CommandContext } from './command.js';
import { readsImages } from './normalize-flag.js';

export type { OpenedModel };

/**
 * Open any model file for a command (inspect, grad, bench): `openModelFile` with notes on stderr unless `quiet`.
 *
 * @example const { model } = await openForCommand(ctx, 'cnn-opset11.onnx');
 */
export async function openForCommand(ctx: CommandContext, path: string, opts: { allowFailedConversion?: boolean; quiet?: boolean } = {}): Promise<OpenedModel> {
  return openModelFile(path, {
    runtime: ctx.runtime,
    allowFailedConversion: opts.allowFailedConversion,
    onNote: opts.quiet ? undefined : (n) => ctx.io.stderr.write(`scalpel: note: ${path}: ${n}\n`),
  });
}

/** The flags every command that runs a classifier on data shares. */
export interface ClassifierFlags {
  normalize?: Normalization;
  data?: string;
}

/**
 * Open a classifier for a command: notes and the assumed-normalisation warning on stderr, one clear error for a model
 * that is not a classifier. The normalisation is `--normalize`, else the model's metadata, else assumed.
 *
 * @example const task = await openClassifierForCommand(ctx, 'user-cnn.onnx', { normalize: f.normalize, data: f.data });
 */
export async function openClassifierForCommand(
  ctx: CommandContext,
  path: string,
  f: ClassifierFlags,
  o: Pick<OpenClassifierOptions, 'needsImages' | 'needsFreeBatch'> = {},
): Promise<ClassifierTask> {
  return openClassifier(path, {
    needsImages: o.needsImages,
    needsFreeBatch: o.needsFreeBatch,
    runtime: ctx.runtime,
    normalize: f.normalize,
    images: readsImages(f.data),
    onNote: (n) => ctx.io.stderr.write(`scalpel: note: ${path}: ${n}\n`),
    onWarning: warnFor(ctx),
  });
}

/** Warnings on stderr; the library names its option (normalize) where the user types --normalize. */
function warnFor(ctx: CommandContext): (w: string) => void {
  return (w) =>
    ctx.io.stderr.write(
      `scalpel: warning: ${w.replace(/Give the normalize option as MEAN,STD, or 'none'/, 'Pass --normalize MEAN,STD, or --normalize none')}\n`,
    );
}

/**
 * Open a model of any task kind for a command (eval): `openTask` with notes and warnings on stderr; the kind is
 * `--task`, else inferred from the model's shapes.
 *
 * @example const task = await openTaskForCommand(ctx, 'lstm-lm.onnx', { data: 'data/text/lm' });
 */
export async function openTaskForCommand(ctx: CommandContext, path: string, f: ClassifierFlags & { task?: TaskKind }): Promise<ClassifierTask | TextTask> {
  return openTask(path, {
    runtime: ctx.runtime,
    task: f.task,
    normalize: f.normalize,
    images: readsImages(f.data),
    onNote: (n) => ctx.io.stderr.write(`scalpel: note: ${path}: ${n}\n`),
    onWarning: warnFor(ctx),
  });
}
