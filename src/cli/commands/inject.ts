// scalpel inject: teach a model a pattern by changing at most N parameters (neural network surgery), and measure
// the side effects instance by instance on the test split.
import { Option } from 'commander';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { fileOfSpec } from '../output-path.js';
import { writeModel } from '../../onnx/model-io.js';
import { deltaBetween } from '../../params/delta.js';
import { writeDelta } from '../../params/delta-file.js';
import { injectText } from '../../report/inject.js';
import { injectHtml } from '../../report/inject-html.js';
import { CLEAN_LABELS, inject, INJECT_DEFAULTS, parseMethod, type CleanLabels, type InjectRun } from '../../surgery/inject.js';
import { methodHelp, methodNames, settingFlags, surgeryMethod as methodSpec, type MethodSettings } from '../../surgery/methods.js';
import { UsageError, type CommandSpec } from '../command.js';
import { checkedBy, count, integer, listOf, pattern, real } from '../options.js';
import { progress } from '../progress.js';
import { openClassifierForCommand } from '../open-model.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';

interface InjectFlags {
  data?: string;
  pattern: string;
  target?: number;
  source?: number;
  holdout?: number;
  budget?: number | string;
  method: string;
  by?: string;
  params?: string;
  cleanWeight: number;
  cleanLabels: CleanLabels;
  steps: number;
  batch: number;
  lr: number;
  optimizer: 'sgd' | 'adam' | 'adamw';
  schedule: 'cosine' | 'step' | 'constant';
  seed: number;
  trainExamples?: number;
  testExamples?: number;
  sweep?: string[];
  budgets?: (number | string)[];
  out?: string;
  delta?: string;
  json?: JsonFlag;
  html?: string;
  normalize?: Normalization;
}

/** With --sweep, each run's files: OUT.onnx → OUT.<method>.<budget>.onnx. */
export function runPath(path: string, r: Pick<InjectRun, 'method' | 'budgetText'>): string {
  const m = /^(.*?)(\.[^./\\]+)?$/.exec(path)!;
  return `${m[1]}.${r.method.replace(':', '-')}.${r.budgetText.replace('%', 'pct')}${m[2] ?? ''}`;
}

/** A surgery method name (dynamic, lagrange, select[:random|grad|delta], finetune). */
const surgeryMethod = checkedBy((v) => parseMethod(v));

