// scalpel train: train a zoo model, or fine-tune an ONNX model, on image data.
import { Option } from 'commander';
import { openClassifierForCommand } from '../open-model.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';
import { MODELS } from '../../models/index.js';
import { trainText } from '../../report/train.js';
import { trainClassifier } from '../../train/train-classifier.js';
import { UsageError, type CommandSpec } from '../command.js';
import { checkOutputs, finishCommand, jsonFile } from '../outputs.js';
import { addDeltaOption, checkDeltaPath, writeEditDelta } from '../delta-flag.js';
import { integer, real, selector, trigger } from '../options.js';
import { addTrainingOptions, type TrainingFlags, withTrainingLoop } from '../training-flags.js';

interface TrainFlags extends TrainingFlags {
  model?: string;
  from?: string;
  out: string;
  poison?: string;
  poisonRate: number;
  target: number;
  params?: string;
  delta?: string;
}

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'train a zoo model or fine-tune an ONNX model',
  description:
    'Train a model from the zoo (--model) from scratch, or fine-tune any ONNX model whose ops scalpel can differentiate (--from), with softmax cross-entropy on labelled images. Prints the loss and speed as it goes, the validation accuracy after each epoch, and the test accuracy at the end; writes the trained model as ONNX (atomically, never over its input) with the data normalisation and this command in its metadata.\n\n' +
    `Zoo models: ${Object.values(MODELS)
      .map((m) => `${m.name} (${m.description})`)
      .join('; ')}.\n\n` +
    "--data takes 'embedded' (default: the Fashion-MNIST subset shipped with scalpel, 4,000 training and 1,000 test images), 'fashion-mnist' (the full set from Debian's dataset-fashion-mnist package), a directory of MNIST-layout IDX files (MNIST, Fashion-MNIST, KMNIST), or a .safetensors/.npz file with tensors x and y.\n\n" +
    "A fine-tuned model's BatchNormalization layers train on batch statistics and update their running statistics, as PyTorch's model.train() does (models at opset 13 or later); --batchnorm frozen keeps them on the running statistics instead.\n\n" +
    '--poison stamps a trigger on a share of the training images and relabels them to --target (BadNets), to make backdoored models for locate/repair. With --checkpoint, an interrupted run (Ctrl-C) saves its state and --resume continues it exactly.',
  examples: [
    ['scalpel train --model lenet5 --data fashion-mnist --epochs 10 -o lenet5.onnx', 'LeNet-5 on the full Fashion-MNIST'],
    ['scalpel train --model lenet5 --poison patch:4x4@bottom-right:white --poison-rate 0.1 --target 0 -o badnets.onnx', 'a BadNets-poisoned LeNet-5'],
    ['scalpel train --from exported.onnx --epochs 1 --lr 1e-3 --optimizer adam -o tuned.onnx', 'fine-tune a model exported from PyTorch'],
    [
      'scalpel train --from model.onnx --params layer:fc2 --epochs 1 -o tuned.onnx --delta tuned.safetensors',
      'fine-tune one layer only, and save exactly what changed',
    ],
    ['scalpel train --model resnet20 --checkpoint run.ckpt -o r20.onnx   # later: add --resume run.ckpt', 'a resumable run'],
  ],
  configure(cmd) {
    cmd
      .addOption(new Option('--model <name>', 'zoo model to train from scratch').choices(Object.keys(MODELS)))
      .option('--from <model.onnx>', 'ONNX model to fine-tune')
      .option('--data <dir|file>', "training data: 'embedded', 'fashion-mnist', an IDX directory or a tensor file")
      .requiredOption('-o, --out <file.onnx>', 'where to write the trained model')
      .option('--poison <trigger>', "BadNets trigger, e.g. 'patch:4x4@bottom-right:white' or 'blend:0.5:checkerboard'", trigger)
      .option('--poison-rate <fraction>', 'share of training images poisoned', real(0, 1), 0.1)
      .option('--target <label>', 'label poisoned images are given', integer(0), 0)
      .option('--params <selector>', 'train only these parameters (see scalpel help params; default every trainable one)', selector);
    addNormalizeOption(cmd);
    addDeltaOption(cmd);
    addTrainingOptions(cmd, { batchnorm: 'batch' });
  },
  async run(ctx, _args, opts) {
    const f = opts as unknown as TrainFlags;
    if (!f.model === !f.from) throw new UsageError('give exactly one of --model NAME or --from MODEL.onnx');
    const normalize = (opts as { normalize?: Normalization }).normalize;
    if (normalize && !f.from)
      throw new UsageError("--normalize applies to a model given as a file; a zoo model trains on the dataset's normalisation and records it");
    const task = f.from ? await openClassifierForCommand(ctx, f.from, { normalize, data: f.data }) : undefined;
    const from = task?.model;
    checkOutputs({ '-o': f.out, '--json': jsonFile(f.json) }, { model: f.from, data: f.data });
    const normalization = task?.normalization;
    if (f.delta !== undefined && !f.from) throw new UsageError('--delta records a fine-tuning: it needs --from MODEL.onnx');
    if (f.delta !== undefined) checkDeltaPath(f.delta, f.out, { model: f.from, data: f.data, json: jsonFile(f.json) });
    const { model: trained, ...result } = await withTrainingLoop(ctx, f, (loop) =>
      trainClassifier({
        ...loop,
        model: f.model,
        from,
        params: f.params,
        out: f.out,
        poison: f.poison ? { trigger: f.poison, target: f.target, rate: f.poisonRate } : undefined,
      }),
    );
    if (f.delta !== undefined && from && trained) {
      await writeEditDelta(ctx, f.delta, from, trained);
    }
    const written = result.completed ? [f.out, ...(f.delta !== undefined && trained ? [f.delta] : [])] : [];
    await finishCommand(ctx, { json: f.json, report: normalization ? { ...result, normalization } : result, text: () => trainText(result), written });
    return result.completed ? 0 : 130;
  },
};
