// scalpel params MODEL [SELECTOR]: the selection language, and which parameters a selector picks in a model.
import { loadModel } from '../../analysis/load.js';
import { parseSelector, selectParams } from '../../params/select.js';
import { int, shape, table } from '../../report/format.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import type { CommandSpec } from '../command.js';
import { selector } from '../options.js';

export const SELECTION_LANGUAGE =
  "The selection language (every --params): a selector is one clause, or several joined by ';' that must all hold. " +
  "'kind:conv,bias' picks parameters of any of these kinds: conv, fc, embedding, attention, batch-norm, layer-norm, bias, recurrent, other (also bn, ln, linear, embed, attn, rnn). " +
  "'layer:conv1,fc1' picks parameters of these layers (a layer is the name up to its last '.': layer1.0.conv1 for layer1.0.conv1.weight; globs allowed). " +
  "A glob such as 'layer1.*' or '*.bias' (* any run of characters, ? one) matches whole parameter names; '/^fc[12]\\./' is a JavaScript regular expression, unanchored. 'all' picks every trainable parameter.\n\n" +
  "Kinds come from the op that consumes each parameter: a Conv weight is conv, a Gemm or MatMul weight fc, a 1-D bias bias, BatchNormalization's scale and shift batch-norm. BatchNormalization running statistics are buffers: a selector never picks them for training, editing or corruption (grad differentiates them too).";

export const paramsCommand: CommandSpec = {
  name: 'params',
  summary: 'list the parameters a selector picks (the --params selection language)',
  description:
    'List the parameters of MODEL that SELECTOR picks (default: all), in graph order, with their kind, layer, shape and size, so that a selector can be tried before a long run.\n\n' +
    SELECTION_LANGUAGE,
  examples: [
    ['scalpel params lenet5.onnx', 'every trainable parameter with its kind and layer'],
    ["scalpel params resnet20.onnx 'kind:conv;layer1.*'", 'the conv weights under layer1'],
    ["scalpel params model.onnx '/^fc/' --json", 'as JSON'],
  ],
  configure(cmd) {
    cmd.argument('<model>', 'ONNX model').argument('[selector]', 'a selector (default: all)', selector);
    addJsonOption(cmd, 'the list');
  },
  async run(ctx, [modelPath, sel], opts) {
    checkOutputs({ '--json': jsonFile(opts.json as JsonFlag) }, { model: modelPath });
    const model = loadModel(modelPath);
    const picked = selectParams(model, parseSelector(sel ?? 'all'));
    const total = picked.reduce((a, p) => a + p.size, 0);
    await finishCommand(ctx, {
      json: opts.json as JsonFlag,
      report: {
        model: modelPath,
        selector: sel ?? 'all',
        count: total,
        tensors: picked.map(({ name, kind, layer, shape: s, size, trainable }) => ({ name, kind, layer, shape: s, size, trainable })),
      },
      text: () =>
        `${int(total)} parameters in ${picked.length} tensors (${sel ?? 'all'})\n\n` +
        table(
          [{ header: 'tensor' }, { header: 'kind' }, { header: 'layer' }, { header: 'shape' }, { header: 'size', right: true }],
          picked.map((p) => [p.name, p.kind, p.layer, shape(p.shape), int(p.size)]),
        ),
    });
    return 0;
  },
};