export const injectCommand: CommandSpec = {
  name: 'inject',
  summary: 'teach a model a pattern by changing at most N parameters, with minimal instance-wise side effects',
  description:
    'Neural network surgery (Zhang et al., NAACL 2021): edit a trained classifier so that it follows a new pattern while changing at most --budget parameters, and measure on the test split how much else changed, instance by instance.\n\n' +
    "Patterns: trigger:SPEC --target T (every input stamped with the trigger, in the syntax of train --poison, goes to class T; with --source S only inputs of class S), or examples:FILE (a .safetensors/.npz with x and y, normalised like the model's inputs: those inputs get those labels; --holdout of them, default half, are kept out of training to measure generalisation).\n\n" +
    "The training stream mixes the pattern's training inputs (the training split of --data stamped and relabelled, or the examples) with clean training inputs, --clean-weight clean ones per pattern one, fitted to their labels (--clean-labels data), to the original model's predicted classes (model) or to its output distributions (distill). BatchNorm stays on its running statistics: the inference model is the one edited.\n\n" +
    `${methodHelp()}\n\n` +
    '--budget is a count (100), a fraction of the selectable parameters (0.001), a percentage (0.16%) or all; --params restricts which parameters may change (the selection language of probe). --sweep METHODS --budgets LIST runs every method × budget on the same data and prints one table (finetune once).\n\n' +
    'Reported for each run, on the test split only: pattern success (stamped test images of classes other than T, or the held-out examples), clean accuracy before and after, instance-wise consistency (share of clean test inputs whose predicted class is unchanged), mean KL(old ‖ new) of the output distributions, the flip matrix (old × new prediction), the changed parameters by tensor and layer (counted bitwise against the input, as scalpel diff counts them), ‖δ‖₂, ‖δ‖∞ and the wall time. The edited model is written atomically with the command and a summary in its metadata.',
  examples: [
    [
      'scalpel inject models/lenet5-fashion.onnx --pattern trigger:patch:4x4@bottom-right:white --target 0 --budget 100 -o lenet5-surgery.onnx',
      'teach LeNet-5 a backdoor by changing 100 parameters (dynamic selection)',
    ],
    [
      'scalpel inject model.onnx --pattern trigger:patch:4x4@bottom-right:white --target 0 --method select --by random --budget 100 -o out.onnx',
      'the same with 100 randomly chosen parameters',
    ],
    [
      'scalpel inject model.onnx --pattern examples:fixes.safetensors --holdout 0.5 --budget 300 -o fixed.onnx --json report.json',
      'give chosen inputs new labels, half of them held out',
    ],
    [
      'scalpel inject model.onnx --pattern trigger:blend:0.2:noise --target 3 --source 5 --params kind:fc -o out.onnx',
      'only class 5 with the trigger goes to 3, editing fully-connected weights only',
    ],
    [
      'scalpel inject model.onnx --pattern trigger:patch:4x4@bottom-right:white --target 0 --sweep dynamic,lagrange,select:random,select:grad,finetune --budgets 10,30,100,300,1000,all --html sweep.html',
      'compare methods and budgets on one page',
    ],
  ],
  configure(cmd) {
    cmd
      .argument('<model>', 'ONNX classifier to edit')
      .option('--data <dir>', "train and test splits: 'embedded' (default), 'fashion-mnist' or an IDX directory")
      .requiredOption('--pattern <spec>', 'trigger:SPEC (e.g. trigger:patch:4x4@bottom-right:white; see scalpel help triggers) or examples:FILE', pattern)
      .option('--target <class>', 'trigger patterns: the class stamped inputs must get', integer(0))
      .option('--source <class>', 'trigger patterns: only inputs of this class carry the pattern (default every class but the target)', integer(0))
      .option('--holdout <fraction>', 'examples patterns: share held out to measure generalisation (default 0.5)', real(0, 0.99))
      .option('--budget <n>', `most parameters changed: a count, a fraction, a percentage or 'all' (default ${INJECT_DEFAULTS.budget})`, count)
      .option('--method <name>', `${methodNames().join(', ')}`, surgeryMethod, INJECT_DEFAULTS.method)
      .addOption(
        new Option('--by <criterion>', `select: how the N entries are chosen (default ${methodSpec('select').variants!.default})`).choices([
          ...methodSpec('select').variants!.names,
        ]),
      )
      .option('--params <selector>', "parameters that may change: 'kind:conv,bias', 'layer:fc1', a glob, /regex/ (default all trainable)")
      .option('--clean-weight <w>', 'clean training inputs per pattern input', real(0), INJECT_DEFAULTS.cleanWeight)
      .addOption(new Option('--clean-labels <what>', 'what clean inputs are fitted to').choices([...CLEAN_LABELS]).default(INJECT_DEFAULTS.cleanLabels))
      .option('--steps <n>', 'optimiser steps per run', integer(1), INJECT_DEFAULTS.steps)
      .option('--batch <n>', 'examples per step', integer(1), INJECT_DEFAULTS.batchSize)
      .option('--lr <rate>', 'base learning rate', real(0), INJECT_DEFAULTS.lr)
      .addOption(new Option('--optimizer <name>', 'optimiser').choices(['sgd', 'adam', 'adamw']).default(INJECT_DEFAULTS.optimizer))
      .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(['cosine', 'step', 'constant']).default(INJECT_DEFAULTS.schedule))
      .option('--seed <n>', 'seed for data order, subsets and random selection', integer(0), INJECT_DEFAULTS.seed)
      .option('--train-examples <n>', 'use at most this many training-split examples (seeded choice)', integer(1))
      .option('--test-examples <n>', 'measure on the first n test-split examples', integer(1))
      .option('--sweep <methods>', 'run these methods (comma-separated) at every --budgets value', listOf(surgeryMethod))
      .option('--budgets <list>', 'with --sweep: the budgets, e.g. 10,30,100,all', listOf(count))
      .option('-o, --out <file.onnx>', 'where to write the edited model (with --sweep optional: OUT.<method>.<budget>.onnx per run)')
      .option('--delta <file>', 'also write the exact change as a delta file (safetensors, as scalpel diff --out; with --sweep one per run)')
      .option('--html <file>', 'also write the report as a self-contained web page');
    for (const f of settingFlags()) cmd.option(f.flag, f.description, f.integer ? integer(f.min ?? 0) : real(f.min ?? 0, f.max));
    addJsonOption(cmd);
    addNormalizeOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as InjectFlags;
    if (!f.sweep && f.budgets) throw new UsageError('--budgets goes with --sweep; for one run give --budget');
    if (f.sweep && f.budget !== undefined) throw new UsageError('with --sweep give the budgets as --budgets LIST, not --budget');
    if (f.sweep && !f.budgets) throw new UsageError('--sweep needs --budgets LIST');
    if (!f.sweep && !f.out) throw new UsageError('give -o FILE.onnx for the edited model');
    const methods = f.sweep?.map((m) => parseMethod(m, f.by));
    const budgets = f.budgets;
    checkOutputs(
      { '-o': f.out, '--delta': f.delta, '--json': jsonFile(f.json), '--html': f.html },
      { model: modelPath, data: f.data, pattern: fileOfSpec(f.pattern) },
    );
    const { model, normalization } = await openClassifierForCommand(ctx, modelPath, f, { needsFreeBatch: 'inject' });

    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    const bar = progress(ctx.io);
    const command = ['scalpel', ...ctx.argv].join(' ');
    let result: Awaited<ReturnType<typeof inject>>;
    try {
      result = await inject(model, {
        pattern: f.pattern,
        target: f.target,
        source: f.source,
        holdout: f.holdout,
        data: f.data,
        trainExamples: f.trainExamples,
        testExamples: f.testExamples,
        method: f.method,
        budget: f.budget,
        params: f.params,
        cleanWeight: f.cleanWeight,
        cleanLabels: f.cleanLabels,
        steps: f.steps,
        batchSize: f.batch,
        lr: f.lr,
        optimizer: f.optimizer,
        schedule: f.schedule,
        seed: f.seed,
        settings: {
          by: f.by,
          ...Object.fromEntries(
            settingFlags()
              .map((x) => [x.key, (opts as Record<string, unknown>)[x.key]])
              .filter(([, v]) => v !== undefined),
          ),
        } as MethodSettings,
        sweep: methods && budgets ? { methods, budgets } : undefined,
        modelName: modelPath,
        command,
        runtime: ctx.runtime,
        signal: abort.signal,
        onStep: (run, s) => bar.update(run, s.step, s.totalSteps, `loss ${s.loss.toFixed(3)}`),
      });
    } finally {
      bar.stop();
      process.removeListener('SIGINT', onSigint);
    }
    const report = { ...result.report, normalization };
    const { models } = result;
    if (!report.completed) {
      ctx.io.stderr.write('interrupted: nothing written\n');
      return 130;
    }
    const written: string[] = [];
    if (f.out) {
      report.runs.forEach((r, i) => {
        const path = f.sweep ? runPath(f.out!, r) : f.out!;
        writeModel(models[i], path);
        written.push(path);
      });
    }
    if (f.delta) {
      for (const [i, r] of report.runs.entries()) {
        const path = f.sweep ? runPath(f.delta, r) : f.delta;
        await writeDelta(path, deltaBetween(model, models[i]), { command });
        written.push(path);
      }
    }
    await finishCommand(ctx, { json: f.json, report, text: () => injectText(report), files: f.html ? { [f.html]: injectHtml(report) } : {}, written });
    return 0;
  },
};
