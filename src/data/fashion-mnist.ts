/** Fashion-MNIST loading: IDX files from a directory, or the small subset embedded in the repository. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostTensor } from '../tensor/host-tensor.js';
import { readIdx } from './idx.js';

/** Class names of Fashion-MNIST, indexed by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Where Debian's dataset-fashion-mnist package installs the four gzipped IDX files. */
export const DEFAULT_FULL_DATASET_DIR = '/usr/share/datasets/fashion-mnist';

/** The subset shipped in the repository (first 4000 train, first 1000 test images of the full set). */
export const EMBEDDED_SUBSET_DIR = fileURLToPath(new URL('../../data/fashion-mnist-subset/', import.meta.url));

/** Fashion-MNIST training-set pixel statistics after scaling to [0, 1]. */
export const FASHION_MNIST_NORMALIZATION = { mean: 0.286, std: 0.353 } as const;

export type Split = 'train' | 'test';

/** A loaded image classification dataset. */
export interface ImageDataset {
  /** float32 [N, 1, 28, 28], pixels scaled to [0, 1] then normalized: (p - mean) / std */
  x: HostTensor;
  /** int64 [N] class indices */
  y: HostTensor;
  /** class names, indexed by label */
  classes: string[];
  /** the normalization applied to x */
  normalization: { mean: number; std: number };
  /** directory the files came from */
  source: string;
}

/**
 * Find the images/labels IDX file for a split in `dir`, trying `train-`/`t10k-`/`test-` prefixes, `.gz` or raw.
 *
 * @param dir directory to search
 * @param split 'train' or 'test'
 * @param kind 'images' or 'labels'
 *
 * @example
 * findIdxFile('/usr/share/datasets/fashion-mnist', 'test', 'labels'); // .../t10k-labels-idx1-ubyte.gz
 */
export function findIdxFile(dir: string, split: Split, kind: 'images' | 'labels'): string {
  const prefixes = split === 'train' ? ['train'] : ['t10k', 'test'];
  const tried: string[] = [];
  for (const prefix of prefixes) {
    for (const ext of ['.gz', '']) {
      const p = join(dir, `${prefix}-${kind}-idx${kind === 'images' ? 3 : 1}-ubyte${ext}`);
      tried.push(p);
      if (existsSync(p)) return p;
    }
  }
  throw new Error(`no ${split} ${kind} file in ${dir}; looked for ${tried.join(', ')}`);
}

/**
 * Load a Fashion-MNIST (or MNIST-layout) split as normalized float32 images and int64 labels.
 *
 * @param dir directory holding the IDX files; omitted → the embedded subset in `data/fashion-mnist-subset`
 *   (pass `DEFAULT_FULL_DATASET_DIR` for the full 60000/10000 set)
 * @param split 'train' (default) or 'test'
 *
 * @example
 * const { x, y, classes } = loadImageDataset(undefined, 'test'); // x: float32 [1000, 1, 28, 28]
 */
export function loadImageDataset(dir?: string, split: Split = 'train'): ImageDataset {
  const source = dir ?? EMBEDDED_SUBSET_DIR;
  const imagesPath = findIdxFile(source, split, 'images');
  const labelsPath = findIdxFile(source, split, 'labels');
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  if (images.dtype !== 'uint8' || images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28) {
    throw new Error(`${imagesPath}: expected uint8 images [N, 28, 28], got ${images.dtype} [${images.dims.join(', ')}]`);
  }
  if (labels.dtype !== 'uint8' || labels.dims.length !== 1) {
    throw new Error(`${labelsPath}: expected uint8 labels [N], got ${labels.dtype} [${labels.dims.join(', ')}]`);
  }
  const n = images.dims[0];
  if (labels.dims[0] !== n) {
    throw new Error(`${imagesPath} has ${n} images but ${labelsPath} has ${labels.dims[0]} labels`);
  }
  // Fashion-MNIST's class names for its directories; digits for any other MNIST-layout set (MNIST, KMNIST, …).
  const fashion = source === EMBEDDED_SUBSET_DIR || /fashion/i.test(source);
  const classes = fashion ? [...FASHION_MNIST_CLASSES] : Array.from({ length: 10 }, (_, i) => String(i));
  const y = new BigInt64Array(n);
  const lab = labels.data as Uint8Array;
  for (let i = 0; i < n; i++) {
    if (lab[i] >= classes.length) throw new Error(`${labelsPath}: label ${lab[i]} at index ${i} is not < ${classes.length}`);
    y[i] = BigInt(lab[i]);
  }
  const { mean, std } = FASHION_MNIST_NORMALIZATION;
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = (v / 255 - mean) / std;
  const px = images.data as Uint8Array;
  const x = new Float32Array(px.length);
  for (let i = 0; i < px.length; i++) x[i] = lut[px[i]];
  return {
    x: { dtype: 'float32', dims: [n, 1, 28, 28], data: x },
    y: { dtype: 'int64', dims: [n], data: y },
    classes,
    normalization: { mean, std },
    source,
  };
}
