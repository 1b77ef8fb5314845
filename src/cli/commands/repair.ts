// scalpel repair MODEL --method NAME: remove a backdoor with the defender's data only, and judge the result.
import { InvalidArgumentError, Option } from 'commander';
import { openClassifierForCommand } from '../open-model.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { fileOfSpec } from '../output-path.js';
import { repairModel } from '../../backdoor/repair.js';
import { writeModel } from '../../onnx/model-io.js';
import { writeDelta } from '../../params/delta-file.js';
import { repairHtml } from '../../report/repair-html.js';
import { repairText } from '../../report/repair.js';
import { UsageError, type CommandSpec } from '../command.js';
import { addDefenderOptions, DEFENDER_DATA_HELP, type DefenderFlags } from '../defender-flags.js';
import { integer, real, trigger } from '../options.js';
import { progress } from '../progress.js';
import { REPAIR_METHODS } from '../repair-methods.js';

interface RepairFlags extends DefenderFlags {
  method: string;
  out: string;
  triggers?: string;
  oracleTrigger?: string;
  target: number;
  evalTrigger?: string;
  evalTarget: number;
  epochs: number;
  lr: number;
  batch: number;
  batchnorm: 'batch' | 'frozen';
  delta?: string;
  html?: string;
  json?: JsonFlag;
  [methodFlag: string]: unknown;
  normalize?: Normalization;
}

const methodList = () => REPAIR_METHODS.map((m) => `${m.name}: ${m.summary}`).join('; ');

