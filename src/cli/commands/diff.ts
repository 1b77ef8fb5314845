// scalpel diff A.onnx B.onnx: exactly which parameter entries differ, by how much, and where; the delta file.
import { readCheckedModel } from '../../onnx/load-model.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { diffModels } from '../../params/diff.js';
import { writeDelta } from '../../params/delta-file.js';
import { diffHtml } from '../../report/diff-html.js';
import { diffText } from '../../report/diff.js';
import type { CommandSpec } from '../command.js';
import { integer, real } from '../options.js';

interface DiffFlags {
  atol?: number;
  out?: string;
  html?: string;
  top: number;
  json?: JsonFlag;
}

export const diffCommand: CommandSpec = {
  name: 'diff',
  summary: 'which parameters two models differ in, by how much, and where',
  description:
    'Compare two ONNX models of the same architecture, such as a model and its edited, corrupted, repaired or fine-tuned copy. First the graphs: every difference other than parameter values (a node added or changed, an input retyped, an initializer reshaped, an opset or a metadata entry) is listed; models whose parameters have other names, types or shapes cannot be compared and are refused.\n\n' +
    'Then every floating-point parameter entry, bitwise by default (so a change to -0, to a subnormal or to NaN counts; --atol ignores differences within a tolerance): the number and share of changed entries in all, by tensor, by kind and by layer; the L1, L2 and L∞ norms of the change; the largest changes with tensor name, flat index and position; and the entries that became NaN or infinite.\n\n' +
    '--out writes the change as a delta file that `scalpel apply` applies to or reverts from a model (see `scalpel help apply` for its layout); --html writes a page showing where in each tensor the changes sit. Outputs are written atomically and never over an input.',
  examples: [
    ['scalpel diff lenet5.onnx lenet5-injected.onnx', 'what an edit changed'],
    ['scalpel diff base.onnx tuned.onnx --atol 1e-6 --json', 'ignore changes within 1e-6; machine-readable report (top-level `changed`)'],
    ['scalpel diff base.onnx repaired.onnx --out repair.safetensors --html repair.html', 'save the change as a delta, and a page of where it sits'],
  ],
  configure(cmd) {
    cmd
      .argument('<a>', 'first ONNX model (the base)')
      .argument('<b>', 'second ONNX model (the edited one)')
      .option('--atol <x>', 'count entries within this absolute difference as unchanged (default: compare bits)', real(0))
      .option('--out <file>', 'write the delta turning A into B (safetensors)')
      .option('--html <file>', 'also write the report as a self-contained web page')
      .option('--top <n>', 'how many of the largest changes to list', integer(0), 20);
    addJsonOption(cmd);
  },
  async run(ctx, [aPath, bPath], opts) {
    const f = opts as unknown as DiffFlags;
    const inputs = { 'first model': aPath, 'second model': bPath };
    checkOutputs({ '--out': f.out, '--html': f.html, '--json': jsonFile(f.json) }, inputs);
    const a = readCheckedModel(aPath);
    const b = readCheckedModel(bPath);
    const { report, delta } = diffModels(a, b, { atol: f.atol, top: f.top, names: [aPath, bPath], hash: f.out !== undefined });
    if (f.out) await writeDelta(f.out, delta, { command: ['scalpel', ...ctx.argv].join(' ') });
    await finishCommand(ctx, {
      json: f.json,
      report: { ...report, ...(f.out ? { delta: f.out } : {}) },
      text: () => diffText(report, f.out),
      files: f.html ? { [f.html]: diffHtml(report) } : {},
      written: f.out ? [f.out] : [],
    });
    return 0;
  },
};
