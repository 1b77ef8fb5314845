// scalpel demo: probe the shipped LeNet-5 on the embedded Fashion-MNIST subset and write the HTML report.
import { existsSync } from 'node:fs';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { DEMO_MODEL, runDemo } from '../../corruption/demo.js';
import { demoText } from '../../report/demo.js';
import { probeHtml } from '../../report/probe-html.js';
import type { CommandSpec } from '../command.js';
import { progress } from '../progress.js';

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'probe the shipped LeNet-5 and write an HTML report',
  description:
    'Probe the LeNet-5 shipped with scalpel (models/lenet5-fashion.onnx, trained on Fashion-MNIST) on the embedded test images: ' +
    'corrupt 100 of its parameters along the loss gradient (the worst case to first order) and at random, with ε from 0.01 to 1 in the max norm; ' +
    'then each kind of parameter (conv, fc, bias) alone; and check Theorem 1 (100 random corruptions of every parameter against the gradient-based one). ' +
    'Prints a summary and writes a self-contained HTML report with the charts. Needs no flags and no network; takes a few seconds.',
  examples: [
    ['scalpel demo', 'writes scalpel-demo.html in the current directory'],
    ['scalpel demo -o /tmp/probe.html', 'writes the report elsewhere'],
  ],
  configure(cmd) {
    addJsonOption(cmd.option('-o, --out <file>', 'the HTML report to write', 'scalpel-demo.html'), 'the whole probe report');
  },
  async run(ctx, _args, opts) {
    const out = opts.out as string;
    if (!existsSync(DEMO_MODEL)) throw new Error(`the demo model is missing: ${DEMO_MODEL} (reinstall scalpel)`);
    checkOutputs({ '-o': out, '--json': jsonFile(opts.json as JsonFlag) }, { model: DEMO_MODEL });
    const bar = progress(ctx.io);
    const report = await runDemo({ runtime: ctx.runtime, onProgress: (label, done, total) => bar.update(label, done, total) });
    bar.stop();
    await finishCommand(ctx, {
      json: opts.json as JsonFlag,
      report: { ...report, html: out },
      text: () => demoText(report, out),
      files: { [out]: probeHtml(report) },
    });
    return 0;
  },
};
