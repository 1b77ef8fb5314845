// scalpel reconstruct MODEL: Neural Cleanse trigger reconstruction and outlier detection, on the defender's data only.
import { Option } from 'commander';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { reconstruct, type ReconstructSchedule } from '../../backdoor/neural-cleanse.js';
import { checkReconstructionDir, readReferenceNorms, reconstructSummary, writeReconstruction } from '../../backdoor/reconstruct-output.js';
import { openClassifierForCommand } from '../open-model.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';
import { reconstructHtml } from '../../report/reconstruct-html.js';
import { reconstructText } from '../../report/reconstruct.js';
import type { CommandSpec } from '../command.js';
import { addDefenderOptions, DEFENDER_DATA_HELP, defenderDataFromFlags, type DefenderFlags } from '../defender-flags.js';
import { integer, listOf } from '../options.js';
import { progress } from '../progress.js';

interface ReconstructFlags extends DefenderFlags {
  labels?: number[];
  steps: number;
  batch: number;
  schedule: ReconstructSchedule;
  reference?: string[];
  out?: string;
  json?: JsonFlag;
  html?: string;
  normalize?: Normalization;
}

export const reconstructCommand: CommandSpec = {
  name: 'reconstruct',
  summary: 'reverse-engineer backdoor triggers per label (Neural Cleanse)',
  description:
    "For every label t (or --labels), find the smallest trigger that sends the defender's clean images to t, as Neural Cleanse does: a mask m = tanh(θm)/2 + 1/2 (one channel, image-sized) and a pattern p = tanh(θp)/2 + 1/2 in raw pixel space, stamped x' = (1 − m)⊙x + m⊙p and normalised as the model expects (its metadata's normalisation), minimising CE(M(x'), t) + c·‖m‖₁ with Adam (lr 0.1, β = (0.5, 0.9)). With --schedule batch (the default) a step is one mini-batch: the cost c starts at 1e-3 once a batch reaches t at 99%, doubles after 5 successful steps and shrinks by 2^1.5 after 5 failing ones; the best mask is the smallest among successful steps; a label stops after 25 steps without a 1% smaller mask (or --steps). --schedule original follows Neural Cleanse's visualizer.py: a step is a pass over 1,000 images, judged by its mean success; the cost is set after 5 successful steps in a row, and the early stop also waits until the cost has gone both up and down (about 5 times slower). Only the inputs are differentiated: the weights stay constant initializers.\n\n" +
    "Then the anomaly index of each label's ‖m‖₁, |x − median| / (1.4826 · MAD): labels below the median with an index above 2 are flagged as backdoor targets. With --reference DIRS (reconstructions of clean twins: the same architecture trained clean on the same kind of data), the index is taken of log(‖m‖₁ / the twins' median ‖m‖₁) per label, so that a label whose trigger is small by nature (Fashion-MNIST's Bag) is not flagged.\n\n" +
    `${DEFENDER_DATA_HELP}\n\n` +
    '-o DIR writes per label a trigger file label-T.safetensors (mask [H, W] and pattern [C, H, W]; give it to eval --trigger file:DIR/label-T.safetensors, train --poison, or repair --triggers DIR) and PNG images of the mask, the pattern and m⊙p, plus reconstruct.json (the table and the flagged labels). --html FILE writes a page with the images and a chart of the norms.',
  examples: [
    ['scalpel reconstruct models/lenet5-badnets.onnx --data fashion-mnist -o nc', 'every label of the BadNets LeNet-5, triggers and images into nc/'],
    ['scalpel reconstruct model.onnx --data fashion-mnist --labels 0,3 --json', 'two labels, machine-readable'],
    ['scalpel reconstruct model.onnx --data fashion-mnist --defender-data 1000 --html nc.html', '1,000 defender images, a web page'],
    ['scalpel reconstruct suspect.onnx --data fashion-mnist --reference nc-twin1,nc-twin2 -o nc', "flag labels relative to clean twins' triggers"],
  ],
  configure(cmd) {
    cmd.argument('<model>', 'ONNX image classifier');
    addDefenderOptions(cmd)
      .option('--labels <list>', 'labels to reconstruct, comma-separated (default: all)', (v: string) => [...new Set(listOf(integer(0))(v))])
      .option('--steps <n>', 'most optimisation steps per label', integer(1), 1000)
      .option('--batch <n>', 'images per mini-batch', integer(1), 64)
      .option(
        '--reference <dirs>',
        "reconstruct -o directories of clean twins (comma-separated): flag labels whose trigger is anomalously small relative to the twins' (log ‖m‖₁/reference), not in absolute terms",
        (v: string) =>
          v
            .split(',')
            .map((d) => d.trim())
            .filter(Boolean),
      )
      .addOption(
        new Option(
          '--schedule <name>',
          "cost schedule: 'original' (Neural Cleanse's: a step is a pass over 1,000 images) or 'batch' (a step is one mini-batch)",
        )
          .choices(['original', 'batch'])
          .default('batch'),
      )
      .option('-o, --out <dir>', 'write trigger files, PNG images and reconstruct.json into this directory')
      .option('--html <file>', 'write the report as a self-contained web page');
    addJsonOption(cmd);
    addNormalizeOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as ReconstructFlags;
    const task = await openClassifierForCommand(ctx, modelPath, f, { needsImages: true, needsFreeBatch: 'reconstruct' });
    const model = task.model;
    if (f.out) checkReconstructionDir(f.out);
    checkOutputs({ '--html': f.html, '--json': jsonFile(f.json) }, { model: modelPath, data: f.data, 'defender data': f.defenderData });
    const reference = f.reference ? readReferenceNorms(f.reference) : undefined;
    const defender = await defenderDataFromFlags(f);
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    const bar = progress(ctx.io);
    let r;
    try {
      r = await reconstruct(model, defender, {
        labels: f.labels,
        steps: f.steps,
        batchSize: f.batch,
        schedule: f.schedule,
        reference,
        seed: f.seed,
        runtime: ctx.runtime,
        signal: abort.signal,
        onProgress: (label, step, steps, status) => bar.update(`label ${label}`, step, steps, status),
      });
    } finally {
      bar.stop();
      process.removeListener('SIGINT', onSigint);
    }
    const command = ['scalpel', ...ctx.argv].join(' ');
    if (f.out) await writeReconstruction(f.out, r, model, { model: modelPath, command });
    const rec = r;
    await finishCommand(ctx, {
      json: f.json,
      report: { ...reconstructSummary(rec, { model: modelPath, command, out: f.out }), normalization: task.normalization },
      text: () => reconstructText(rec),
      files: f.html ? { [f.html]: reconstructHtml(rec, modelPath) } : {},
      written: f.out ? [`${f.out}/`] : [],
    });
    return 0;
  },
};
