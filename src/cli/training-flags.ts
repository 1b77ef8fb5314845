// The training flags `train` and `harden` share: one option table, one mapping to the library's options,
// and one loop reporter (progress bar, epoch lines, Ctrl-C).
import { Option, type Command } from 'commander';
import type { OptimizerName, ScheduleName } from '../train/optimizers.js';
import type { TrainClassifierOptions } from '../train/train-classifier.js';
import type { EpochInfo, StepInfo } from '../train/trainer.js';
import type { CommandContext } from './command.js';
import { integer, real } from './options.js';
import { progress } from './progress.js';

export interface TrainingFlags {
  data?: string;
  epochs: number;
  batch: number;
  lr?: number;
  optimizer: OptimizerName;
  momentum: number;
  weightDecay: number;
  schedule: ScheduleName;
  seed: number;
  validation: number;
  width?: number;
  checkpoint?: string;
  resume?: string;
  batchnorm: 'batch' | 'frozen';
  json?: boolean | string;
}

/**
 * Add the optimiser, schedule, data split, seed, checkpoint and BatchNorm flags to a command; `batchnorm` is the
 * command's default for a fine-tuned model's BatchNorms.
 */
export function addTrainingOptions(cmd: Command, defaults: { batchnorm: 'batch' | 'frozen' }): Command {
  return cmd
    .option('--epochs <n>', 'passes over the training data', integer(1), 10)
    .option('--batch <n>', 'examples per step', integer(1), 64)
    .option('--lr <rate>', 'base learning rate (default 0.05 for sgd, 1e-3 for adam/adamw)', real(0))
    .addOption(new Option('--optimizer <name>', 'optimiser').choices(['sgd', 'adam', 'adamw']).default('sgd'))
    .option('--momentum <m>', 'SGD momentum', real(0, 1), 0.9)
    .option('--weight-decay <wd>', 'weight decay (decoupled for adamw)', real(0), 5e-4)
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(['cosine', 'step', 'constant']).default('cosine'))
    .option('--seed <n>', 'seed for initialisation, shuffling, splits and poisoning', integer(0), 0)
    .option('--validation <fraction>', 'share of the training data held out for validation', real(0, 0.9), 0.1)
    .option('--width <n>', 'zoo model width (hidden units or base channels)', integer(1))
    .option('--checkpoint <file>', 'save the run state here (every 200 steps, each epoch, and on Ctrl-C)')
    .option('--resume <file>', 'continue a run from its checkpoint')
    .addOption(
      new Option(
        '--batchnorm <mode>',
        "a fine-tuned model's BatchNorms: 'batch' statistics (running ones updated, as PyTorch's model.train()) or 'frozen' on the running statistics",
      )
        .choices(['batch', 'frozen'])
        .default(defaults.batchnorm),
    )
    .option('--json [file]', 'print the report as JSON, or write it to FILE');
}

type LoopOptions = Pick<
  TrainClassifierOptions,
  | 'data'
  | 'epochs'
  | 'batchSize'
  | 'lr'
  | 'optimizer'
  | 'momentum'
  | 'weightDecay'
  | 'schedule'
  | 'seed'
  | 'validation'
  | 'width'
  | 'checkpoint'
  | 'resume'
  | 'frozenBatchNorm'
  | 'signal'
  | 'runtime'
  | 'command'
  | 'onStep'
  | 'onEpoch'
>;

/**
 * Run `work` with the library options these flags stand for, a progress bar, per-epoch lines on stderr and
 * Ctrl-C wired to stop the run (it then saves its checkpoint).
 */
export async function withTrainingLoop<T>(
  ctx: CommandContext,
  f: TrainingFlags,
  work: (o: LoopOptions, onProgress: (label: string, done: number, total: number) => void) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const bar = progress(ctx.io);
  try {
    const result = await work(
      {
        data: f.data,
        epochs: f.epochs,
        batchSize: f.batch,
        lr: f.lr,
        optimizer: f.optimizer,
        momentum: f.momentum,
        weightDecay: f.weightDecay,
        schedule: f.schedule,
        seed: f.seed,
        validation: f.validation,
        width: f.width,
        checkpoint: f.checkpoint,
        resume: f.resume,
        frozenBatchNorm: f.batchnorm === 'frozen',
        signal: abort.signal,
        runtime: ctx.runtime,
        command: ['scalpel', ...ctx.argv].join(' '),
        onStep: (s: StepInfo) => {
          const per = s.totalSteps / (f.epochs || 1);
          const obj = s.objective !== undefined ? `  objective ${s.objective.toFixed(3)}` : '';
          bar.update(
            `epoch ${s.epoch + 1}/${f.epochs}`,
            s.step - s.epoch * per,
            per,
            `loss ${s.loss.toFixed(3)}${obj}  ${s.examplesPerSecond.toFixed(0)} img/s`,
          );
        },
        onEpoch: (e: EpochInfo) => {
          bar.stop();
          if (f.json === true) return;
          const obj = e.trainObjective !== undefined ? `, objective ${e.trainObjective.toFixed(4)}` : '';
          const val = e.validationAccuracy !== undefined ? `  validation accuracy ${(100 * e.validationAccuracy).toFixed(2)}%` : '';
          ctx.io.stderr.write(`epoch ${e.epoch + 1}: train loss ${e.trainLoss.toFixed(4)}${obj}${val}\n`);
        },
      },
      (label, done, total) => bar.update(label, done, total),
    );
    bar.stop();
    return result;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
