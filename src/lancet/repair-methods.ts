// AI-Lancet's methods of `scalpel repair`: flip and neuron-finetune, behind the defences' RepairMethod contract.
import { takeRows, type Dataset } from '../data/batches.js';
import type { LabelledData } from '../data/load-dataset.js';
import { parseTrigger } from '../data/triggers.js';
import type { RepairContext, RepairMethod } from '../defence/repair-method.js';
import { Rng } from '../tensor/rng.js';
import { flipRepair } from './flip.js';
import { readLocated, type LocatedFile } from './located-file.js';
import { concatData, NEURON_FINETUNE_DEFAULTS, neuronFinetune } from './neuron-finetune.js';
import { pairKey, type PairSet } from './pairs.js';
import { triggerPairs } from './trigger-pairs.js';
import { runClassifier } from '../tasks/run.js';
import { stamper } from './locate-errors.js';

/** Most held-out pairs a flip is judged on. */
export const FLIP_HELD_OUT = 1000;

function share(min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`expected a number in [${min}, ${max}], got '${v}'`);
    return n;
  };
}

const LOCATED_FLAG = { flags: '--located <located.json>', description: 'flip, neuron-finetune: what `scalpel locate` found for this model' };

function located(ctx: RepairContext): LocatedFile {
  const path = ctx.options.located as string | undefined;
  if (!path) throw new Error('this method needs --located located.json (from scalpel locate)');
  return readLocated(path, ctx.model);
}

function checkLocated(options: Record<string, unknown>): void {
  if (!options.located) throw new Error('this method needs --located located.json (from scalpel locate)');
}

/** The defender's whole data (training and validation parts) as one set, normalization kept. */
function allDefender(ctx: RepairContext): LabelledData {
  const { train, validation } = ctx.defender;
  return { ...train, ...concatData([train, validation]) };
}

/**
 * `repair --method flip`: negate the located weights in order of their count, the fewest that fix the error on the
 * defender's pairs held out from those that located them (pairs made with the defence's trigger: reconstructed, or
 * the oracle's) within an accuracy budget on the defender's validation images. No training.
 */
export const flip: RepairMethod = {
  name: 'flip',
  summary: "AI-Lancet's neuron flip: negate the fewest located weights (by count) that fix the trigger's errors on held-out defender pairs",
  needsTrigger: true,
  flags: [
    LOCATED_FLAG,
    { flags: '--flip-goal <share>', description: 'flip: share of held-out pairs to fix (default 0.99); the fewest flips reaching it', parse: share(0.01, 1) },
    {
      flags: '--flip-max-drop <points>',
      description:
        "flip: most accuracy points the flip may cost on the held-out pairs' clean images and on the defender's validation images (default 1; the unit of --max-drop)",
      parse: (v) => share(0, 100)(v) / 100,
    },
  ],
  check: checkLocated,
  async run(ctx) {
    const loc = located(ctx);
    const used = new Set(loc.images);
    const data = allDefender(ctx);
    const pairs: PairSet['pairs'] = [];
    let set: PairSet | undefined;
    for (const t of ctx.triggers) {
      set = await triggerPairs(ctx.model, data, stamper(t.trigger, data), { source: 'repair', oracle: false, seed: ctx.seed, runtime: ctx.runtime });
      pairs.push(...set.pairs.filter((p) => !used.has(pairKey(p, set!.fix))));
    }
    const heldOut: PairSet = { ...set!, pairs: pairs.slice(0, FLIP_HELD_OUT) };
    const r = await flipRepair(ctx.model, loc.layer, loc.weights, heldOut, {
      goal: ctx.options.flipGoal as number | undefined,
      maxDrop: ctx.options.flipMaxDrop as number | undefined,
      clean: ctx.defender.validation,
      runtime: ctx.runtime,
      onProgress: (d, n) => ctx.onProgress?.('flip', d, n),
    });
    return {
      model: r.model,
      completed: true,
      oracle: loc.oracle,
      details: {
        located: ctx.options.located,
        locatedFrom: loc.source,
        locatedOracle: loc.oracle,
        layer: r.param,
        locatedWeights: loc.weights.length,
        flipped: r.flipped.length,
        heldOutPairs: r.pairs,
        goal: r.goal,
        maxDrop: r.maxDrop,
        fixedShare: r.chosen.fixedShare,
        heldOutCleanAccuracy: r.chosen.cleanAccuracy,
        defenderValidationAccuracy: r.chosen.defenderAccuracy,
        curve: r.curve,
      },
    };
  },
};

