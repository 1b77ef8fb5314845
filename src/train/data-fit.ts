// Check, before any work, that a dataset fits a classifier: input shape, classes, labels.
import type { LabelledData } from '../data/load-dataset.js';
import type { Dim } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { getMetadata } from '../onnx/metadata.js';
import { inferTypes } from '../onnx/shapes.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { Normalization } from '../data/triggers.js';
import { dataInput } from './evaluate.js';

const fmt = (s: readonly Dim[]) => `[${s.map((d) => d ?? '?').join(', ')}]`;

/** Throws one clear error when `data` cannot be fed to `model` or its labels don't fit the model's classes. */
export function checkDataFits(model: Model, data: LabelledData): void {
  const input = dataInput(model);
  const env = inferTypes(model);
  const declared = env.get(input)?.shape;
  const got = data.x.dims;
  if (declared) {
    const ok = declared.length === got.length && declared.every((d, i) => i === 0 || typeof d !== 'number' || d === got[i]);
    if (!ok) {
      throw new Error(`${data.source}: examples of shape ${fmt(got.slice(1))} do not fit the model input '${input}' ${fmt(declared)}`);
    }
  }
  const out = model.graph.outputs[0]?.name;
  const classes = out ? env.get(out)?.shape?.at(-1) : undefined;
  if (typeof classes === 'number') {
    const y = data.y.data as BigInt64Array;
    for (let i = 0; i < y.length; i++) {
      if (y[i] < 0n || y[i] >= BigInt(classes)) {
        throw new Error(`${data.source}: label ${y[i]} at example ${i} is out of range for a model with ${classes} classes`);
      }
    }
    if (data.classes > classes) throw new Error(`${data.source} has ${data.classes} classes, the model outputs ${classes}`);
  }
}

/** Mean or std of one channel of a (possibly per-channel) normalisation. */
function channel(v: number | readonly number[], c: number, channels: number): number {
  if (typeof v === 'number') return v;
  if (v.length === 1) return v[0];
  if (v.length !== channels) throw new Error(`the normalisation has ${v.length} values per statistic but the images have ${channels} channels`);
  return v[c];
}

/**
 * Re-normalise images to the normalisation recorded in a model's metadata (`scalpel.normalization`, as `train` and
 * `--normalize` record it: `{mean, std}` of numbers or per-channel lists; mean 0, std 1 for raw [0, 1] pixels), when
 * the two differ. Data without a known normalisation (tensor files) is returned as is.
 *
 * @example const data = matchNormalization(model, await loadLabelledData('fashion-mnist', 'test'));
 */
export function matchNormalization(model: Model, data: LabelledData): LabelledData {
  const recorded = getMetadata(model, 'scalpel.normalization');
  return recorded ? renormalize(data, JSON.parse(recorded) as Normalization) : data;
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
