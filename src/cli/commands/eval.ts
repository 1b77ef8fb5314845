// scalpel eval MODEL: accuracy, loss, per-class accuracy, confusion matrix, attack success rate.
import { Option } from 'commander';
import { openClassifierForCommand } from '../open-model.js';
import { evalText } from '../../report/eval.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { evalClassifier } from '../../train/eval-classifier.js';
import type { CommandSpec } from '../command.js';
import { integer, trigger } from '../options.js';
import { progress } from '../progress.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';

interface EvalFlags {
  data?: string;
  split: 'train' | 'test';
  trigger?: string;
  target: number;
  batch: number;
  json?: JsonFlag;
  normalize?: Normalization;
}

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'measure a classifier: accuracy, confusion, attack success rate',
  description:
    "Evaluate an image classifier on a dataset split: accuracy, mean cross-entropy, per-class accuracy and the confusion matrix. With --trigger, also stamp the trigger on every test image whose class is not --target and report the attack success rate (ASR: the share classified as --target) and the robust accuracy (RA: the share still classified as their true class), as for BadNets backdoors. --trigger takes patch:…, blend:… or file:PATH, a mask-and-pattern file as `scalpel reconstruct` writes.\n\n" +
    "--data takes the same values as for train ('embedded', 'fashion-mnist', an IDX directory, a .safetensors/.npz file with x and y). Images are normalised as --normalize says, else as the model's metadata records, else with Fashion-MNIST's mean and std (with a warning: a model trained on [0, 1] pixels needs --normalize none). The choice is in --json's 'normalization'.",
  examples: [
    ['scalpel eval lenet5.onnx --data fashion-mnist', 'test accuracy on the full Fashion-MNIST test set'],
    ['scalpel eval badnets.onnx --trigger patch:4x4@bottom-right:white --target 0', 'clean accuracy and attack success rate'],
    ['scalpel eval badnets.onnx --trigger file:nc/label-0.safetensors --target 0', 'how well a reconstructed trigger works'],
    ['scalpel eval model.onnx --data batch.safetensors --json', 'machine-readable report'],
  ],
  configure(cmd) {
    cmd
      .argument('<model>', 'ONNX classifier')
      .option('--data <dir|file>', "evaluation data (default: the embedded subset)")
      .addOption(new Option('--split <name>', 'dataset split').choices(['test', 'train']).default('test'))
      .option('--trigger <spec>', "backdoor trigger, e.g. 'patch:4x4@bottom-right:white'", trigger)
      .option('--target <label>', 'the backdoor target label', integer(0), 0)
      .option('--batch <n>', 'examples per forward pass', integer(1), 256);
    addJsonOption(cmd);
    addNormalizeOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as EvalFlags;
    checkOutputs({ '--json': jsonFile(f.json) }, { model: modelPath, data: f.data });
    const { model, normalization } = await openClassifierForCommand(ctx, modelPath, f);
    const bar = progress(ctx.io);
    const r = await evalClassifier(model, {
      data: f.data, split: f.split, trigger: f.trigger, target: f.target, batchSize: f.batch, runtime: ctx.runtime,
      onProgress: (done, total) => bar.update('evaluating', done, total),
    });
    bar.stop();
    const names = r.classNames?.length === r.confusion.length ? r.classNames : undefined;
    await finishCommand(ctx, { json: f.json, report: { model: modelPath, ...r, normalization }, text: () => evalText(r, names) });
    return 0;
  },
};
