// scalpel bench MODEL --data FILE: time the forward and the forward+backward pass.
import { Option } from 'commander';
import { benchModel } from '../../analysis/bench.js';
import { loadData } from '../../data/load-data.js';
import { openForCommand } from '../open-model.js';
import { benchText } from '../../report/bench.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import type { LossKind } from '../../train/losses.js';
import type { CommandSpec } from '../command.js';
import { integer, LOSSES } from '../options.js';
import { progress } from '../progress.js';

interface BenchFlags {
  data: string;
  warmup: number;
  iters: number;
  labels: string;
  loss: LossKind;
  json?: JsonFlag;
}

export const benchCommand: CommandSpec = {
  name: 'bench',
  summary: 'time forward and forward+backward passes',
  description:
    'Run the model on the batch in the data file and report the median milliseconds per batch of the forward pass, and of the forward+backward pass with respect to every floating-point parameter, after warm-up runs.\n\n' +
    'The backward pass differentiates the loss when the data holds labels (see `scalpel grad --help`), else the sum of the first output. The global options --threads and --provider pick the intra-op threads and the execution provider.',
  examples: [
    ['scalpel bench model.onnx --data batch.safetensors', '3 warm-up and 20 timed runs of each pass'],
    ['scalpel --threads 1 bench model.onnx --data batch.safetensors --iters 100 --json', 'one thread, 100 runs, JSON'],
  ],
  configure(cmd) {
    cmd
      .argument('<model>', 'ONNX model file')
      .requiredOption('--data <file>', 'safetensors file with the model inputs (and labels)')
      .option('--warmup <n>', 'untimed runs before measuring', integer(0), 3)
      .option('--iters <n>', 'timed runs', integer(1), 20)
      .option('--labels <name>', 'name of the label (or target) tensor in the data file', 'y')
      .addOption(new Option('--loss <kind>', 'loss for the backward pass when labels are present').choices([...LOSSES]).default('cross-entropy'));
    addJsonOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const flags = opts as unknown as BenchFlags;
    checkOutputs({ '--json': jsonFile(flags.json) }, { model: modelPath, data: flags.data });
    const model = (await openForCommand(ctx, modelPath)).model;
    const data = await loadData(flags.data);
    const bar = progress(ctx.io);
    try {
      const report = await benchModel(model, data, {
        warmup: flags.warmup,
        iters: flags.iters,
        labels: flags.labels,
        loss: flags.loss,
        runtime: ctx.runtime,
        source: flags.data,
        onProgress: (phase, done, total) => bar.update(phase, done, total),
      });
      bar.stop();
      await finishCommand(ctx, { json: flags.json, report: { model: modelPath, data: flags.data, ...report }, text: () => benchText(report, modelPath) });
    } finally {
      bar.stop();
    }
    return 0;
  },
};
