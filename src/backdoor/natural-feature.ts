// Is a reconstructed trigger a natural feature of its label? Compare what the trigger paints with what the label's own
// images already show there: a Bag's handle drawn where Bags have handles is a natural feature; a white square in a
// corner where the label's images are background is not.
import type { LabelledData } from '../data/load-dataset.js';
import type { MaskTrigger, Normalization } from '../data/triggers.js';

/**
 * The mask-weighted mean absolute difference between the trigger's pattern and the mean image (raw pixels in
 * [0, 1]) of the label's clean images: Σ m·|p − μ_label| / Σ m, averaged over channels. Near 0: the trigger paints
 * what the label's images look like (a natural feature); near 1: something foreign to them.
 *
 * @param data the defender's clean images (normalised as `data.normalization` says), with some of `label`
 * @example const d = foreignness(readTriggerFile('nc/label-8.safetensors'), defender, 8); // 0.2 for a natural Bag feature
 */
export function foreignness(trigger: MaskTrigger, data: LabelledData, label: number): number {
  const [N, C, H, W] = data.x.dims;
  const [h, w] = trigger.size;
  if (C !== trigger.channels || H !== h || W !== w) throw new Error(`the trigger is ${h}×${w}×${trigger.channels} but the images are ${H}×${W}×${C}`);
  const norm = data.normalization as Normalization | undefined;
  if (!norm) throw new Error(`${data.source} does not record its normalisation`);
  const at = (v: number | readonly number[], c: number) => (typeof v === 'number' ? v : v.length === 1 ? v[0] : v[c]);
  const x = data.x.data as Float32Array;
  const mean = new Float64Array(C * H * W);
  let count = 0;
  for (let i = 0; i < N; i++) {
    if (Number(data.y.data[i]) !== label) continue;
    count++;
    for (let c = 0; c < C; c++) {
      const s = at(norm.std, c);
      const m = at(norm.mean, c);
      for (let k = 0; k < H * W; k++) mean[c * H * W + k] += x[(i * C + c) * H * W + k] * s + m;
    }
  }
  if (count === 0) throw new Error(`${data.source} has no image of label ${label}`);
  let num = 0;
  let den = 0;
  for (let k = 0; k < H * W; k++) {
    const mk = trigger.mask[k];
    if (mk === 0) continue;
    let d = 0;
    for (let c = 0; c < C; c++) d += Math.abs(trigger.pattern[c * H * W + k] - mean[c * H * W + k] / count);
    num += mk * (d / C);
    den += mk;
  }
  return den > 0 ? num / den : 0;
}
