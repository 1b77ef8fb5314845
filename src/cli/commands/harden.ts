// scalpel harden: corruption-resistant training (from scratch or fine-tuning), compared with the input model.
import { Option } from 'commander';
import { checkOutputPath } from '../output-path.js';
import { openClassifierForCommand } from '../open-model.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';
import { hardenClassifier, HARDEN_SWEEP_DEFAULTS, type HardenMethod } from '../../corruption/harden.js';
import { MODELS } from '../../models/index.js';
import { samePath } from '../../onnx/model-io.js';
import { hardenText } from '../../report/harden.js';
import { hardenHtml } from '../../report/harden-html.js';
import { UsageError, type CommandSpec } from '../command.js';
import { checkOutputs, finishCommand, jsonFile } from '../outputs.js';
import { addDeltaOption, checkDeltaPath, writeEditDelta } from '../delta-flag.js';
import { count, listOf, norm, positive, real, selector } from '../options.js';
import { addTrainingOptions, type TrainingFlags, withTrainingLoop } from '../training-flags.js';

interface HardenFlags extends TrainingFlags {
  model?: string;
  delta?: string;
  out: string;
  alpha?: number;
  eps?: number;
  p?: number;
  n?: number | string;
  lambda?: number;
  q?: number;
  params?: string;
  baseline?: string;
  sweepEps2: number[];
  sweepEpsInf: number[];
  sweepN: number | string;
  sweep: boolean;
  html?: string;
}

/** --html: not one of the files read or written, its directory there, and a sweep to draw; one clear error before any work. */
function checkHtmlPath(html: string, f: HardenFlags, modelPath: string | undefined): void {
  if (html.trim() === '') throw new UsageError('--html needs a file name');
  if (!f.sweep) throw new UsageError('--html draws the comparison sweep: drop --no-sweep, or --html');
  if (samePath(html, f.out)) throw new UsageError(`--html and -o name the same file (${html})`);
  checkOutputPath(html, { model: modelPath, baseline: f.baseline, data: f.data, checkpoint: f.checkpoint, resume: f.resume }, '--html');
}

