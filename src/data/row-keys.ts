// Content keys of examples: how scalpel recognises the same example in two datasets, whatever its position.
import { createHash } from 'node:crypto';
import type { HostTensor } from '../tensor/host-tensor.js';

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
