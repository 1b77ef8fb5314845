// scalpel inspect MODEL: what a model holds and whether scalpel can differentiate it.
import { exportNotes } from '../../analysis/export-notes.js';
import { inspectModel, type InspectReport } from '../../analysis/inspect.js';
import { openForCommand, type OpenedModel } from '../open-model.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { inspectText } from '../../report/inspect.js';
import type { CommandSpec } from '../command.js';

interface InspectFlags {
  json?: JsonFlag;
}

/** What loading did to the file (conversion, batch), merged into the report: a failed conversion check makes it not differentiable. */
function loadFacts(o: OpenedModel, differentiable: boolean): Pick<InspectReport, 'differentiable' | 'notes' | 'conversion'> {
  const notes = [...o.notes, ...exportNotes(o.original)];
  const conversion = o.upgrade && o.conversion ? { from: o.upgrade.from, to: o.upgrade.to, changes: o.upgrade.changes, ...o.conversion } : undefined;
  return { differentiable: differentiable && (conversion?.ok ?? true), notes, conversion };
}

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  summary: "describe a model's inputs, outputs and parameters",
  description:
    "Describe an ONNX model: its inputs and outputs with shapes (symbolic dimensions by name), its parameters counted by tensor, by op type and by layer (the name before the last dot, else the reading node's scope), its opset imports, and whether every op has a gradient rule; ops without one are listed with the nodes that use them.\n\n" +
    'Nothing runs; the model is only read.',
  examples: [
    ['scalpel inspect model.onnx', 'print the summary tables'],
    ['scalpel inspect model.onnx --json | jq .parameters', 'machine-readable output'],
  ],
  configure(cmd) {
    addJsonOption(cmd.argument('<model>', 'ONNX model file'));
  },
  async run(ctx, [modelPath], opts) {
    const flags = opts as InspectFlags;
    checkOutputs({ '--json': jsonFile(flags.json) }, { model: modelPath });
    const opened = await openForCommand(ctx, modelPath, { allowFailedConversion: true, quiet: true });
    const base = inspectModel(opened.original);
    const report: InspectReport = { ...base, ...loadFacts(opened, base.differentiable) };
    await finishCommand(ctx, { json: flags.json, report: { model: modelPath, ...report }, text: () => inspectText(report, modelPath) });
    return 0;
  },
};
