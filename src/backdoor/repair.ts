// One call behind `scalpel repair`: the defender's data and triggers, a repair method, and the judging before and after.
import { splitValidation } from '../data/batches.js';
import { loadDefenderData } from '../defence/defender-data.js';
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';
import { formatTrigger, parseTrigger, type Trigger } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import { getMetadata, setMetadata } from '../onnx/metadata.js';
import { changedCount, deltaBetween, type SparseDelta } from '../params/delta.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkClass, checkDataFits, classifierIO, imageShape } from '../tasks/classifier.js';
import { matchNormalization } from '../tasks/normalization.js';
import { defenceMetrics, der, type DefenceMetrics } from '../defence/metrics.js';
import { evaluate } from '../tasks/run.js';
import { reconstruct, type ReconstructOptions } from './neural-cleanse.js';
import { readReconstruction } from './reconstruct-output.js';
import type { DefenderTrigger, FineTuneSettings, RepairMethod } from '../defence/repair-method.js';

/** Share of the defender's data held out as the defender's own validation set. */
export const DEFENDER_VALIDATION = 0.1;

export interface RepairOptions {
  method: RepairMethod;
  /** `--data`: the dataset whose training split the defender draws from, and whose test split measures the result. */
  data?: string;
  /** `--defender-data` (see loadDefenderData). */
  defenderData?: string;
  seed?: number;
  /** `--triggers DIR`: the flagged labels and triggers of an earlier `reconstruct -o DIR`. */
  triggersDir?: string;
  /** Settings of the reconstruction run here when a method needs a trigger and none is given. */
  reconstruct?: ReconstructOptions;
  /** `--oracle-trigger SPEC` and `--target`: the attacker's trigger given to the defence; every output says oracle. */
  oracle?: { trigger: string; target: number };
  /** The trigger and target that measure ASR and RA on the test split (default: the model's `scalpel.poison` metadata). */
  measure?: { trigger: string; target: number };
  training: FineTuneSettings;
  /** The method's own flag values. */
  options?: Record<string, unknown>;
  /** The command line, recorded in the repaired model's metadata. */
  command?: string;
  runtime?: RuntimeOptions;
  signal?: AbortSignal;
  onProgress?: (label: string, done: number, total: number, status?: string) => void;
  log?: (line: string) => void;
}

/** ACC, and with a known trigger ASR and RA, of one model on the test split. */
export type Measured = Partial<DefenceMetrics> & { acc: number };

export interface RepairReport {
  method: string;
  /** Where the caller wrote the repaired model and its delta (the library writes nothing). */
  out?: string;
  delta?: string;
  completed: boolean;
  /** True when the attacker's trigger was given to the defence (--oracle-trigger). */
  oracle: boolean;
  /** Where the triggers the defence used came from: 'none', 'reconstructed' (with the flagged labels) or 'oracle'. */
  triggerSource: 'none' | 'reconstructed' | 'oracle';
  triggerLabels: number[];
  /** The defender's data. */
  defender: { source: string; train: number; validation: number };
  /** What measured ASR and RA (the attacker's trigger, for measurement only), when known. */
  measuredWith?: { trigger: string; target: number };
  before: Measured;
  after?: Measured;
  der?: number;
  changedParams?: number;
  totalParams?: number;
  seconds: number;
  details: Record<string, unknown>;
  command?: string;
}

/** A repair: the report, and (when the run completed) the repaired model and its change as a delta. */
export interface RepairResult {
  report: RepairReport;
  model?: Model;
  delta?: SparseDelta;
}

function measureTrigger(model: Model, o: RepairOptions): { trigger: Trigger; target: number } | undefined {
  if (o.measure) return { trigger: parseTrigger(o.measure.trigger), target: o.measure.target };
  const recorded = getMetadata(model, 'scalpel.poison');
  if (!recorded) return undefined;
  const p = JSON.parse(recorded) as { trigger: string; target: number };
  return { trigger: parseTrigger(p.trigger), target: p.target };
}

async function measure(model: Model, test: LabelledData, m: { trigger: Trigger; target: number } | undefined, runtime?: RuntimeOptions): Promise<Measured> {
  if (m) return defenceMetrics(model, test, { trigger: m.trigger, target: m.target, runtime });
  const r = await evaluate(model, matchNormalization(model, test), { runtime });
  return { acc: r.accuracy, examples: r.examples };
}

