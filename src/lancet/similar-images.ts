// AI-Lancet's "similar samples": training images whose error-relevant weights are the located ones. For an image x
// with its label y, the weights of the chosen layer it leans on are those with a large |∂CE(M(x), y)/∂w|; its overlap
// with a located set L is the share of that gradient mass that falls on L. The images that overlap most join the
// error set for fine-tuning.
import { differentiate } from '../autodiff/differentiate.js';
import { takeRows, type Dataset } from '../data/batches.js';
import { fixedBatch } from '../onnx/batch-dim.js';
import type { Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile, type RuntimeOptions } from '../runtime/session.js';
import { dataInput } from '../tasks/classifier.js';
import { withLoss } from '../train/losses.js';
import type { LancetLayer } from './layers.js';

/**
 * For each candidate row, Σ_{w∈located} |∂CE/∂w| / Σ_w |∂CE/∂w| over the layer's weight (0 when the gradient is 0),
 * one image per backward pass.
 *
 * @example const share = await locatedOverlap(model, findLayer(model, 'fc1'), located, pool);
 */
export async function locatedOverlap(
  model: Model,
  layer: LancetLayer,
  located: ArrayLike<number>,
  data: Dataset,
  o: { runtime?: RuntimeOptions; onProgress?: (done: number, total: number) => void } = {},
): Promise<Float32Array> {
  if (fixedBatch(model) !== undefined && fixedBatch(model) !== 1)
    throw new Error('similar images need a model that runs one image at a time (its batch is fixed)');
  const inSet = new Uint8Array(layer.size);
  for (let i = 0; i < located.length; i++) inSet[located[i]] = 1;
  const lossy = withLoss(model, { kind: 'cross-entropy' });
  const { model: promoted, values } = promoteToInputs(lossy.model, [layer.param]);
  const { model: graph, gradients } = differentiate(promoted, { of: lossy.loss, wrt: [layer.param], keepOutputs: false });
  const exe = await compile(graph, o.runtime);
  const input = dataInput(promoted, values);
  const out = gradients.get(layer.param)!;
  const n = data.x.dims[0];
  const share = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    const g = (await exe.run({ [layer.param]: values.get(layer.param)!, [input]: takeRows(data.x, [r]), [lossy.target]: takeRows(data.y, [r]) }, [out]))[out]
      .data as Float32Array;
    let on = 0;
    let all = 0;
    for (let i = 0; i < g.length; i++) {
      const a = Math.abs(g[i]);
      all += a;
      if (inSet[i]) on += a;
    }
    share[r] = all > 0 ? on / all : 0;
    o.onProgress?.(r + 1, n);
  }
  return share;
}

/**
 * The `count` rows of `data` that overlap the located set most (ties by row), ascending.
 *
 * @example const rows = await similarImages(model, layer, located, pool, 50);
 */
export async function similarImages(
  model: Model,
  layer: LancetLayer,
  located: ArrayLike<number>,
  data: Dataset,
  count: number,
  o: { runtime?: RuntimeOptions; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ rows: number[]; overlap: number[] }> {
  const share = await locatedOverlap(model, layer, located, data, o);
  const order = Array.from(share.keys())
    .sort((a, b) => share[b] - share[a] || a - b)
    .slice(0, count);
  return { rows: [...order].sort((a, b) => a - b), overlap: order.map((r) => share[r]) };
}
