// The input normalisation of a user's image classifier, (pixel/255 − mean) / std: parsed from a flag, read from the
// model's metadata, or assumed; and images re-normalised to it.
import { FASHION_MNIST_NORMALIZATION } from '../data/fashion-mnist.js';
import type { LabelledData } from '../data/load-dataset.js';
import type { Normalization } from '../data/triggers.js';
import type { Model } from '../onnx/ir.js';
import { getMetadata, setMetadata } from '../onnx/metadata.js';
import type { HostTensor } from '../tensor/host-tensor.js';

/** The metadata key under which scalpel records a model's input normalisation. */
export const NORMALIZATION_KEY = 'scalpel.normalization';
/** How that normalisation was decided: 'given' (a flag or `train`), or 'assumed' (no one said). */
const SOURCE_KEY = 'scalpel.normalization.source';

/** Where a normalisation came from: the caller (a flag), the model's metadata, or assumed (Fashion-MNIST's). */
export interface NormalizationChoice extends Normalization {
  source: 'flag' | 'model' | 'assumed';
}

/**
 * Parse a normalisation: `none` (raw [0, 1] pixels), `MEAN,STD`, or per-channel lists `M1/M2/M3,S1/S2/S3`.
 *
 * @example parseNormalization('0.1307,0.3081') // { mean: 0.1307, std: 0.3081 }
 */
export function parseNormalization(value: string): Normalization {
  if (value.trim().toLowerCase() === 'none') return { mean: 0, std: 1 };
  const expected = `expected MEAN,STD (numbers, per channel as M1/M2/M3,S1/S2/S3, std > 0) or 'none', got '${value}'`;
  const parts = value.split(',');
  if (parts.length !== 2) throw new Error(expected);
  const list = (s: string, positive: boolean) => {
    const vals = s.split('/').map((t) => Number(t.trim()));
    if (s.trim() === '' || vals.some((v) => !Number.isFinite(v)) || (positive && vals.some((v) => v <= 0))) throw new Error(expected);
    return vals.length === 1 ? vals[0] : vals;
  };
  const mean = list(parts[0], false);
  const std = list(parts[1], true);
  if (Array.isArray(mean) && Array.isArray(std) && mean.length !== std.length)
    throw new Error(`the normalisation has ${mean.length} means but ${std.length} standard deviations`);
  return { mean, std };
}

/** `0.286` or `0.485/0.456/0.406`. */
export function formatStat(v: number | readonly number[]): string {
  return typeof v === 'number' ? String(v) : v.join('/');
}

/** The normalisation recorded in a model's metadata, if any. */
export function recordedNormalization(model: Model): Normalization | undefined {
  const recorded = getMetadata(model, NORMALIZATION_KEY);
  return recorded ? (JSON.parse(recorded) as Normalization) : undefined;
}

export interface ChooseNormalizationOptions {
  /** The normalisation the caller gives (a `--normalize` flag); it wins over the metadata. */
  given?: Normalization;
  /** Called once when the normalisation is assumed for images, with one sentence saying so. */
  onWarning?: (message: string) => void;
  /** The model's name for the warning. */
  name?: string;
  /** False when the data are not images whose normalisation scalpel chooses (float tensor files): no warning then. */
  images?: boolean;
}

/**
 * Decide the normalisation of the images fed to `model`: the one given, else the model's metadata, else
 * Fashion-MNIST's (with one warning). The choice is recorded on the model in memory, so that every later step (data
 * loading, trigger stamping, written models) uses it.
 *
 * @example const choice = chooseNormalization(model, { given: { mean: 0.5, std: 0.5 } }); // source 'flag'
 */
export function chooseNormalization(model: Model, o: ChooseNormalizationOptions = {}): NormalizationChoice {
  if (o.given) {
    setMetadata(model, { [NORMALIZATION_KEY]: JSON.stringify({ mean: o.given.mean, std: o.given.std }), [SOURCE_KEY]: 'given' });
    return { mean: o.given.mean, std: o.given.std, source: 'flag' };
  }
  const recorded = recordedNormalization(model);
  if (recorded && getMetadata(model, SOURCE_KEY) !== 'assumed') return { ...recorded, source: 'model' };
  const assumed = { mean: FASHION_MNIST_NORMALIZATION.mean, std: FASHION_MNIST_NORMALIZATION.std };
  if (o.images === false) return { ...assumed, source: 'assumed' };
  o.onWarning?.(
    `${o.name ?? 'the model'} records no input normalisation; assuming Fashion-MNIST's (pixel/255 - ${formatStat(assumed.mean)}) / ${formatStat(assumed.std)}. ` +
      "Give the normalize option as MEAN,STD, or 'none' for a model trained on [0, 1] pixels",
  );
  // Recorded as assumed, so that a model written from this one warns again rather than passing the guess on as fact.
  setMetadata(model, { [NORMALIZATION_KEY]: JSON.stringify(assumed), [SOURCE_KEY]: 'assumed' });
  return { ...assumed, source: 'assumed' };
}

/** Mean or std of one channel of a (possibly per-channel) normalisation. */
function channel(v: number | readonly number[], c: number, channels: number): number {
  if (typeof v === 'number') return v;
  if (v.length === 1) return v[0];
  if (v.length !== channels) throw new Error(`the normalisation has ${v.length} values per statistic but the images have ${channels} channels`);
  return v[c];
}

/**
 * Images re-normalised to the normalisation recorded on `model` (data without a known normalisation, such as float
 * tensor files, is returned as is).
 *
 * @example const data = matchNormalization(model, await loadLabelledData('fashion-mnist', 'test'));
 */
export function matchNormalization(model: Model, data: LabelledData): LabelledData {
  const want = recordedNormalization(model);
  return want ? renormalize(data, want) : data;
}

/**
 * Images re-normalised from their own normalisation to `want` (data without a known normalisation is returned as is).
 *
 * @example const raw = renormalize(await loadLabelledData('embedded', 'test'), { mean: 0, std: 1 }); // [0, 1] pixels
 */
export function renormalize(data: LabelledData, want: Normalization): LabelledData {
  if (!data.normalization) return data;
  const have = data.normalization;
  if (JSON.stringify(want) === JSON.stringify(have)) return data;
  const dims = data.x.dims;
  const channels = dims.length >= 2 ? dims[1] : 1;
  const plane = dims.length >= 2 ? dims.slice(2).reduce((a, b) => a * b, 1) : 1;
  const src = data.x.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const c = Math.floor(i / plane) % channels;
    const pixel = src[i] * channel(have.std, c, channels) + channel(have.mean, c, channels);
    out[i] = (pixel - channel(want.mean, c, channels)) / channel(want.std, c, channels);
  }
  const x: HostTensor = { ...data.x, data: out };
  return { ...data, x, normalization: want };
}
