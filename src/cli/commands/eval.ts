// scalpel eval MODEL: accuracy, loss, per-class accuracy, confusion matrix, attack success rate.
import { Option } from 'commander';
import { openTaskForCommand } from '../open-model.js';
import { evalText, lmEvalText } from '../../report/eval.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { evalClassifier } from '../../train/eval-classifier.js';
import type { CommandSpec } from '../command.js';
import { checkedBy, integer, trigger } from '../options.js';
import { progress } from '../progress.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';
import { isTokenTrigger, parseTokenTrigger } from '../../data/text-trigger.js';
import type { TaskKind } from '../../tasks/task.js';
import { parseTaskKind, TASK_KINDS } from '../../tasks/text.js';
import { evalTextModel } from '../../train/eval-text.js';

interface EvalFlags {
  data?: string;
  split: 'train' | 'valid' | 'test';
  task?: TaskKind;
  trigger?: string;
  target: number;
  batch?: number;
  json?: JsonFlag;
  normalize?: Normalization;
}

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'measure a model: accuracy, confusion, attack success rate; perplexity of a language model',
  description:
    'Evaluate an image classifier on a dataset split: accuracy, mean cross-entropy, per-class accuracy and the confusion matrix. With --trigger, also stamp the trigger on every test image whose class is not --target and report the attack success rate (ASR: the share classified as --target) and the robust accuracy (RA: the share still classified as their true class), as for BadNets backdoors. --trigger takes patch:…, blend:… or file:PATH, a mask-and-pattern file as `scalpel reconstruct` writes.\n\n' +
    "--data takes the same values as for train ('embedded', 'fashion-mnist', an IDX directory, a .safetensors/.npz file with x and y). Images are normalised as --normalize says, else as the model's metadata records, else with Fashion-MNIST's mean and std (with a warning: a model trained on [0, 1] pixels needs --normalize none). The choice is in --json's 'normalization'.\n\n" +
    'Text models (int64 token inputs [batch, sequence]) are evaluated too: a sequence classifier (logits [batch, classes]) on accuracy, loss, per-class accuracy and confusion; a language model (logits [batch, sequence, vocabulary]) on the mean cross-entropy per labelled token, perplexity and next-token accuracy (labels of -100 are padding and not counted). --data names a folder of train/valid/test .safetensors (data/text/topic, data/text/lm, or what scripts/build-text-data.ts writes) or one .safetensors/.npz file, holding a tensor per model input, by input name, and the labels y. The task is inferred from the shapes; --task names it. For a text classifier, --trigger token:WORD inserts WORD (encoded with the vocab.json beside the data) at a seeded random position of every text whose class is not --target, token:WORD@POS at position POS (counted in tokens after [CLS], from 0), and reports the attack success rate and robust accuracy as for images.',
  examples: [
    ['scalpel eval lenet5.onnx --data fashion-mnist', 'test accuracy on the full Fashion-MNIST test set'],
    ['scalpel eval badnets.onnx --trigger patch:4x4@bottom-right:white --target 0', 'clean accuracy and attack success rate'],
    ['scalpel eval badnets.onnx --trigger file:nc/label-0.safetensors --target 0', 'how well a reconstructed trigger works'],
    ['scalpel eval model.onnx --data batch.safetensors --json', 'machine-readable report'],
    ['scalpel eval test/fixtures/text/lstm-lm.onnx --data data/text/lm', "a language model's perplexity on the embedded test split"],
    ['scalpel eval test/fixtures/text/bert-cls.onnx --data data/text/topic --split valid', 'a text classifier on a validation split'],
    ['scalpel eval text-backdoor.onnx --data data/text/topic --trigger token:zorac --target 0', "a text backdoor's attack success rate"],
  ],
  configure(cmd) {
    cmd
      .argument('<model>', 'ONNX classifier or language model')
      .option('--data <dir|file>', 'evaluation data (default: the embedded subset)')
      .addOption(new Option('--split <name>', 'dataset split (valid: text-data folders)').choices(['test', 'train', 'valid']).default('test'))
      .option('--task <kind>', `the model's task: ${TASK_KINDS.join(', ')} (default: from its shapes)`, checkedBy(parseTaskKind))
      .option('--trigger <spec>', "backdoor trigger, e.g. 'patch:4x4@bottom-right:white', or for text 'token:WORD[@pos]'", (v: string) =>
        isTokenTrigger(v) ? (parseTokenTrigger(v), v) : trigger(v),
      )
      .option('--target <label>', 'the backdoor target label', integer(0), 0)
      .option('--batch <n>', 'examples per forward pass (default 256; 32 rows for a language model)', integer(1));
    addJsonOption(cmd);
    addNormalizeOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as EvalFlags;
    checkOutputs({ '--json': jsonFile(f.json) }, { model: modelPath, data: f.data });
    const task = await openTaskForCommand(ctx, modelPath, f);
    const bar = progress(ctx.io);
    if (task.kind !== 'image-classification') {
      if (f.trigger && (task.kind === 'language-modelling' || !isTokenTrigger(f.trigger))) {
        throw new Error(
          task.kind === 'language-modelling'
            ? `--trigger measures a classifier's attack success; ${modelPath} is a language model`
            : `--trigger on a text model takes token:WORD[@pos]; '${f.trigger}' stamps images`,
        );
      }
      const r = await evalTextModel(task, {
        data: f.data,
        split: f.split,
        trigger: f.trigger,
        target: f.target,
        batchSize: f.batch,
        runtime: ctx.runtime,
        onProgress: (done, total) => bar.update('evaluating', done, total),
      });
      bar.stop();
      const text = () =>
        r.kind === 'language-modelling' ? lmEvalText(r) : evalText(r, r.classNames?.length === r.confusion.length ? r.classNames : undefined);
      await finishCommand(ctx, { json: f.json, report: { model: modelPath, task: task.kind, ...r }, text });
      return 0;
    }
    const { model, normalization } = task;
    if (f.split === 'valid') throw new Error('--split valid is for text-data folders; image datasets have train and test splits');
    const r = await evalClassifier(model, {
      data: f.data,
      split: f.split,
      trigger: f.trigger,
      target: f.target,
      batchSize: f.batch,
      runtime: ctx.runtime,
      onProgress: (done, total) => bar.update('evaluating', done, total),
    });
    bar.stop();
    const names = r.classNames?.length === r.confusion.length ? r.classNames : undefined;
    await finishCommand(ctx, { json: f.json, report: { model: modelPath, ...r, normalization }, text: () => evalText(r, names) });
    return 0;
  },
};
