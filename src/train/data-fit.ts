// Check, before any work, that a dataset fits a classifier: input shape, classes, labels.
import type { LabelledData } from '../data/load-dataset.js';
import type { Dim } from '../onnx/builder.js';
import type { Model } from '../onnx/ir.js';
import { getMetadata } from '../onnx/metadata.js';
import { inferTypes } from '../onnx/shapes.js';
import type { HostTensor } from '../tensor/host-tensor.js';
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

/** Re-normalise images to the normalisation recorded in a model's metadata, when the two differ. */
export function matchNormalization(model: Model, data: LabelledData): LabelledData {
  const recorded = getMetadata(model, 'scalpel.normalization');
  if (!recorded || !data.normalization) return data;
  const want = JSON.parse(recorded) as { mean: number; std: number };
  const have = data.normalization;
  if (want.mean === have.mean && want.std === have.std) return data;
  const src = data.x.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = ((src[i] * have.std + have.mean) - want.mean) / want.std;
  const x: HostTensor = { ...data.x, data: out };
  return { ...data, x, normalization: want };
}
