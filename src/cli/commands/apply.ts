// scalpel apply MODEL DELTA -o OUT [--revert]: apply (or undo) a saved parameter change.
import { readCheckedModel } from '../../onnx/load-model.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { writeModel } from '../../onnx/model-io.js';
import { applyDelta, changedCount, type ApplyInfo } from '../../params/delta.js';
import { readDelta } from '../../params/delta-file.js';
import { int } from '../../report/format.js';
import type { CommandSpec } from '../command.js';

interface ApplyFlags {
  out: string;
  revert?: boolean;
  force?: boolean;
  json?: JsonFlag;
}

export const applyCommand: CommandSpec = {
  name: 'apply',
  summary: 'apply a delta file to a model, or revert it',
  description:
    'Write a copy of MODEL with the parameter change in DELTA applied (every listed entry set to its `after` value), or with --revert undone (set back to `before`). Applying and then reverting gives back the original parameter bytes exactly.\n\n' +
    "A delta is made for one model: its header records the sha256 of that model's parameter bytes, and apply refuses a model whose parameters hash otherwise (--revert: a model that does not hold the edited values, or whose other parameters differ). --force applies anyway, with a warning. Tensors the model lacks, of another type or shape, and indices out of range are refused even with --force.\n\n" +
    "Delta files are written by `diff --out`, `probe --save-delta` and every editing command's --delta. They are safetensors files that Python reads without scalpel: for each changed tensor T, `T.indices` (int64 flat indices into T, sorted), `T.before` and `T.after` (T's own float type); the header's __metadata__ holds format (scalpel-delta), version, base_sha256, changed (the count), tensors (JSON: each tensor's dtype and shape) and command.\n\n" +
    'The output is written atomically, and never over the model or the delta.',
  examples: [
    ['scalpel apply lenet5.onnx edit.safetensors -o lenet5-edited.onnx', 'apply a saved edit'],
    ['scalpel apply lenet5-edited.onnx edit.safetensors --revert -o lenet5-back.onnx', 'undo it: the original parameters, bit for bit'],
    [
      'scalpel probe lenet5.onnx --eps 0.01 --n 100 --norm inf --save-delta worst.safetensors && scalpel apply lenet5.onnx worst.safetensors -o worst.onnx',
      'the worst corruption probe found, as a model',
    ],
  ],
  configure(cmd) {
    cmd
      .argument('<model>', 'ONNX model to edit')
      .argument('<delta>', 'delta file (safetensors)')
      .requiredOption('-o, --out <file>', 'where to write the edited model')
      .option('--revert', 'undo the delta instead of applying it')
      .option('--force', 'apply even to a model the delta was not made for (a warning is printed)');
    addJsonOption(cmd, 'a summary');
  },
  async run(ctx, [modelPath, deltaPath], opts) {
    const f = opts as unknown as ApplyFlags;
    checkOutputs({ '--out': f.out, '--json': jsonFile(f.json) }, { model: modelPath, delta: deltaPath });
    const model = readCheckedModel(modelPath);
    const delta = await readDelta(deltaPath);
    const info: ApplyInfo = { hashMismatch: false };
    let out;
    try {
      out = applyDelta(model, delta, { revert: f.revert, force: f.force, info });
    } catch (e) {
      // The library names its option; the user typed a flag.
      throw new Error((e as Error).message.replace('the force option', '--force'));
    }
    if (info.hashMismatch)
      ctx.io.stderr.write(
        `scalpel: warning: ${deltaPath} was not made for ${modelPath} (parameter hash mismatch); ${f.revert ? 'reverted' : 'applied'} anyway because of --force\n`,
      );
    writeModel(out, f.out);
    const summary = {
      model: modelPath,
      delta: deltaPath,
      out: f.out,
      reverted: !!f.revert,
      changed: changedCount(delta),
      tensors: delta.tensors.length,
      forced: info.hashMismatch,
    };
    await finishCommand(ctx, {
      json: f.json,
      report: summary,
      text: () => `${f.revert ? 'Reverted' : 'Applied'} ${int(summary.changed)} entries in ${summary.tensors} tensors of ${modelPath}\n`,
      written: [f.out],
    });
    return 0;
  },
};
