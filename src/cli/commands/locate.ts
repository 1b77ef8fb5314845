// scalpel locate MODEL: the weights behind an error (AI-Lancet), written to located.json.
import { Option } from 'commander';
import { openClassifierForCommand } from '../open-model.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { fileOfSpec } from '../output-path.js';
import { BLUR_MASK_DEFAULTS } from '../../lancet/blur-pairs.js';
import { writeLocated } from '../../lancet/located-file.js';
import { locateErrors, parseErrorSource, type ErrorSource } from '../../lancet/locate-errors.js';
import { locateHtml } from '../../report/locate-html.js';
import { locateText } from '../../report/locate.js';
import { UsageError, type CommandSpec } from '../command.js';
import { addDefenderOptions, DEFENDER_DATA_HELP, type DefenderFlags } from '../defender-flags.js';
import { errorSource, integer, real, trigger } from '../options.js';
import { progress } from '../progress.js';

interface LocateFlags extends DefenderFlags {
  errors?: string;
  oracleTrigger?: string;
  layer: string;
  pairs: number;
  search: 'coarse-to-fine' | 'binary';
  weighting: 'authors' | 'paper';
  alpha?: number;
  lambda?: number;
  maskSteps?: number;
  out: string;
  json?: JsonFlag;
  html?: string;
  normalize?: Normalization;
}

export const locateCommand: CommandSpec = {
  name: 'locate',
  summary: 'find the few weights behind an error (AI-Lancet), for repair',
  description:
    "AI-Lancet's localisation. Pairs ⟨x, x′⟩ are drawn from the defender's clean data: with --errors trigger:FILE (a trigger file from `scalpel reconstruct`) x is a clean image with the trigger stamped on and x′ the clean image, for every image the model gets right clean and wrong stamped; with --errors misclassified, x is an image the model gets wrong and x′ the same image with a small, clustered region blurred away (mask m = blur(sigmoid(θ)), x′ = (1 − m)⊙x + m⊙blur(x), minimising CE(M(x′), y) + λ·Σm with Adam, lr 0.1, 100 steps, λ = 0.01 per pixel; pairs whose x′ stays wrong are dropped). --oracle-trigger SPEC uses the attacker's own trigger instead: every output is then marked as an oracle result.\n\n" +
    "For each pair, the differential features at the layer's output, df = F(x) − F(x′), are weighted by g = |∂CE(M(x), y)/∂f| as EIf = df ⊙ (g / max g + 0.5) (the authors' code; --weighting paper takes the paper's EIf = α·df + G(∂s/∂f ⊙ df) instead, s the wrong class's score and G scaling its argument to df's largest magnitude, which the paper leaves open), and the importance of each weight of the layer is IV(w) = |∂‖EIf‖₂/∂w|, computed by a second-order graph (scalpel differentiates its own gradient graph of g). The weights are ranked by IV, and the smallest top share whose zeroing fixes the pair is searched (coarse-to-fine: 1e-6, 2e-6, …, 9e-6, 1e-5, … up to the whole layer, then tenths of the last step; or --search binary). Fixed means: predicted as the true label (misclassified), or no longer as the class the trigger sent it to (backdoor). Each weight counts the pairs that located it. --layer auto (default) tries every conv and fully-connected layer and keeps the one that fixes the most pairs with the smallest mean share; every layer tried is reported.\n\n" +
    `${DEFENDER_DATA_HELP} located.json records the pairs' rows so that \`scalpel repair --located\` judges its repair on other pairs.`,
  examples: [
    [
      'scalpel locate badnets.onnx --data fashion-mnist --errors trigger:reconstructed/label-0.safetensors -o located.json',
      'locate the backdoor behind a reconstructed trigger',
    ],
    [
      'scalpel locate badnets.onnx --data fashion-mnist --oracle-trigger patch:4x4@bottom-right:white --layer fc1 -o located.json',
      "the same with the attacker's trigger (an oracle result)",
    ],
    [
      'scalpel locate lenet5.onnx --data fashion-mnist --errors misclassified --pairs 100 -o located.json --html located.html',
      "locate the weights behind the model's own mistakes",
    ],
  ],
  configure(cmd) {
    cmd.argument('<model>', 'ONNX classifier');
    addDefenderOptions(cmd);
    cmd
      .option('--errors <source>', "the errors: 'trigger:FILE' (a reconstructed trigger) or 'misclassified'", errorSource)
      .option(
        '--oracle-trigger <spec>',
        "the attacker's trigger, e.g. patch:4x4@bottom-right:white (outputs are marked oracle; see scalpel help triggers)",
        trigger,
      )
      .option('--layer <name|auto>', 'layer to locate in, or auto', 'auto')
      .option('--pairs <K>', 'most pairs to use', integer(1), 100)
      .addOption(new Option('--search <how>', 'ablation search').choices(['coarse-to-fine', 'binary']).default('coarse-to-fine'))
      .addOption(
        new Option('--weighting <how>', "feature weighting: the authors' df ⊙ (g / max g + 0.5), or the paper's α·df + G(∂s/∂f ⊙ df)")
          .choices(['authors', 'paper'])
          .default('authors'),
      )
      .option('--alpha <α>', "the paper's weighting: α (default 1)", real(0))
      .option('--lambda <λ>', `misclassified: weight of the mask size per pixel (default ${BLUR_MASK_DEFAULTS.lambda})`, real(0))
      .option('--mask-steps <n>', `misclassified: Adam steps of the mask search (default ${BLUR_MASK_DEFAULTS.steps})`, integer(1))
      .requiredOption('-o, --out <located.json>', 'where to write what was located')
      .option('--html <file>', 'also write the report as a self-contained web page');
    addJsonOption(cmd);
    addNormalizeOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as LocateFlags;
    if ((f.errors === undefined) === (f.oracleTrigger === undefined))
      throw new UsageError('give exactly one of --errors trigger:FILE|misclassified or --oracle-trigger SPEC');
    const errors: ErrorSource = f.oracleTrigger !== undefined ? { kind: 'oracle-trigger', spec: f.oracleTrigger } : parseErrorSource(f.errors!);
    if (f.alpha !== undefined && f.weighting !== 'paper') throw new UsageError('--alpha belongs to --weighting paper');
    const { model, normalization } = await openClassifierForCommand(ctx, modelPath, f, { needsImages: true, needsFreeBatch: 'locate' });
    checkOutputs(
      { '-o': f.out, '--html': f.html, '--json': jsonFile(f.json) },
      { model: modelPath, data: f.data, 'defender data': f.defenderData, trigger: fileOfSpec(f.errors), 'oracle trigger': fileOfSpec(f.oracleTrigger) },
    );
    const bar = progress(ctx.io);
    const r = await locateErrors(model, {
      modelPath,
      data: f.data,
      defenderData: f.defenderData,
      seed: f.seed,
      errors,
      pairs: f.pairs,
      layer: f.layer,
      search: f.search,
      weighting: f.weighting,
      alpha: f.alpha,
      blur: { lambda: f.lambda, steps: f.maskSteps },
      runtime: ctx.runtime,
      command: ['scalpel', ...ctx.argv].join(' '),
      onProgress: (stage, done, total) => bar.update(stage, done, total),
    });
    bar.stop();
    await writeLocated(f.out, r.file);
    await finishCommand(ctx, {
      json: f.json,
      report: { ...r.file, available: r.available, defender: r.defender, seconds: r.seconds, normalization },
      text: () => locateText(r),
      files: f.html !== undefined ? { [f.html]: locateHtml(r) } : {},
      written: [f.out],
    });
    return 0;
  },
};