/** The errors a located.json was made from, as inputs with their true labels, drawn from the defender's data. */
async function errorSet(ctx: RepairContext, loc: LocatedFile, data: LabelledData): Promise<Dataset> {
  if (loc.fix === 'true-label') {
    const pred = (await runClassifier(ctx.model, data.x, { runtime: ctx.runtime })).predictions;
    const rows = Array.from(pred.keys()).filter((i) => pred[i] !== Number(data.y.data[i]));
    return { x: takeRows(data.x, rows), y: takeRows(data.y, rows) };
  }
  // A trigger's errors: the trigger the located.json records (a reconstructed file, or the oracle's spec).
  const spec = loc.source.replace(/^oracle-trigger:/, '').replace(/^trigger:/, '');
  const trigger = parseTrigger(/^(patch|blend|file):/.test(spec) ? spec : `file:${spec}`);
  const set = await triggerPairs(ctx.model, data, stamper(trigger, data), { source: loc.source, oracle: loc.oracle, seed: ctx.seed, runtime: ctx.runtime });
  const x = set.pairs.map((p) => p.x);
  const len = x[0]?.length ?? 0;
  const xs = new Float32Array(x.length * len);
  x.forEach((r, i) => xs.set(r, i * len));
  return {
    x: { dtype: 'float32', dims: [x.length, ...set.dims], data: xs },
    y: { dtype: 'int64', dims: [x.length], data: BigInt64Array.from(set.pairs, (p) => BigInt(p.label)) },
  };
}

/**
 * `repair --method neuron-finetune`: fine-tune only the located weights on the error set (the defender's inputs
 * that show the located error, with their true labels) plus `--clean` of the defender's correctly classified
 * images, distilling the original model (β = --distill, T = --temperature; Adam at --lr for --epochs).
 */
export const neuronFinetuneMethod: RepairMethod = {
  name: 'neuron-finetune',
  summary: "AI-Lancet's neuron fine-tuning: train only the located weights on the errors plus some clean defender images, distilling the original model",
  needsTrigger: false,
  flags: [
    LOCATED_FLAG,
    {
      flags: '--distill <β>',
      description: `neuron-finetune: weight of the distillation target (default ${NEURON_FINETUNE_DEFAULTS.beta})`,
      parse: share(0, 0.999),
    },
    {
      flags: '--temperature <T>',
      description: `neuron-finetune: softmax temperature (default ${NEURON_FINETUNE_DEFAULTS.temperature})`,
      parse: share(0.01, 100),
    },
    {
      flags: '--clean <n>',
      description: 'neuron-finetune: clean defender images added to the errors (default 1000)',
      parse: (v) => {
        const n = Number(v);
        if (!/^\d+$/.test(v.trim()) || n < 0) throw new Error(`expected a whole number ≥ 0, got '${v}'`);
        return n;
      },
    },
  ],
  check: checkLocated,
  async run(ctx) {
    const loc = located(ctx);
    const train = ctx.defender.train;
    const errors = await errorSet(ctx, loc, train);
    if (errors.x.dims[0] === 0) throw new Error(`no errors to tune on: the defender's data shows none of the errors ${loc.source} located`);
    const pred = (await runClassifier(ctx.model, train.x, { runtime: ctx.runtime })).predictions;
    const right = Array.from(pred.keys()).filter((i) => pred[i] === Number(train.y.data[i]));
    const clean = new Rng(ctx.seed + 1).shuffle(right).slice(0, (ctx.options.clean as number | undefined) ?? 1000);
    const data = concatData([errors, { x: takeRows(train.x, clean), y: takeRows(train.y, clean) }]);
    const r = await neuronFinetune(ctx.model, { param: loc.param, indices: loc.weights.map((w) => w.index) }, data, {
      beta: ctx.options.distill as number | undefined,
      temperature: ctx.options.temperature as number | undefined,
      epochs: ctx.training.epochs,
      lr: ctx.training.lr,
      batchSize: ctx.training.batchSize,
      seed: ctx.seed,
      runtime: ctx.runtime,
      onStep: (s, n, l) => ctx.onProgress?.('neuron-finetune', s, n, `loss ${l.toFixed(3)}`),
    });
    return {
      model: r.model,
      completed: r.completed,
      oracle: loc.oracle,
      details: {
        located: ctx.options.located,
        locatedFrom: loc.source,
        locatedOracle: loc.oracle,
        layer: loc.param,
        tunedWeights: loc.weights.length,
        errors: errors.x.dims[0],
        clean: clean.length,
        epochs: r.history.length,
      },
    };
  },
};

/** flip, neuron-finetune. */
export const LANCET_REPAIR_METHODS: readonly RepairMethod[] = [flip, neuronFinetuneMethod];
