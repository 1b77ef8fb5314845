// A model with some of its initializers replaced.
import { cloneModel, type Model } from '../onnx/ir.js';
import type { HostTensor } from '../tensor/host-tensor.js';

/**
 * A copy of `model` whose named initializers hold the given values (nothing else is copied; names the model does
 * not have are ignored).
 *
 * @example writeModel(withParams(model, new Map([['fc.weight', tuned]])), 'tuned.onnx');
 */
export function withParams(model: Model, params: ReadonlyMap<string, HostTensor>): Model {
  const m = cloneModel(model);
  for (const [k, v] of params) {
    const init = m.graph.initializers.get(k);
    if (init) m.graph.initializers.set(k, { ...init, tensor: v, opaque: undefined });
  }
  return m;
}
