// Resolve a --data argument into a labelled dataset: the embedded subset, an IDX directory, or a tensor file.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { Dataset } from './batches.js';
import type { Normalization } from './triggers.js';
import { DEFAULT_FULL_DATASET_DIR, EMBEDDED_SUBSET_DIR, loadImageDataset, type Split } from './fashion-mnist.js';
import { loadData, TENSOR_FILE_KINDS } from './load-data.js';

export interface LabelledData extends Dataset {
  /** Number of classes (from the dataset's class names, or the largest label + 1). */
  classes: number;
  /** The normalisation applied to image pixels, when known. */
  normalization?: Normalization;
  /** Class names, when the dataset has them (Fashion-MNIST's for its directories, digits for other IDX directories). */
  classNames?: string[];
  /** Where the data came from, for messages and reports. */
  source: string;
  /** The split this is, when the data has splits (a directory); absent for a single file used whole. */
  split?: Split;
}

/** Names `--data` accepts besides paths. */
export const DATA_ALIASES: Record<string, string> = { embedded: EMBEDDED_SUBSET_DIR, 'fashion-mnist': DEFAULT_FULL_DATASET_DIR };

function labelsToInt64(y: HostTensor, source: string): HostTensor {
  if (y.dims.length !== 1) throw new Error(`${source}: labels 'y' must be 1-D [N], got [${y.dims.join(', ')}]`);
  if (y.dtype === 'int64') return y;
  if (y.dtype === 'float32' || y.dtype === 'float64' || y.dtype === 'float16' || y.dtype === 'bool') {
    throw new Error(`${source}: labels 'y' must be integers, got ${y.dtype}`);
  }
  return { dtype: 'int64', dims: y.dims, data: BigInt64Array.from(Array.from(y.data as ArrayLike<number>, (v) => BigInt(v))) };
}

function fromTensors(t: Map<string, HostTensor>, source: string): LabelledData {
  const x = t.get('x');
  const y = t.get('y');
  if (!x && t.has('input_ids')) throw new Error(`${source} holds text (${[...t.keys()].join(', ')}); this command reads images or one input 'x' (text models run in eval, grad and bench)`);
  if (!x || !y) throw new Error(`${source} must hold a tensor 'x' (inputs) and a tensor 'y' (labels); it has ${[...t.keys()].join(', ') || 'nothing'}`);
  if (x.dims[0] !== y.dims[0]) throw new Error(`${source}: 'x' has ${x.dims[0]} examples but 'y' has ${y.dims[0]}`);
  const labels = labelsToInt64(y, source);
  let max = -1;
  for (const v of labels.data as BigInt64Array) {
    if (v < 0n) throw new Error(`${source}: negative label ${v}`);
    if (Number(v) > max) max = Number(v);
  }
  if (x.dtype === 'uint8') {
    // 8-bit images: pixels / 255, a known normalisation (mean 0, std 1) that --normalize or the model can change.
    const px = x.data as Uint8Array;
    const f = new Float32Array(px.length);
    for (let i = 0; i < px.length; i++) f[i] = px[i] / 255;
    return { x: { dtype: 'float32', dims: x.dims, data: f }, y: labels, classes: max + 1, normalization: { mean: 0, std: 1 }, source };
  }
  return { x, y: labels, classes: max + 1, source };
}

/**
 * Load labelled data for training or evaluation.
 *
 * @param spec undefined or 'embedded' (the Fashion-MNIST subset shipped with scalpel), 'fashion-mnist'
 *   (Debian's full set), a directory of MNIST-layout IDX files, a directory holding one tensor file per split
 *   (`train.npz` and `test.npz`, or `.safetensors`), or a .safetensors/.npz file with 'x' and 'y' (used whole)
 * @param split 'train' or 'test' (directories only; a file is used whole)
 *
 * @example const test = await loadLabelledData('fashion-mnist', 'test');
 */
export async function loadLabelledData(spec: string | undefined, split: Split): Promise<LabelledData> {
  const path = spec === undefined ? EMBEDDED_SUBSET_DIR : (DATA_ALIASES[spec] ?? spec);
  if (!existsSync(path)) {
    const hint = path === DEFAULT_FULL_DATASET_DIR ? ' (install it with: apt-get install dataset-fashion-mnist)' : '';
    throw new Error(`data not found: ${path}${hint}`);
  }
  if (statSync(path).isDirectory()) {
    // A directory of tensor files, one per split (train.npz and test.npz, or .safetensors), is a dataset too.
    const splitFile = ['npz', 'safetensors'].map((ext) => join(path, `${split}.${ext}`)).find((f) => existsSync(f));
    if (splitFile) return { ...fromTensors(await loadData(splitFile), splitFile), split };
    const d = loadImageDataset(path, split);
    return { x: d.x, y: d.y, classes: d.classes.length, classNames: d.classes, normalization: d.normalization, source: d.source, split };
  }
  if (/\.(safetensors|npz|npy)$/i.test(path)) return fromTensors(await loadData(path), path);
  throw new Error(`cannot read data from ${path}: expected a directory of IDX files, or ${TENSOR_FILE_KINDS}`);
}
