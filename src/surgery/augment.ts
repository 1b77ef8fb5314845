// The clean stream's augmentations for a constraint that should hold around the data, not only at its points: images
// shifted by a few pixels (the uncovered border filled with each image's smallest value, its background) and with
// Gaussian noise added.
import type { HostTensor } from '../tensor/host-tensor.js';
import type { Rng } from '../tensor/rng.js';

/**
 * A shifted, noisy copy of a batch of images [n, channels, height, width]: each image moves by a whole number of
 * pixels drawn uniformly in [−shift, shift] on each axis, then gets noise N(0, (noise · scale)²) on every value.
 *
 * @example const xb = augmentImages(batch.x, { shift: 2, noise: 0.1, scale: 1 }, new Rng(0));
 */
export function augmentImages(x: HostTensor, o: { shift: number; noise: number; scale: number }, rng: Rng): HostTensor {
  if (x.dims.length !== 4) throw new Error(`augmentation needs images [n, channels, height, width], got [${x.dims.join(', ')}]`);
  const [n, c, h, w] = x.dims;
  const src = x.data as Float32Array;
  const out = new Float32Array(src.length);
  const plane = h * w;
  const sigma = o.noise * o.scale;
  for (let i = 0; i < n; i++) {
    const dy = o.shift > 0 ? rng.int(2 * o.shift + 1) - o.shift : 0;
    const dx = o.shift > 0 ? rng.int(2 * o.shift + 1) - o.shift : 0;
    for (let ch = 0; ch < c; ch++) {
      const base = (i * c + ch) * plane;
      let fill = Infinity;
      for (let k = 0; k < plane; k++) fill = Math.min(fill, src[base + k]);
      for (let yy = 0; yy < h; yy++) {
        const sy = yy - dy;
        for (let xx = 0; xx < w; xx++) {
          const sx = xx - dx;
          const v = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[base + sy * w + sx] : fill;
          out[base + yy * w + xx] = sigma > 0 ? v + rng.normal(0, sigma) : v;
        }
      }
    }
  }
  return { dtype: 'float32', dims: [...x.dims], data: out };
}

/**
 * The standard deviation of every value of a float tensor (the scale the noise is given in).
 *
 * @example valueStd(d.cleanTrain.x); // ≈ 1 for standardised images
 */
export function valueStd(x: HostTensor): number {
  const d = x.data as Float32Array;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < d.length; i++) {
    s += d[i];
    s2 += d[i] * d[i];
  }
  const m = s / d.length;
  return Math.sqrt(Math.max(0, s2 / d.length - m * m));
}
