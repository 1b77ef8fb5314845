// Content keys of examples: how scalpel recognises the same example in two datasets, whatever its position.
import { createHash } from 'node:crypto';
import type { HostTensor } from '../tensor/host-tensor.js';
import type { Normalization } from './triggers.js';

/**
 * A short content key of one example (sha1 of its bytes, 16 hex digits).
 *
 * @example rowKey(Float32Array.of(0, 0.5, 1)) // 'f2b1…'
 */
export function rowKey(x: ArrayBufferView): string {
  return createHash('sha1').update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)).digest('hex').slice(0, 16);
}

/**
 * The content key of every example (row) of a tensor [N, …].
 *
 * @example new Set(rowKeys(heldOut.x)).has(rowKeys(train.x)[0])
 */
export function rowKeys(t: HostTensor): string[] {
  const n = t.dims[0];
  const len = n ? t.data.length / n : 0;
  const data = t.data as unknown as { subarray(a: number, b: number): ArrayBufferView };
  return Array.from({ length: n }, (_, i) => rowKey(data.subarray(i * len, (i + 1) * len)));
}

/**
 * Content keys of a dataset's examples that survive a change of representation: images with a known normalisation are
 * keyed by their 8-bit pixels (so the same image read from an IDX file and from a uint8 .npz, normalised by two
 * different routes, gets one key); other data by its exact bytes.
 *
 * @example const held = new Set(exampleKeys(heldOut)); exampleKeys(train).filter((k) => held.has(k)).length
 */
export function exampleKeys(data: { x: HostTensor; normalization?: Normalization }): string[] {
  const norm = data.normalization;
  if (!norm || data.x.dtype !== 'float32') return rowKeys(data.x);
  const x = data.x.data as Float32Array;
  const [n, channels = 1] = data.x.dims;
  const plane = n ? x.length / n / channels : 0;
  const at = (v: number | readonly number[], c: number) => (typeof v === 'number' ? v : (v[c] ?? v[0]));
  const pixels = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / plane) % channels;
    pixels[i] = Math.max(0, Math.min(255, Math.round((x[i] * at(norm.std, c) + at(norm.mean, c)) * 255)));
  }
  return rowKeys({ dtype: 'uint8', dims: data.x.dims, data: pixels });
}
