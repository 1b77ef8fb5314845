// `scalpel diff`: exactly which parameter entries differ between two models of the same graph, and by how much.
import type { Model } from '../onnx/ir.js';
import { describeParams } from './describe.js';
import { deltaBetween, floatParams, halfToFloat, type FloatData, type SparseDelta, type TensorDelta } from './delta.js';
import { graphDifferences, type GraphDifferences } from './graph-diff.js';

/** Norms of the change after − before over the changed entries whose change is finite. */
export interface ChangeNorms {
  /** Changed entries (bitwise, or beyond atol). */
  l0: number;
  l1: number;
  l2: number;
  linf: number;
}

export interface TensorChange extends ChangeNorms {
  name: string;
  kind: string;
  layer: string;
  shape: number[];
  size: number;
  /** l0 / size. */
  fraction: number;
  /** Entries that became NaN or ±Inf (finite before). */
  becameNonFinite: number;
  /** Changed entries per slice of the flattened tensor (at most 64 slices): where the changes sit. */
  strip: number[];
}

export interface GroupChange {
  group: string;
  size: number;
  changed: number;
  fraction: number;
}

export interface LargestChange {
  tensor: string;
  /** Flat index, and the same as a multi-index over the tensor's shape. */
  index: number;
  position: number[];
  before: number;
  after: number;
  change: number;
}

export interface DiffReport {
  a: string;
  b: string;
  /** True when graphs (not counting parameter values and metadata) are identical. */
  sameGraph: boolean;
  differences: GraphDifferences;
  /** Float parameters compared: tensors and entries. */
  params: { tensors: number; entries: number };
  /** Total changed entries. */
  changed: number;
  fraction: number;
  /** The tolerance, when entries within it count as unchanged (default: bitwise). */
  atol?: number;
  norms: ChangeNorms;
  /** Every float parameter tensor, in model order (unchanged ones have l0 = 0). */
  byTensor: TensorChange[];
  byKind: GroupChange[];
  byLayer: GroupChange[];
  /** The largest |after − before| (finite ones), at most `top`. */
  largest: LargestChange[];
  /** Entries that became NaN or infinite, at most 100 listed; `becameNonFinite` counts them all. */
  nonFinite: { tensor: string; index: number; before: number; after: number }[];
  becameNonFinite: number;
}

export interface DiffOptions {
  /** Entries within this absolute difference count as unchanged (default: compare bits). */
  atol?: number;
  /** How many of the largest changes to list (default 20). */
  top?: number;
  /** Names shown for the two models (default 'A' and 'B'). */
  names?: [string, string];
  /** Hash the first model's parameters into the delta, so that it can be written and applied (default true). */
  hash?: boolean;
}

const STRIP = 64;

function asNumbers(x: FloatData, dtype: TensorDelta['dtype']): Float32Array | Float64Array {
  return dtype === 'float16' ? halfToFloat(x as Uint16Array) : (x as Float32Array | Float64Array);
}

function unravel(i: number, shape: readonly number[]): number[] {
  const pos = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    pos[d] = shape[d] ? i % shape[d] : 0;
    i = shape[d] ? Math.floor(i / shape[d]) : 0;
  }
  return pos;
}

/** Keeps the `top` entries of largest key, in a small sorted array (top is small). */
class Largest {
  readonly items: LargestChange[] = [];
  constructor(private readonly top: number) {}
  offer(key: number, make: () => LargestChange): void {
    if (this.top === 0) return;
    if (this.items.length === this.top && key <= Math.abs(this.items[this.items.length - 1].change)) return;
    const item = make();
    let i = this.items.length;
    while (i > 0 && Math.abs(this.items[i - 1].change) < key) i--;
    this.items.splice(i, 0, item);
    if (this.items.length > this.top) this.items.pop();
  }
}

function groups(rows: TensorChange[], key: (r: TensorChange) => string): GroupChange[] {
  const m = new Map<string, GroupChange>();
  for (const r of rows) {
    const g = m.get(key(r)) ?? { group: key(r), size: 0, changed: 0, fraction: 0 };
    g.size += r.size;
    g.changed += r.l0;
    m.set(g.group, g);
  }
  for (const g of m.values()) g.fraction = g.size ? g.changed / g.size : 0;
  return [...m.values()];
}

