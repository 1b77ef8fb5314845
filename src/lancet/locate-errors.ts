// One call behind `scalpel locate`: the defender's data, the pairs for the chosen kind of error, locate.
import { loadDefenderData } from '../defence/defender-data.js';
import type { LabelledData } from '../data/load-dataset.js';
import { parseTrigger, stampImages, type Normalization, type Trigger } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import type { RuntimeOptions } from '../runtime/session.js';
import { checkDataFits } from '../tasks/classifier.js';
import { matchNormalization } from '../tasks/normalization.js';
import type { AblationSearch } from './ablation.js';
import type { Weighting } from './importance-graph.js';
import { misclassifiedPairs, type BlurMaskOptions } from './blur-pairs.js';
import { findLayer } from './layers.js';
import { locatedFile, type LocatedFile } from './located-file.js';
import { locate, type LocateResult } from './locate.js';
import type { PairSet } from './pairs.js';
import { triggerPairs } from './trigger-pairs.js';

/** Where the errors come from: a (reconstructed) trigger, the attacker's trigger (oracle), or the model's own mistakes. */
export type ErrorSource = { kind: 'trigger'; spec: string } | { kind: 'oracle-trigger'; spec: string } | { kind: 'misclassified' };

/**
 * Parse `--errors`: 'misclassified', or 'trigger:SPEC' where SPEC is a trigger file written by `scalpel reconstruct`
 * (a path, or file:PATH) or any trigger spec parseTrigger takes.
 *
 * @example parseErrorSource('trigger:out/label-0.safetensors'); // { kind: 'trigger', spec: 'file:out/label-0.safetensors' }
 */
export function parseErrorSource(text: string): ErrorSource {
  const t = text.trim();
  if (t === 'misclassified') return { kind: 'misclassified' };
  if (t.startsWith('trigger:')) {
    const spec = t.slice('trigger:'.length);
    if (!spec) throw new Error('--errors trigger: needs a trigger file, e.g. trigger:reconstructed/label-0.safetensors');
    return { kind: 'trigger', spec: /^(patch|blend|file):/.test(spec) ? spec : `file:${spec}` };
  }
  throw new Error(`--errors must be 'misclassified' or 'trigger:FILE', got '${text}'`);
}

/** Stamp a trigger on a batch of normalized images. */
export function stamper(trigger: Trigger, data: LabelledData): (x: LabelledData['x']) => LabelledData['x'] {
  const norm = data.normalization as Normalization | undefined;
  if (!norm) throw new Error(`a trigger needs the images' normalization, which ${data.source} does not record`);
  return (x) => stampImages(x, trigger, norm);
}

/** Every pair the defender's data gives for an error source, in a seeded order. */
export async function errorPairs(
  model: Model,
  defender: LabelledData,
  errors: ErrorSource,
  o: { seed?: number; limit?: number; blur?: BlurMaskOptions; runtime?: RuntimeOptions } = {},
): Promise<PairSet> {
  if (errors.kind === 'misclassified')
    return misclassifiedPairs(model, defender, { ...o.blur, limit: o.blur?.limit ?? o.limit, seed: o.seed, runtime: o.runtime });
  const trigger = parseTrigger(errors.spec);
  const oracle = errors.kind === 'oracle-trigger';
  return triggerPairs(model, defender, stamper(trigger, defender), {
    source: oracle ? `oracle-trigger:${errors.spec}` : `trigger:${errors.spec.replace(/^file:/, '')}`,
    oracle,
    seed: o.seed,
    runtime: o.runtime,
  });
}

export interface LocateErrorsOptions {
  modelPath: string;
  /** `--data`, `--defender-data`, `--seed`: the defender's clean data (never the test split). */
  data?: string;
  defenderData?: string;
  seed?: number;
  errors: ErrorSource;
  /** K, the most pairs used (default 100). */
  pairs?: number;
  layer?: string;
  search?: AblationSearch;
  weighting?: Weighting;
  alpha?: number;
  blur?: BlurMaskOptions;
  runtime?: RuntimeOptions;
  command?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface LocateErrorsResult extends LocateResult {
  /** The content of located.json. */
  file: LocatedFile;
  /** Pairs the defender's data offered (K were used). */
  available: number;
  defender: string;
  seconds: number;
}

/**
 * Build pairs from the defender's data and locate the weights behind them (see `locate`).
 *
 * @example const r = await locateErrors(model, { modelPath: 'badnets.onnx', data: 'fashion-mnist', errors: parseErrorSource('trigger:rec/label-0.safetensors') });
 */
export async function locateErrors(model: Model, o: LocateErrorsOptions): Promise<LocateErrorsResult> {
  const t0 = performance.now();
  const k = o.pairs ?? 100;
  if (!Number.isInteger(k) || k < 1) throw new Error(`--pairs must be at least 1, got ${k}`);
  if (o.layer !== undefined && o.layer !== 'auto') findLayer(model, o.layer);
  const defender = matchNormalization(model, await loadDefenderData({ data: o.data, defenderData: o.defenderData, seed: o.seed }));
  checkDataFits(model, defender);
  o.onProgress?.('pairs', 0, 1);
  const all = await errorPairs(model, defender, o.errors, {
    seed: o.seed,
    limit: k,
    blur: { ...o.blur, onProgress: (d, t) => o.onProgress?.('blur-mask search', d, t) },
    runtime: o.runtime,
  });
  if (all.pairs.length === 0) {
    throw new Error(
      `no errors to locate: on the ${defender.x.dims[0]} defender examples, ${o.errors.kind === 'misclassified' ? 'no misclassified example could be paired' : 'the trigger changes no correctly classified prediction'}`,
    );
  }
  const set = { ...all, pairs: all.pairs.slice(0, k) };
  const r = await locate(model, set, {
    layer: o.layer,
    search: o.search,
    weighting: o.weighting,
    alpha: o.alpha,
    runtime: o.runtime,
    onProgress: (l, d, t) => o.onProgress?.(`locating in ${l}`, d, t),
  });
  const file = locatedFile(r, model, o.modelPath, { data: o.data, defenderData: o.defenderData, seed: o.seed ?? 0 }, o.command);
  return { ...r, file, available: all.pairs.length, defender: defender.source, seconds: (performance.now() - t0) / 1000 };
}