/**
 * Repair a backdoored classifier with one method, using only the defender's data and the triggers it reconstructed
 * (or, marked oracle, the attacker's), then judge it on the test split: ACC, ASR and RA before and after, DER, the
 * parameters changed and the wall time. Returns the repaired model (its metadata records the method and the command)
 * and the change as a delta; writing them is the caller's business.
 *
 * @example
 * const { report, model } = await repairModel(readModel('models/lenet5-badnets.onnx'), { method: finePrune, data: 'fashion-mnist',
 *   training: { epochs: 5, lr: 0.01, batchSize: 64, frozenBatchNorm: false }, options: { maxDrop: 4 } });
 * if (model) writeModel(model, 'fp.onnx');
 */
export async function repairModel(model: Model, o: RepairOptions): Promise<RepairResult> {
  const io = classifierIO(model);
  imageShape(io);
  if (o.oracle) checkClass(io.classes, o.oracle.target, "the oracle trigger's target");
  if (o.measure) checkClass(io.classes, o.measure.target, "the measuring trigger's target");
  o.method.check?.(o.options ?? {});
  const seed = o.seed ?? 0;
  const defenderAll = matchNormalization(model, await loadDefenderData({ data: o.data, defenderData: o.defenderData, seed }));
  checkDataFits(model, defenderAll);
  const { train, validation } = splitValidation(defenderAll, DEFENDER_VALIDATION, seed);
  if (train.x.dims[0] === 0 || validation.x.dims[0] === 0)
    throw new Error(`defender data ${defenderAll.source} has ${defenderAll.x.dims[0]} examples: too few to hold out a validation part`);
  const test = await loadLabelledData(o.data, 'test');
  checkDataFits(model, matchNormalization(model, test));
  const measuredWith = measureTrigger(model, o);

  let triggers: DefenderTrigger[] = [];
  let triggerSource: RepairReport['triggerSource'] = 'none';
  if (o.method.needsTrigger) {
    if (o.oracle) {
      triggers = [{ label: o.oracle.target, trigger: parseTrigger(o.oracle.trigger) }];
      triggerSource = 'oracle';
    } else {
      triggers = o.triggersDir
        ? readReconstruction(o.triggersDir, model).flagged
        : (
            await reconstruct(model, defenderAll, {
              ...o.reconstruct,
              seed,
              runtime: o.runtime,
              signal: o.signal,
              onProgress: (l, s, n) => o.onProgress?.(`reconstruct ${l}`, s, n),
            })
          ).labels
            .filter((l) => l.flagged)
            .map((l) => ({ label: l.label, trigger: l.trigger }));
      triggerSource = 'reconstructed';
      if (triggers.length === 0) {
        throw new Error(
          `${o.method.name} needs a trigger, but trigger reconstruction flagged no label${o.triggersDir ? ` in ${o.triggersDir}` : ''}: there is no backdoor to unlearn (an oracle run takes --oracle-trigger SPEC --target N)`,
        );
      }
    }
  }

  const before = await measure(model, test, measuredWith, o.runtime);
  const t0 = performance.now();
  const outcome = await o.method.run({
    model,
    defender: { train, validation },
    triggers,
    seed,
    training: o.training,
    options: o.options ?? {},
    runtime: o.runtime,
    signal: o.signal,
    onProgress: o.onProgress,
    log: o.log,
  });
  const seconds = (performance.now() - t0) / 1000;
  const report: RepairReport = {
    method: o.method.name,
    completed: outcome.completed,
    oracle: triggerSource === 'oracle' || outcome.oracle === true,
    triggerSource,
    triggerLabels: triggers.map((t) => t.label),
    defender: { source: defenderAll.source, train: train.x.dims[0], validation: validation.x.dims[0] },
    measuredWith: measuredWith ? { trigger: formatTrigger(measuredWith.trigger), target: measuredWith.target } : undefined,
    before,
    seconds,
    details: outcome.details,
    command: o.command,
  };
  if (!outcome.completed) return { report };
  const repaired = outcome.model;
  setMetadata(repaired, {
    'scalpel.repair': JSON.stringify({ method: o.method.name, oracle: report.oracle, triggers: triggerSource, labels: report.triggerLabels }),
    ...(o.command ? { 'scalpel.repair_command': o.command } : {}),
  });
  report.after = await measure(repaired, test, measuredWith, o.runtime);
  if (report.after.asr !== undefined && before.asr !== undefined)
    report.der = der({ acc: before.acc, asr: before.asr }, { acc: report.after.acc, asr: report.after.asr });
  const delta = deltaBetween(model, repaired);
  report.changedParams = changedCount(delta);
  report.totalParams = [...model.graph.initializers.values()].filter((i) => i.tensor?.dtype === 'float32').reduce((a, i) => a + i.tensor!.data.length, 0);
  return { report, model: repaired, delta };
}