/**
 * Compare two models: their graphs (every difference but parameter values, listed), then every float parameter
 * entry (bitwise unless `atol`). Throws when they do not hold the same parameters (names, types, shapes): those
 * models are different architectures and their parameters cannot be compared.
 * Returns the report and the delta turning `a` into `b`.
 *
 * @example
 * const { report, delta } = diffModels(readModel('a.onnx'), readModel('b.onnx'));
 * report.changed; // entries that differ
 */
export function diffModels(a: Model, b: Model, opts: DiffOptions = {}): { report: DiffReport; delta: SparseDelta } {
  const differences = graphDifferences(a, b);
  let delta: SparseDelta;
  try {
    delta = deltaBetween(a, b, { atol: opts.atol, hash: opts.hash });
  } catch (e) {
    const graph = differences.graph.length
      ? ` (the graphs differ too: ${differences.graph.slice(0, 3).join('; ')}${differences.graph.length > 3 ? '; …' : ''})`
      : '';
    throw new Error(`${(e as Error).message}${graph}`);
  }
  const info = new Map(describeParams(a).map((p) => [p.name, p]));
  const changes = new Map(delta.tensors.map((t) => [t.name, t]));
  const largest = new Largest(opts.top ?? 20);
  const nonFinite: DiffReport['nonFinite'] = [];
  let becameNonFinite = 0;
  const total: ChangeNorms = { l0: 0, l1: 0, l2: 0, linf: 0 };
  const byTensor: TensorChange[] = [];
  let entries = 0;
  for (const [name, t] of floatParams(a)) {
    const size = t.data.length;
    entries += size;
    const p = info.get(name);
    const row: TensorChange = {
      name,
      kind: p?.kind ?? 'other',
      layer: p?.layer ?? name,
      shape: [...t.dims],
      size,
      fraction: 0,
      l0: 0,
      l1: 0,
      l2: 0,
      linf: 0,
      becameNonFinite: 0,
      strip: new Array<number>(Math.min(STRIP, size)).fill(0),
    };
    const d = changes.get(name);
    if (d) {
      const before = asNumbers(d.before, d.dtype);
      const after = asNumbers(d.after, d.dtype);
      row.l0 = d.indices.length;
      for (let j = 0; j < d.indices.length; j++) {
        const i = d.indices[j];
        row.strip[Math.floor((i * row.strip.length) / size)]++;
        const x = before[j];
        const y = after[j];
        const c = y - x;
        if (Number.isFinite(c)) {
          const m = Math.abs(c);
          row.l1 += m;
          row.l2 += c * c;
          if (m > row.linf) row.linf = m;
          largest.offer(m, () => ({ tensor: name, index: i, position: unravel(i, t.dims), before: x, after: y, change: c }));
        }
        if (!Number.isFinite(y) && Number.isFinite(x)) {
          row.becameNonFinite++;
          if (nonFinite.length < 100) nonFinite.push({ tensor: name, index: i, before: x, after: y });
        }
      }
      row.fraction = row.l0 / size;
      becameNonFinite += row.becameNonFinite;
      total.l0 += row.l0;
      total.l1 += row.l1;
      total.l2 += row.l2;
      total.linf = Math.max(total.linf, row.linf);
      row.l2 = Math.sqrt(row.l2);
    }
    byTensor.push(row);
  }
  total.l2 = Math.sqrt(total.l2);
  const [na, nb] = opts.names ?? ['A', 'B'];
  const report: DiffReport = {
    a: na,
    b: nb,
    sameGraph: differences.graph.length === 0,
    differences,
    params: { tensors: byTensor.length, entries },
    changed: total.l0,
    fraction: entries ? total.l0 / entries : 0,
    ...(opts.atol !== undefined ? { atol: opts.atol } : {}),
    norms: total,
    byTensor,
    byKind: groups(byTensor, (r) => r.kind),
    byLayer: groups(byTensor, (r) => r.layer),
    largest: largest.items,
    nonFinite,
    becameNonFinite,
  };
  return { report, delta };
}
