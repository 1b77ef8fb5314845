// scalpel probe MODEL: worst-case (gradient-based) vs random parameter corruption, and vulnerability maps.
import { Option } from 'commander';
import { parseGrouping } from '../../params/select.js';
import { openClassifierForCommand } from '../open-model.js';
import { addNormalizeOption } from '../normalize-flag.js';
import type { Normalization } from '../../data/triggers.js';
import { PROBE_DEFAULTS, probe, type ProbeMethod } from '../../corruption/probe.js';
import { addJsonOption, checkOutputs, finishCommand, jsonFile, type JsonFlag } from '../outputs.js';
import { probeText } from '../../report/probe.js';
import { probeHtml } from '../../report/probe-html.js';
import { UsageError, type CommandSpec } from '../command.js';
import { checkedBy, count, integer, listOf, norm, oneOf, positive, selector } from '../options.js';
import { deltaFromCorruption, type SparseDelta } from '../../params/delta.js';
import { writeDelta } from '../../params/delta-file.js';
import { progress } from '../progress.js';

interface ProbeFlags {
  data?: string;
  split: 'train' | 'test';
  gradData?: string;
  gradSplit: 'train' | 'test';
  maxExamples: number;
  eps: number[];
  n: (number | string)[];
  norm: number[];
  method?: ProbeMethod[];
  trials: number;
  params?: string;
  by?: string;
  batch: number;
  seed: number;
  trialExamples?: number;
  json?: JsonFlag;
  html?: string;
  saveDelta?: string;
}