export const hardenCommand: CommandSpec = {
  name: 'harden',
  summary: 'train a model to resist parameter corruption, and compare it with the input',
  description:
    'Corruption-resistant training (the parameter-corruption paper): each step corrupts the parameters by the worst-case corruption â of the batch gradient (ε, p-norm, n parameters; Proposition 1) and minimises L* = (1−α)·L(w) + α·L(w + â) with â held fixed (--eps; α = 0.5 by default; two passes a step), or the gradient-regularised loss L(w) + λ·||∇L(w)||_q (--lambda; a gradient of a gradient, which resists p-norm corruption for q = p/(p−1)).\n\n' +
    'Give an ONNX model to fine-tune it, or --model NAME to train a zoo model from scratch. Training flags are those of train. The hardened model is written as ONNX (atomically, never over its input) with the settings in its metadata. ε is in the units of the parameters and depends on the model: probe it first (a good ε costs the plain model little accuracy, 10 times ε a lot).\n\n' +
    "A fine-tuned model's BatchNorms stay on their running statistics by default (--batchnorm frozen): corruption strikes the inference-mode model, where BatchNorm does not renormalise a corrupted layer, so that is the model to harden (on the shipped ResNet-20, hardening on batch statistics made it less robust; frozen, +0.6 to +38 points). A zoo model trained from scratch (--model) uses batch statistics.\n\n" +
    "Then both the input model (or --baseline) and the hardened model go through the same gradient-based corruption sweep on the test split of --data (a single file: all of it; the gradient of each model taken on those examples, n = all parameters by default, as the paper's Table 2), and the report compares their accuracy at each ε. Every setting is checked, and the baseline swept, before training starts.",
  examples: [
    [
      'scalpel harden --model lenet5 --data fashion-mnist --epochs 20 --seed 1 --eps 0.2 --baseline lenet5.onnx -o lenet5-hard.onnx',
      'train a hardened LeNet-5 and compare it with a plainly trained one',
    ],
    ['scalpel harden lenet5.onnx --data fashion-mnist --epochs 3 --lr 0.01 --eps 0.2 -o lenet5-hard.onnx', 'fine-tune an existing model to resist corruption'],
    ['scalpel harden --model resnet20 --lambda 0.1 --q 1 -o r20-gradreg.onnx --no-sweep', 'gradient-norm regularisation (resists p = ∞ corruption)'],
    ['scalpel harden model.onnx --eps 0.01 --p inf --n 1% --params kind:conv -o hard.onnx --json', 'corrupt only the top 1% of conv weights during training'],
    [
      'scalpel harden lenet5.onnx --eps 0.2 --epochs 3 -o lenet5-hard.onnx --html harden.html',
      'also write the comparison as a web page (charts of accuracy against ε)',
    ],
  ],
  configure(cmd) {
    cmd
      .argument('[model]', 'ONNX model to fine-tune (or give --model)')
      .addOption(new Option('--model <name>', 'zoo model to train from scratch').choices(Object.keys(MODELS)))
      .option('--data <dir|file>', "training and test data: 'embedded' (default), 'fashion-mnist', an IDX directory or a tensor file")
      .requiredOption('-o, --out <file.onnx>', 'where to write the hardened model')
      .option('--eps <ε>', 'L*: length of the virtual corruption â (this or --lambda)', positive)
      .option('--alpha <α>', 'L*: weight of the corrupted loss (default 0.5)', real(0, 1))
      .option('--p <norm>', "L*: norm of the corruption, ≥ 1 or 'inf' (default 2)", norm)
      .option('--n <count>', "L*: parameters corrupted: a count, a fraction, a percentage or 'all' (default all)", count)
      .option('--lambda <λ>', 'gradient-norm form: weight of ||∇L||_q', real(0))
      .option('--q <norm>', "gradient-norm form: the norm of the gradient, ≥ 1 or 'inf' (default 2)", norm)
      .option(
        '--params <selector>',
        "parameters corrupted or penalised: 'kind:conv,bias', 'layer:conv1', a glob, /regex/ (default all trainable; see scalpel help params)",
        selector,
      )
      .option('--baseline <model.onnx>', 'model to compare with (default the input model)')
      .addOption(
        new Option('--sweep-eps2 <list>', 'comparison: ε values for p = 2')
          .argParser(listOf(positive))
          .default(HARDEN_SWEEP_DEFAULTS.eps2, HARDEN_SWEEP_DEFAULTS.eps2.join(',')),
      )
      .addOption(
        new Option('--sweep-eps-inf <list>', 'comparison: ε values for p = ∞')
          .argParser(listOf(positive))
          .default(HARDEN_SWEEP_DEFAULTS.epsInf, HARDEN_SWEEP_DEFAULTS.epsInf.join(',')),
      )
      .option('--sweep-n <count>', 'comparison: parameters corrupted', count, HARDEN_SWEEP_DEFAULTS.n)
      .option('--no-sweep', 'skip the comparison sweep')
      .option('--html <file>', 'also write the comparison as a self-contained web page (needs the sweep)');
    addNormalizeOption(cmd);
    addDeltaOption(cmd);
    addTrainingOptions(cmd, { batchnorm: 'frozen' });
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as HardenFlags;
    if (!modelPath === !f.model) throw new UsageError('give exactly one of MODEL.onnx (to fine-tune) or --model NAME (to train from scratch)');
    if ((f.eps === undefined) === (f.lambda === undefined))
      throw new UsageError('give exactly one of --eps (the L* loss) or --lambda (gradient-norm regularisation)');
    if (f.lambda !== undefined && (f.alpha !== undefined || f.p !== undefined || f.n !== undefined))
      throw new UsageError('--alpha, --p and --n belong to the L* form (--eps), not to --lambda');
    if (f.eps !== undefined && f.q !== undefined) throw new UsageError('--q belongs to the gradient-norm form (--lambda); the L* form takes --p');
    const method: HardenMethod =
      f.eps !== undefined ? { kind: 'corruption', eps: f.eps, alpha: f.alpha, p: f.p, n: f.n } : { kind: 'grad-norm', lambda: f.lambda!, q: f.q };
    if (f.html !== undefined) checkHtmlPath(f.html, f, modelPath);
    const normalize = (opts as { normalize?: Normalization }).normalize;
    if (normalize && !modelPath)
      throw new UsageError("--normalize applies to a model given as a file; a zoo model trains on the dataset's normalisation and records it");
    const task = modelPath ? await openClassifierForCommand(ctx, modelPath, { normalize, data: f.data }) : undefined;
    const from = task?.model;
    const baseline = f.baseline ? (await openClassifierForCommand(ctx, f.baseline, { normalize, data: f.data })).model : undefined;
    checkOutputs({ '-o': f.out, '--json': jsonFile(f.json), '--html': f.html }, { model: modelPath, baseline: f.baseline, data: f.data });
    const normalization = task?.normalization;
    if (f.delta !== undefined && !from) throw new UsageError('--delta records a fine-tuning: it needs MODEL.onnx');
    if (f.delta !== undefined) checkDeltaPath(f.delta, f.out, { model: modelPath, baseline: f.baseline, data: f.data, html: f.html });
    const { model: hardened, ...result } = await withTrainingLoop(ctx, f, (loop, onProgress) =>
      hardenClassifier({
        ...loop,
        model: f.model,
        from,
        out: f.out,
        method,
        params: f.params,
        baseline,
        baselineName: f.baseline ?? (modelPath ? modelPath : undefined),
        sweep: f.sweep ? { eps2: f.sweepEps2, epsInf: f.sweepEpsInf, n: f.sweepN } : false,
        onProgress,
      }),
    );
    if (f.delta !== undefined && from && hardened) {
      await writeEditDelta(ctx, f.delta, from, hardened);
    }
    const written = result.completed ? [f.out, ...(f.delta !== undefined && hardened ? [f.delta] : [])] : [];
    const files = f.html !== undefined && result.completed ? { [f.html]: hardenHtml(result) } : {};
    await finishCommand(ctx, { json: f.json, report: normalization ? { ...result, normalization } : result, text: () => hardenText(result), files, written });
    if (f.html !== undefined && !result.completed) ctx.io.stderr.write(`nothing written to ${f.html}: the run stopped\n`);
    return result.completed ? 0 : 130;
  },
};
