// Data must be finite: a NaN or an infinity in the inputs or targets only shows up later as a NaN loss.
import type { HostTensor } from '../tensor/host-tensor.js';

/** Index of the first NaN or infinite element of a floating-point tensor, or -1 (always -1 for integer tensors). */
export function firstNonFinite(t: HostTensor): number {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return -1;
  const d = t.data as Float32Array | Float64Array;
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
  return -1;
}

function position(dims: readonly number[], flat: number): string {
  const idx: number[] = [];
  for (let k = dims.length - 1; k >= 0; k--) {
    idx.unshift(flat % dims[k]);
    flat = Math.floor(flat / dims[k]);
  }
  return `[${idx.join(', ')}]`;
}

/**
 * Throw one clear error when a tensor holds a NaN or an infinity, naming the tensor, the value and its first index.
 *
 * @example checkFinite(data, 'batch.safetensors'); // Error: batch.safetensors: tensor 'x' holds NaN at index [0, 0, 3, 7] …
 */
export function checkFinite(tensors: ReadonlyMap<string, HostTensor> | Record<string, HostTensor>, source: string): void {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    const i = firstNonFinite(t);
    if (i >= 0) {
      const v = (t.data as Float32Array)[i];
      throw new Error(`${source}: tensor '${name}' holds ${v} at index ${position(t.dims, i)} (flat index ${i}); the data must be finite`);
    }
  }
}
