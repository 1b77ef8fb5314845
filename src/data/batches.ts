/** Mini-batching, seeded shuffling and train/validation splitting of in-memory datasets. */
import { type HostTensor, sizeOf, typedArrayFor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';

/** Inputs and targets whose first dimension indexes examples. */
export interface Dataset {
  x: HostTensor;
  y: HostTensor;
}

/** A mini-batch; same layout as a Dataset. */
export type Batch = Dataset;

/** Options for `batches`. */
export interface BatchOptions {
  /** permute examples before batching (default false) */
  shuffle?: boolean;
  /** PRNG seed used when shuffling (default 0) */
  seed?: number;
  /** skip the final batch when it is smaller than batchSize (default false) */
  dropLast?: boolean;
}

function count(ds: Dataset): number {
  const n = ds.x.dims[0];
  if (ds.x.dims.length === 0 || ds.y.dims.length === 0) throw new Error('dataset tensors must have a leading example dimension');
  if (n !== ds.y.dims[0]) throw new Error(`dataset has ${n} inputs but ${ds.y.dims[0]} targets`);
  return n;
}

/**
 * Gather rows (examples) of a tensor into a new tensor, in the order given.
 *
 * @param t tensor with examples along dimension 0
 * @param rows indices of the rows to take
 *
 * @example
 * takeRows(tensor('float32', [3, 1], Float32Array.of(1, 2, 3)), [2, 0]).data; // [3, 1]
 */
export function takeRows(t: HostTensor, rows: ArrayLike<number>): HostTensor {
  const rowLen = sizeOf(t.dims.slice(1));
  const out = typedArrayFor(t.dtype, rows.length * rowLen);
  const n = t.dims[0];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (r < 0 || r >= n) throw new RangeError(`row ${r} out of range [0, ${n})`);
    (out as Uint8Array).set((t.data as Uint8Array).subarray(r * rowLen, (r + 1) * rowLen), i * rowLen);
  }
  return { dtype: t.dtype, dims: [rows.length, ...t.dims.slice(1)], data: out };
}

/**
 * Iterate over mini-batches of a dataset.
 *
 * @param dataset `{x, y}` with matching leading dimension
 * @param batchSize examples per batch (≥ 1)
 * @param options.shuffle permute examples first (default false)
 * @param options.seed shuffle seed (default 0); same seed → same order
 * @param options.dropLast drop a final partial batch (default false)
 *
 * @example
 * for (const { x, y } of batches(train, 64, { shuffle: true, seed: epoch })) step(x, y);
 */
export function* batches(dataset: Dataset, batchSize: number, options: BatchOptions = {}): Generator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const n = count(dataset);
  let order: Uint32Array;
  if (options.shuffle) order = new Rng(options.seed ?? 0).permutation(n);
  else {
    order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
  }
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(start + batchSize, n);
    if (options.dropLast && end - start < batchSize) return;
    const rows = order.subarray(start, end);
    yield { x: takeRows(dataset.x, rows), y: takeRows(dataset.y, rows) };
  }
}

/**
 * Split a dataset into training and validation parts after a seeded shuffle.
 *
 * @param dataset `{x, y}` to split (extra fields are copied onto both parts)
 * @param fraction share of examples for validation, in [0, 1]
 * @param seed shuffle seed (default 0)
 *
 * @example
 * const { train, validation } = splitValidation(data, 0.1, 42);
 */
export function splitValidation<D extends Dataset>(dataset: D, fraction: number, seed = 0): { train: D; validation: D } {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`validation fraction must be in [0, 1], got ${fraction}`);
  const n = count(dataset);
  const perm = new Rng(seed).permutation(n);
  const nVal = Math.round(n * fraction);
  const pick = (rows: Uint32Array): D => ({ ...dataset, x: takeRows(dataset.x, rows), y: takeRows(dataset.y, rows) });
  return { validation: pick(perm.subarray(0, nVal)), train: pick(perm.subarray(nVal)) };
}

/** `t` with zero rows appended up to `rows` rows. */
export function padRows(t: HostTensor, rows: number): HostTensor {
  const data = typedArrayFor(t.dtype, rows * sizeOf(t.dims.slice(1)));
  (data as Uint8Array).set(t.data as Uint8Array);
  return { dtype: t.dtype, dims: [rows, ...t.dims.slice(1)], data };
}

/** The first `rows` rows of `t`. */
export function firstRows(t: HostTensor, rows: number): HostTensor {
  const n = rows * sizeOf(t.dims.slice(1));
  return { dtype: t.dtype, dims: [rows, ...t.dims.slice(1)], data: (t.data as Uint8Array).slice(0, n) as unknown as HostTensor['data'] };
}
