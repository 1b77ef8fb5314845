// The lancet folder's dependency points on work landing from other branches (params/ layer, defender data):
// one place each, to be replaced by those modules when they are merged.
import { createHash } from 'node:crypto';
import { takeRows, type Dataset } from '../data/batches.js';
import { floatInitializers, type Model } from '../onnx/ir.js';
import { Rng } from '../tensor/rng.js';

/** sha256 (hex) of the model's float parameter bytes, in initializer order. */
export function modelParamsHash(model: Model): string {
  const h = createHash('sha256');
  for (const i of floatInitializers(model.graph)) {
    const d = i.tensor!.data;
    h.update(i.name);
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/** The defender's clean data: a seeded `fraction` of the training split (rows in a seeded random order). */
export function defenderSubset<D extends Dataset>(train: D, fraction: number, seed: number): D & { rows: Uint32Array } {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`the defender's fraction of the training data must be in (0, 1], got ${fraction}`);
  const n = train.x.dims[0];
  const k = Math.max(1, Math.round(n * fraction));
  const rows = new Rng(seed).permutation(n).slice(0, k);
  return { ...train, x: takeRows(train.x, rows), y: takeRows(train.y, rows), rows };
}
