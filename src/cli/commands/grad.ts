// scalpel grad MODEL --data FILE --out FILE: parameter gradients of the mean loss on a batch.
import { Option } from 'commander';
import { computeGradients, writeGradients } from '../../analysis/gradients.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { loadData } from '../../data/load-data.js';
import { openForCommand } from '../open-model.js';
import { gradientsText } from '../../report/gradients.js';
import type { LossKind } from '../../train/losses.js';
import type { CommandSpec } from '../command.js';
import { LOSSES, selector } from '../options.js';

interface GradFlags {
  data: string;
  out: string;
  labels: string;
  loss: LossKind;
  params?: string;
  json?: JsonFlag;
}

export const gradCommand: CommandSpec = {
  name: 'grad',
  summary: 'write parameter gradients of the loss on a batch',
  description:
    'Compute the gradient of the mean loss over one batch with respect to every floating-point initializer of the model (or those --params selects, in the selection language of `scalpel help params`) and write it as a safetensors file keyed by initializer name. Prints the loss and the norm of each gradient tensor.\n\n' +
    'The data file is a safetensors file holding one tensor per model input, named after it, plus the labels: an int64 tensor `y` of class indices for cross-entropy, or a float tensor shaped like the output for mse and kl (--labels names another tensor). Names, element types and static dimensions are checked against the model before anything runs.\n\n' +
    'The output is written atomically, and never over the model or the data file.',
  examples: [
    ['scalpel grad model.onnx --data batch.safetensors --out grads.safetensors', 'cross-entropy gradients of every parameter'],
    ["scalpel grad model.onnx --data batch.safetensors --out g.safetensors --params '/^fc/'", 'only the parameters whose name starts with fc'],
    ["scalpel grad model.onnx --data batch.safetensors --out g.safetensors --params 'kind:conv;layer1.*'", 'only the conv weights of the layers under layer1'],
    ['scalpel grad model.onnx --data batch.safetensors --out g.safetensors --loss mse --labels target', 'mean squared error against the float tensor `target`'],
  ],
  configure(cmd) {
    cmd
      .argument('<model>', 'ONNX model file')
      .requiredOption('--data <file>', 'safetensors file with the model inputs and the labels')
      .requiredOption('--out <file>', 'safetensors file to write the gradients to')
      .option('--labels <name>', 'name of the label (or target) tensor in the data file', 'y')
      .addOption(new Option('--loss <kind>', 'loss on the first output').choices([...LOSSES]).default('cross-entropy'))
      .option(
        '--params <selector>',
        "differentiate only these parameters: 'kind:conv,bias', 'layer:fc1', a glob, a /regex/ (see scalpel help params)",
        selector,
      );
    addJsonOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const flags = opts as unknown as GradFlags;
    const model = (await openForCommand(ctx, modelPath)).model;
    checkOutputs({ '--out': flags.out, '--json': jsonFile(flags.json) }, { model: modelPath, data: flags.data });
    const data = await loadData(flags.data);
    const result = await computeGradients(model, data, {
      loss: flags.loss,
      labels: flags.labels,
      params: flags.params,
      runtime: ctx.runtime,
      source: flags.data,
    });
    await writeGradients(flags.out, result);
    await finishCommand(ctx, {
      json: flags.json,
      report: { model: modelPath, data: flags.data, out: flags.out, ...result.report },
      text: () => gradientsText(result.report, flags.out),
      written: [flags.out],
    });
    return 0;
  },
};