export const repairCommand: CommandSpec = {
  name: 'repair',
  get summary() {
    return `remove a backdoor (${REPAIR_METHODS.map((m) => m.name).join(', ')}) and judge it: ACC, ASR, RA, DER`;
  },
  get description() {
    return (
      `Repair a backdoored image classifier with one method, using only the defender's data, then judge it. Methods: ${methodList()}.\n\n` +
      `${DEFENDER_DATA_HELP} A tenth of it is held out as the defender's own validation set, which the methods' stopping rules use (fine-prune's --max-drop, for one).\n\n` +
      "A method that needs a trigger (unlearn) takes the labels flagged by trigger reconstruction: from an earlier `scalpel reconstruct -o DIR` with --triggers DIR, or reconstructed here on the defender's data. --oracle-trigger SPEC --target N gives it the attacker's trigger instead; every output then says ORACLE.\n\n" +
      "The test split of --data is read only to measure, before and after: clean accuracy (ACC), attack success (ASR, stamped test images whose class is not the target classified as the target) and robust accuracy (RA, the same images classified as their true class), with the attacker's trigger from the model's metadata (scalpel.poison, as `train --poison` records) or --eval-trigger/--eval-target; then DER = [max(0, ΔASR) − max(0, ΔACC) + 1] / 2 (Δ = before − after), the number of parameters changed and the wall time.\n\n" +
      'Writes the repaired model atomically (its metadata records the method and this command); --delta FILE writes the change as a delta file (see `scalpel help apply`); --html FILE a web page.'
    );
  },
  examples: [
    [
      'scalpel reconstruct models/lenet5-badnets.onnx --data fashion-mnist -o nc && scalpel repair models/lenet5-badnets.onnx --method unlearn --data fashion-mnist --triggers nc -o unlearned.onnx',
      'Neural Cleanse: reconstruct, then unlearn the flagged trigger',
    ],
    [
      'scalpel repair models/lenet5-badnets.onnx --method fine-prune --data fashion-mnist --max-drop 4 -o pruned.onnx --delta fp.safetensors',
      'fine-pruning, and the change as a delta',
    ],
    [
      'scalpel repair models/lenet5-badnets.onnx --method unlearn --oracle-trigger patch:4x4@bottom-right:white --target 0 -o oracle.onnx',
      "an oracle run (the attacker's trigger given)",
    ],
    [
      'scalpel locate models/lenet5-badnets.onnx --errors trigger:nc/label-0.safetensors -o located.json && scalpel repair models/lenet5-badnets.onnx --method flip --located located.json --triggers nc --flip-max-drop 1 -o flipped.onnx',
      "AI-Lancet's neuron flip: locate the weights behind the reconstructed trigger, then negate the fewest that fix it, within 1 accuracy point",
    ],
    [
      'scalpel locate lenet5.onnx --errors misclassified -o located.json && scalpel repair lenet5.onnx --method neuron-finetune --located located.json --clean 1000 --epochs 3 -o tuned.onnx',
      "AI-Lancet's neuron fine-tuning: tune only the weights located behind the model's own mistakes",
    ],
  ],
  configure(cmd) {
    cmd.argument('<model>', 'ONNX image classifier (backdoored)');
    cmd.addOption(new Option('--method <name>', 'repair method').choices(REPAIR_METHODS.map((m) => m.name)).makeOptionMandatory());
    addDefenderOptions(cmd)
      .requiredOption('-o, --out <file.onnx>', 'where to write the repaired model')
      .option('--triggers <dir>', 'the triggers of an earlier `scalpel reconstruct -o DIR` (its flagged labels)')
      .option('--oracle-trigger <spec>', "ORACLE: give the defence the attacker's trigger (patch:…, blend:…, file:…; see scalpel help triggers)", trigger)
      .option('--target <label>', "the oracle trigger's target label", integer(0), 0)
      .option('--eval-trigger <spec>', "the attacker's trigger for measuring ASR and RA (default: the model's scalpel.poison metadata)", trigger)
      .option('--eval-target <label>', 'its target label (with --eval-trigger)', integer(0), 0)
      .option('--epochs <n>', 'fine-tuning epochs over the defender data', integer(1), 5)
      .option('--lr <rate>', 'fine-tuning learning rate (SGD, momentum 0.9, cosine schedule)', real(0), 0.01)
      .option('--batch <n>', 'fine-tuning examples per step', integer(1), 64)
      .addOption(
        new Option('--batchnorm <mode>', "BatchNorms while fine-tuning: 'batch' statistics or 'frozen' running ones")
          .choices(['batch', 'frozen'])
          .default('batch'),
      )
      .option('--delta <file>', 'write the change as a delta file (safetensors)')
      .option('--html <file>', 'write the report as a self-contained web page');
    addJsonOption(cmd);
    addNormalizeOption(cmd);
    const seen = new Set<string>();
    for (const m of REPAIR_METHODS) {
      for (const fl of m.flags ?? []) {
        if (seen.has(fl.flags)) continue;
        seen.add(fl.flags);
        const opt = new Option(fl.flags, fl.description);
        const parse = fl.parse;
        if (parse) {
          opt.argParser((v: string) => {
            try {
              return parse(v);
            } catch (e) {
              throw new InvalidArgumentError((e as Error).message);
            }
          });
        }
        if (fl.default !== undefined) opt.default(fl.default);
        cmd.addOption(opt);
      }
    }
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as RepairFlags;
    const method = REPAIR_METHODS.find((m) => m.name === f.method)!;
    if (f.oracleTrigger && f.triggers) throw new UsageError('give --triggers DIR (reconstructed) or --oracle-trigger SPEC, not both');
    checkOutputs(
      { '--out': f.out, '--delta': f.delta, '--html': f.html, '--json': jsonFile(f.json) },
      {
        model: modelPath,
        data: f.data,
        'defender data': f.defenderData,
        located: f.located as string | undefined,
        triggers: f.triggers,
        'oracle trigger': fileOfSpec(f.oracleTrigger),
        'eval trigger': fileOfSpec(f.evalTrigger),
      },
    );
    const { model, normalization } = await openClassifierForCommand(ctx, modelPath, f, { needsImages: true });
    const options: Record<string, unknown> = {};
    for (const fl of method.flags ?? []) {
      const key = fl.flags
        .replace(/^--/, '')
        .split(' ')[0]
        .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      options[key] = f[key];
    }
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    const bar = progress(ctx.io);
    const command = ['scalpel', ...ctx.argv].join(' ');
    let r;
    try {
      r = await repairModel(model, {
        method,
        data: f.data,
        defenderData: f.defenderData,
        seed: f.seed,
        triggersDir: f.triggers,
        oracle: f.oracleTrigger ? { trigger: f.oracleTrigger, target: f.target } : undefined,
        measure: f.evalTrigger ? { trigger: f.evalTrigger, target: f.evalTarget } : undefined,
        training: { epochs: f.epochs, lr: f.lr, batchSize: f.batch, frozenBatchNorm: f.batchnorm === 'frozen' },
        options,
        command,
        runtime: ctx.runtime,
        signal: abort.signal,
        onProgress: (label, done, total, status) => bar.update(label, done, total, status),
        log: (line) => {
          bar.stop();
          if (f.json !== true) ctx.io.stderr.write(`${line}\n`);
        },
      });
    } finally {
      bar.stop();
      process.removeListener('SIGINT', onSigint);
    }
    const rep = { ...r.report, out: f.out, delta: f.delta };
    if (r.model) writeModel(r.model, f.out);
    if (r.delta && f.delta) await writeDelta(f.delta, r.delta, { command });
    await finishCommand(ctx, {
      json: f.json,
      report: { model: modelPath, ...rep, normalization },
      text: () => repairText(rep),
      files: f.html && rep.completed ? { [f.html]: repairHtml(rep, modelPath) } : {},
      written: rep.completed ? [f.out, ...(f.delta ? [f.delta] : [])] : [],
    });
    return rep.completed ? 0 : 130;
  },
};