export const probeCommand: CommandSpec = {
  name: 'probe',
  summary: 'worst-case vs random parameter corruption; vulnerability maps',
  description:
    "Corrupt a classifier's parameters and measure the damage, as in \"Exploring the Vulnerability of Deep Neural Networks: A Study of Parameter Corruption\" (AAAI 2021). For every ε × n × p (the corruption set S = {a : ||a||_p = ε, ||a||_0 ≤ n}) it applies the worst-case corruption to first order (gradient-based, the closed form of the paper's Proposition 1) and random corruptions from the same set (--trials draws), and reports accuracy and loss change after each, with the first-order estimate ε||h||_q beside the measured ΔL (the paper's Table 1). With --by kind|layer it corrupts one group of parameters at a time and maps which are most vulnerable (its Figure 4); grouping defaults to the gradient method only.\n\n" +
    "The gradient is taken on the training split (as in the paper), over the first --max-examples examples of --grad-data (default: the training split of --data); the damage is measured on --data --split (default the test split). The training gradient of a well-fitted model is small and need not point uphill on the test set (it partly points towards smaller weights, which an overconfident model's test loss likes), so at small ε the training-set direction may even lower the test loss; --grad-split test takes the gradient on the evaluation split instead.\n\n" +
    "With --method random, --norm 2, --n all and --trials ≥ 100 it also checks Theorem 1 (the paper's Table 3) at the first ε: the 90/95/99.5% quantiles of |ΔL| over the trials beside εG times the quantiles of η = |aᵀg|/(εG), whose density is 2Γ(k/2)/(√π Γ((k−1)/2))(1−x²)^((k−3)/2); G is the gradient norm on the same examples as ΔL. When --trials exceeds 100, random trials evaluate on the first --trial-examples examples (default 512) to keep 10,000 trials affordable.\n\n" +
    "--params selects parameters: 'kind:conv,bias', 'layer:conv1,fc1', a glob ('layer1.*'), a /regex/, or clauses joined by ';' (all must hold). --by takes kind, layer, tensor, prefix:N (names cut after N dots, e.g. ResNet stages) or named groups 'early=conv1.*;late=fc*'. --n takes counts (10), fractions (0.01), percentages (1%) and 'all'; in a group, a count larger than the group is the whole group, and a fraction is of the group.\n\n" +
    '--json writes the whole report: the model, data and settings, the uncorrupted baseline {loss, accuracy}, and one record per setting with method, norm, n (resolved), eps, group (with --by), firstOrder (ε||h||_q; for random, the mean |aᵀg|), loss, lossChange, accuracy, changed (entries actually changed), changedByTensor (gradient-based: changed entries per parameter tensor), and for random trials and quantiles of loss and accuracy over them; theorem1 when checked.',
  examples: [
    ['scalpel probe lenet5.onnx --data fashion-mnist', 'the default sweep on the full Fashion-MNIST test set'],
    ['scalpel probe lenet5.onnx --eps 0.01 --n 10,100,all --norm inf --method gradient,random --trials 20', 'one row of Table 1'],
    ['scalpel probe resnet20.onnx --by kind --eps 1e-3,1e-2 --n 10,100 --html vuln.html', 'a vulnerability map by parameter kind, as a web page'],
    ['scalpel probe lenet5.onnx --method random --norm 2 --n all --eps 1e-2 --trials 10000 --json t1.json', 'the Theorem 1 check (Table 3)'],
    ["scalpel probe model.onnx --params 'kind:conv;layer1.*' --by layer", 'only the conv weights of the first stage, layer by layer'],
  ],
  configure(cmd) {
    cmd
      .argument('<model>', 'ONNX classifier')
      .option('--data <dir|file>', "evaluation data: 'embedded' (default), 'fashion-mnist', an IDX directory, a .safetensors/.npz file with x and y")
      .addOption(new Option('--split <name>', 'split of --data to evaluate on').choices(['test', 'train']).default('test'))
      .option('--grad-data <dir|file>', 'data the gradient is taken on (default: --data)')
      .addOption(new Option('--grad-split <name>', 'split of --grad-data').choices(['train', 'test']).default('train'))
      .option('--max-examples <n>', 'gradient over the first n examples of --grad-data', integer(1), PROBE_DEFAULTS.gradExamples)
      .addOption(new Option('--eps <list>', 'corruption lengths ε > 0').argParser(listOf(positive)).default(PROBE_DEFAULTS.eps, '1e-3,1e-2,1e-1'))
      .addOption(
        new Option('--n <list>', "parameters changed at most: counts, fractions, percentages, 'all'")
          .argParser(listOf(count))
          .default(PROBE_DEFAULTS.n, '10,100,1%'),
      )
      .addOption(new Option('--norm <list>', 'norms p ≥ 1: inf, 2, 1, 1.5, …').argParser(listOf(norm)).default(PROBE_DEFAULTS.norms, 'inf,2'))
      .option('--method <list>', 'gradient, random (default both; gradient only with --by)', listOf(oneOf(['gradient', 'random'] as const)))
      .option('--trials <k>', 'random corruptions per setting', integer(1), PROBE_DEFAULTS.trials)
      .option('--params <selector>', 'which parameters to corrupt (default every trainable one; see scalpel help params)', selector)
      .option(
        '--by <grouping>',
        'vulnerability map: kind, layer, tensor, prefix:N or name=glob,…;…',
        checkedBy((v) => parseGrouping(v)),
      )
      .option('--batch <n>', 'examples per onnxruntime run', integer(1), PROBE_DEFAULTS.batchSize)
      .option('--seed <n>', 'seed of the random corruptions', integer(0), 0)
      .option('--trial-examples <n>', 'random trials evaluate on the first n examples (default all; 512 when --trials > 100)', integer(1))
      .option('--html <file>', 'write the report as a self-contained web page')
      .option(
        '--save-delta <file>',
        'write the gradient-based corruption of a single setting (one ε, n and p; no --by) as a delta file that `scalpel apply` turns into a corrupted model',
      );
    addJsonOption(cmd);
    addNormalizeOption(cmd);
  },
  async run(ctx, [modelPath], opts) {
    const f = opts as unknown as ProbeFlags;
    if (
      f.saveDelta !== undefined &&
      (f.eps.length !== 1 || f.n.length !== 1 || f.norm.length !== 1 || f.by !== undefined || (f.method && !f.method.includes('gradient')))
    ) {
      throw new UsageError('--save-delta saves the gradient-based corruption of one setting: give one --eps, one --n and one --norm, without --by');
    }
    checkOutputs(
      { '--json': jsonFile(f.json), '--html': f.html, '--save-delta': f.saveDelta },
      { model: modelPath, data: f.data, 'gradient data': f.gradData },
    );
    const { model, normalization } = await openClassifierForCommand(ctx, modelPath, {
      normalize: (opts as { normalize?: Normalization }).normalize,
      data: f.data,
    });
    const bar = progress(ctx.io);
    let report;
    let corruption: SparseDelta | undefined;
    try {
      report = await probe(model, {
        modelName: modelPath,
        data: f.data,
        split: f.split,
        gradData: f.gradData,
        gradSplit: f.gradSplit,
        gradExamples: f.maxExamples,
        eps: f.eps,
        n: f.n,
        norms: f.norm,
        methods: f.method,
        trials: f.trials,
        params: f.params,
        by: f.by,
        batchSize: f.batch,
        seed: f.seed,
        trialExamples: f.trialExamples,
        runtime: ctx.runtime,
        onProgress: (label, done, total) => bar.update(label, done, total),
        onGradientCorruption: f.saveDelta === undefined ? undefined : (_record, names, deltas) => (corruption = deltaFromCorruption(model, names, deltas)),
      });
    } finally {
      bar.stop();
    }
    report.settings.command = ['scalpel', ...ctx.argv].join(' ');
    const written: string[] = [];
    if (f.saveDelta !== undefined && corruption) {
      await writeDelta(f.saveDelta, corruption, { command: report.settings.command });
      written.push(f.saveDelta);
    }
    const r = report;
    await finishCommand(ctx, {
      json: f.json,
      report: { ...r, normalization },
      text: () => probeText(r),
      files: f.html ? { [f.html]: probeHtml(r) } : {},
      written,
    });
    return 0;
  },
};
