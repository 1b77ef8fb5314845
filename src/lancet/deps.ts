// The lancet folder's dependency point on the params/ layer (landing from main): replaced by paramsHash when merged.
import { createHash } from 'node:crypto';
import { floatInitializers, type Model } from '../onnx/ir.js';

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

