// One call behind `scalpel repair`: the defender's data and triggers, a repair method, and the judging before and after.
import { splitValidation } from '../data/batches.js';
import { loadDefenderData } from '../defence/defender-data.js';
import { loadLabelledData, type LabelledData } from '../data/load-dataset.js';
import { formatTrigger, parseTrigger, type Trigger } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import { getMetadata, setMetadata } from '../onnx/metadata.js';
import { writeModel } from '../onnx/model-io.js';
import { changedCount, deltaBetween } from '../params/delta.js';
import { writeDelta } from '../params/delta-file.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkDataFits, imageShape } from '../tasks/classifier.js';
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
  out: string;
  delta?: string;
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
  out: string;
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
  delta?: string;
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
 * parameters changed and the wall time. Writes the model (metadata records the command) and, optionally, the delta.
 *
 * @example
 * const r = await repairModel(readModel('models/lenet5-badnets.onnx'), { method: finePrune, data: 'fashion-mnist',
 *   training: { epochs: 5, lr: 0.01, batchSize: 64, frozenBatchNorm: false }, options: { maxDrop: 4 }, out: 'fp.onnx' });
 */
export async function repairModel(model: Model, o: RepairOptions): Promise<RepairReport> {
  imageShape(model);
  o.method.check?.(o.options ?? {});
  const seed = o.seed ?? 0;
  const defenderAll = matchNormalization(model, await loadDefenderData({ data: o.data, defenderData: o.defenderData, seed }));
  checkDataFits(model, defenderAll);
  const { train, validation } = splitValidation(defenderAll, DEFENDER_VALIDATION, seed);
  if (train.x.dims[0] === 0 || validation.x.dims[0] === 0) throw new Error(`defender data ${defenderAll.source} has ${defenderAll.x.dims[0]} examples: too few to hold out a validation part`);
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
        ? readReconstruction(o.triggersDir).flagged
        : (await reconstruct(model, defenderAll, { ...o.reconstruct, seed, runtime: o.runtime, signal: o.signal, onProgress: (l, s, n) => o.onProgress?.(`reconstruct ${l}`, s, n) })).labels
            .filter((l) => l.flagged)
            .map((l) => ({ label: l.label, trigger: l.trigger }));
      triggerSource = 'reconstructed';
      if (triggers.length === 0) {
        throw new Error(`${o.method.name} needs a trigger, but trigger reconstruction flagged no label${o.triggersDir ? ` in ${o.triggersDir}` : ''}: there is no backdoor to unlearn (an oracle run takes --oracle-trigger SPEC --target N)`);
      }
    }
  }

  const before = await measure(model, test, measuredWith, o.runtime);
  const t0 = performance.now();
  const outcome = await o.method.run({
    model, defender: { train, validation }, triggers, seed, training: o.training, options: o.options ?? {},
    runtime: o.runtime, signal: o.signal, onProgress: o.onProgress, log: o.log,
  });
  const seconds = (performance.now() - t0) / 1000;
  const report: RepairReport = {
    method: o.method.name, out: o.out, completed: outcome.completed, oracle: triggerSource === 'oracle', triggerSource,
    triggerLabels: triggers.map((t) => t.label),
    defender: { source: defenderAll.source, train: train.x.dims[0], validation: validation.x.dims[0] },
    measuredWith: measuredWith ? { trigger: formatTrigger(measuredWith.trigger), target: measuredWith.target } : undefined,
    before, seconds, details: outcome.details, command: o.command, delta: o.delta,
  };
  if (!outcome.completed) return report;
  const repaired = outcome.model;
  setMetadata(repaired, {
    'scalpel.repair': JSON.stringify({ method: o.method.name, oracle: report.oracle, triggers: triggerSource, labels: report.triggerLabels }),
    ...(o.command ? { 'scalpel.repair_command': o.command } : {}),
  });
  report.after = await measure(repaired, test, measuredWith, o.runtime);
  if (report.after.asr !== undefined && before.asr !== undefined) report.der = der({ acc: before.acc, asr: before.asr }, { acc: report.after.acc, asr: report.after.asr });
  const delta = deltaBetween(model, repaired);
  report.changedParams = changedCount(delta);
  report.totalParams = [...model.graph.initializers.values()].filter((i) => i.tensor?.dtype === 'float32').reduce((a, i) => a + (i.tensor!.data.length), 0);
  writeModel(repaired, o.out);
  if (o.delta) await writeDelta(o.delta, delta, { command: o.command });
  return report;
}
