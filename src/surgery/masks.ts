// Keeping a set of entries: masks over named parameters from global indices of their flat view, and resetting the rest.
import type { HostTensor } from '../tensor/host-tensor.js';
import type { FlatParams } from '../params/flat.js';

/**
 * Per-tensor masks (1 = may move) with exactly the entries at the sorted global `indices` of `flat` set.
 *
 * @example const masks = masksOf(flat, flat.topN(deltas, 100));
 */
export function masksOf(flat: FlatParams, indices: ArrayLike<number>): Map<string, Uint8Array> {
  const local = flat.split(indices);
  return new Map(
    flat.names.map((n, t) => {
      const m = new Uint8Array(flat.sizes[t]);
      for (const i of local[t]) m[i] = 1;
      return [n, m];
    }),
  );
}

/** δ = w − w0 for each named tensor, 0 outside `masks` (where w = w0 anyway). */
export function deltasOf(flat: FlatParams, params: Map<string, HostTensor>, w0: Map<string, Float32Array>): Float32Array[] {
  return flat.names.map((n) => {
    const w = params.get(n)!.data as Float32Array;
    const base = w0.get(n)!;
    const d = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) d[i] = w[i] - base[i];
    return d;
  });
}

/**
 * Keep only the entries at `indices`: every other entry goes back to its exact starting value, and the masks
 * (edited in place) allow only the kept entries to move from now on.
 */
export function keepOnly(
  flat: FlatParams,
  params: Map<string, HostTensor>,
  w0: Map<string, Float32Array>,
  masks: Map<string, Uint8Array>,
  indices: ArrayLike<number>,
): void {
  const local = flat.split(indices);
  flat.names.forEach((n, t) => {
    const w = params.get(n)!.data as Float32Array;
    const base = w0.get(n)!;
    const m = masks.get(n)!;
    m.fill(0);
    for (const i of local[t]) m[i] = 1;
    for (let i = 0; i < w.length; i++) if (!m[i]) w[i] = base[i];
  });
}

/** Number of entries that differ from their starting value (bitwise). */
export function nonzeroCount(flat: FlatParams, params: Map<string, HostTensor>, w0: Map<string, Float32Array>): number {
  let c = 0;
  for (const n of flat.names) {
    const w = params.get(n)!.data as Float32Array;
    const base = w0.get(n)!;
    for (let i = 0; i < w.length; i++) if (!Object.is(w[i], base[i])) c++;
  }
  return c;
}
