// scalpel inspect MODEL: what a model holds and whether scalpel can differentiate it.
import { inspectModel } from '../../analysis/inspect.js';
import { loadModel } from '../../analysis/load.js';
import { json } from '../../report/format.js';
import { inspectText } from '../../report/inspect.js';
import type { CommandSpec } from '../command.js';

interface InspectFlags {
  json?: boolean;
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
    cmd.argument('<model>', 'ONNX model file').option('--json', 'print the report as JSON');
  },
  async run(ctx, [modelPath], opts) {
    const flags = opts as InspectFlags;
    const report = inspectModel(loadModel(modelPath));
    ctx.io.stdout.write(flags.json ? json({ model: modelPath, ...report }) : inspectText(report, modelPath));
    return 0;
  },
};
