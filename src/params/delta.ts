// SparseDelta: exactly which parameter entries an edit changed, their values before and after; apply and revert.
import { createHash } from 'node:crypto';
import { floatInitializers, type Model } from '../onnx/ir.js';
import { allMetadata, updateMetadata } from '../onnx/metadata.js';
import type { DType, HostTensor } from '../tensor/host-tensor.js';
import { withParams } from './with-params.js';

/** Float element types a delta can hold (the tensor's own type). */
export type FloatDType = 'float32' | 'float64' | 'float16';
/** Values of a float tensor: float16 kept as its raw 16-bit words. */
export type FloatData = Float32Array | Float64Array | Uint16Array;

/** The change to one parameter tensor. */
export interface TensorDelta {
  name: string;
  dtype: FloatDType;
  /** The tensor's shape (checked when the delta is applied). */
  shape: number[];
  /** Sorted, unique flat (row-major) indices of the changed entries. */
  indices: Uint32Array;
  /** Values at those indices before and after the edit, in the tensor's own type. */
  before: FloatData;
  after: FloatData;
}

/** A sparse edit of a model's parameters. */
export interface SparseDelta {
  /** paramsHash of the model the delta was made from. */
  baseHash: string;
  /** One entry per changed tensor, in the base model's initializer order. */
  tensors: TensorDelta[];
  /** Free-form strings (the command that made it, …), kept in the delta file. */
  metadata: Record<string, string>;
  /** paramsHash of the model the delta makes (checked after applying: a damaged delta is refused). */
  resultHash?: string;
  /** The model metadata entries the edit changed, key → [before, after] (null: absent); applying sets them, reverting undoes them. */
  metadataChange?: Record<string, [string | null, string | null]>;
}

const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64', 'float16'];

/** The float parameters of a model, by name, in initializer order. */
export function floatParams(model: Model): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const i of floatInitializers(model.graph)) if (i.tensor && FLOAT_DTYPES.includes(i.tensor.dtype)) out.set(i.name, i.tensor);
  return out;
}

/** Unsigned-integer views of float values' bits, for bitwise comparison (float64 as pairs of words). */
function bitsOf(d: FloatData): Uint32Array | Uint16Array {
  return d instanceof Uint16Array ? d : new Uint32Array(d.buffer, d.byteOffset, d.byteLength / 4);
}

/**
 * sha256 (hex) of a model's float parameters: for each, in name order, its name, type, shape and raw bytes.
 * Two models hash alike exactly when their float parameters are bitwise equal; graph and metadata do not count.
 *
 * @example paramsHash(readModel('models/lenet5-fashion.onnx')); // 'a3f…'
 */
export function paramsHash(model: Model): string {
  const h = createHash('sha256');
  const params = [...floatParams(model)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, t] of params) {
    h.update(`${name}\0${t.dtype}\0${t.dims.join(',')}\0`);
    const d = t.data as FloatData;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/** Total number of changed entries. */
export function changedCount(delta: SparseDelta): number {
  let n = 0;
  for (const t of delta.tensors) n += t.indices.length;
  return n;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Indices where two float tensors of one type and size differ: bitwise, or by more than `atol`. */
export function changedIndices(a: HostTensor, b: HostTensor, atol?: number): Uint32Array {
  const n = a.data.length;
  const ba = bitsOf(a.data as FloatData);
  const bb = bitsOf(b.data as FloatData);
  const words = ba.length / n; // 2 for float64
  const differs =
    atol === undefined
      ? words === 1
        ? (i: number) => ba[i] !== bb[i]
        : (i: number) => ba[2 * i] !== bb[2 * i] || ba[2 * i + 1] !== bb[2 * i + 1]
      : (() => {
          const va = a.dtype === 'float16' ? halfToFloat(ba as Uint16Array) : (a.data as Float32Array | Float64Array);
          const vb = b.dtype === 'float16' ? halfToFloat(bb as Uint16Array) : (b.data as Float32Array | Float64Array);
          return (i: number) =>
            !(Math.abs(va[i] - vb[i]) <= atol) && !(words === 1 ? ba[i] === bb[i] : ba[2 * i] === bb[2 * i] && ba[2 * i + 1] === bb[2 * i + 1]);
        })();
  let count = 0;
  for (let i = 0; i < n; i++) if (differs(i)) count++;
  const out = new Uint32Array(count);
  if (count === 0) return out;
  let w = 0;
  for (let i = 0; i < n && w < count; i++) if (differs(i)) out[w++] = i;
  return out;
}

/** float16 words as float32 values. */
export function halfToFloat(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i];
    const s = x & 0x8000 ? -1 : 1;
    const e = (x >> 10) & 0x1f;
    const m = x & 0x3ff;
    out[i] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return out;
}

function pick(t: HostTensor, indices: Uint32Array): FloatData {
  const d = t.data as FloatData;
  const out = new (d.constructor as { new (n: number): FloatData })(indices.length);
  for (let j = 0; j < indices.length; j++) out[j] = d[indices[j]];
  return out;
}

function tensorDelta(name: string, before: HostTensor, after: HostTensor, indices: Uint32Array): TensorDelta {
  return { name, dtype: before.dtype as FloatDType, shape: [...before.dims], indices, before: pick(before, indices), after: pick(after, indices) };
}

/**
 * The delta that turns `base` into `edited`: every float parameter entry that differs (bitwise, so ±0, NaN payloads
 * and subnormals count; or by more than `atol`). Throws when the two models do not hold the same float parameters
 * (names, types and shapes); graph differences are `diffModels`' business. `hash: false` skips hashing the base
 * model (the delta can then be inspected but not written or applied).
 *
 * @example
 * const d = deltaBetween(readModel('a.onnx'), readModel('b.onnx'));
 * changedCount(d); // entries changed
 */
export function deltaBetween(base: Model, edited: Model, opts: { atol?: number; hash?: boolean } = {}): SparseDelta {
  const a = floatParams(base);
  const b = floatParams(edited);
  const problems: string[] = [];
  for (const [name, t] of a) {
    const u = b.get(name);
    if (!u) problems.push(`'${name}' is missing from the second model`);
    else if (u.dtype !== t.dtype || !sameShape(u.dims, t.dims))
      problems.push(`'${name}' is ${t.dtype}[${t.dims.join(',')}] in the first model, ${u.dtype}[${u.dims.join(',')}] in the second`);
  }
  for (const name of b.keys()) if (!a.has(name)) problems.push(`'${name}' is only in the second model`);
  if (problems.length)
    throw new Error(
      `the models do not hold the same parameters: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; … (${problems.length} differences)` : ''}`,
    );
  const tensors: TensorDelta[] = [];
  for (const [name, t] of a) {
    const indices = changedIndices(t, b.get(name)!, opts.atol);
    if (indices.length) tensors.push(tensorDelta(name, t, b.get(name)!, indices));
  }
  if (opts.hash === false) return { baseHash: '', tensors, metadata: {} };
  return { baseHash: paramsHash(base), tensors, metadata: {}, resultHash: paramsHash(edited), metadataChange: metadataChange(base, edited) };
}

/** The metadata entries that differ between two models, key → [before, after]. */
function metadataChange(base: Model, edited: Model): Record<string, [string | null, string | null]> {
  const a = allMetadata(base);
  const b = allMetadata(edited);
  const out: Record<string, [string | null, string | null]> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) if (a[key] !== b[key]) out[key] = [a[key] ?? null, b[key] ?? null];
  return out;
}

/**
 * The delta of giving some float32 parameters of `base` new dense values (a training step, a repair); with `masks`,
 * only entries whose mask is nonzero are considered. Entries that end up bitwise equal are left out.
 *
 * @example deltaFromValues(model, new Map([['fc.weight', tuned]]));
 */
export function deltaFromValues(base: Model, values: ReadonlyMap<string, Float32Array>, masks?: ReadonlyMap<string, ArrayLike<number>>): SparseDelta {
  const params = floatParams(base);
  const tensors: TensorDelta[] = [];
  for (const [name, t] of params) {
    const v = values.get(name);
    if (!v) continue;
    if (t.dtype !== 'float32') throw new Error(`parameter '${name}' is ${t.dtype}; new values must be given in its own type`);
    if (v.length !== t.data.length) throw new Error(`new values of '${name}' have ${v.length} entries, the parameter ${t.data.length}`);
    const after: HostTensor = { dtype: 'float32', dims: t.dims, data: v };
    let indices = changedIndices(t, after);
    const mask = masks?.get(name);
    if (mask) {
      if (mask.length !== v.length) throw new Error(`the mask of '${name}' has ${mask.length} entries, the parameter ${v.length}`);
      indices = indices.filter((i) => mask[i] !== 0);
    }
    if (indices.length) tensors.push(tensorDelta(name, t, after, indices));
  }
  for (const name of values.keys()) if (!params.has(name)) throw new Error(`'${name}' is not a float parameter of the model`);
  const delta: SparseDelta = { baseHash: paramsHash(base), tensors, metadata: {} };
  delta.resultHash = paramsHash(applyDelta(base, delta));
  return delta;
}

/**
 * The delta of adding `deltas` (one dense Float32Array per named float32 parameter) to the parameters, as a
 * corruption does: after = before + δ in float32, so applying it gives exactly what evaluating the corruption used.
 *
 * @example deltaFromCorruption(model, ['fc1.weight'], worstCorruption([g], spec).deltas);
 */
export function deltaFromCorruption(base: Model, names: readonly string[], deltas: readonly Float32Array[]): SparseDelta {
  const params = floatParams(base);
  const values = new Map<string, Float32Array>();
  names.forEach((name, i) => {
    const t = params.get(name);
    if (!t || t.dtype !== 'float32') throw new Error(`'${name}' is not a float32 parameter of the model`);
    const w = t.data as Float32Array;
    const d = deltas[i];
    if (d.length !== w.length) throw new Error(`corruption of '${name}' has ${d.length} values, the parameter ${w.length}`);
    const out = new Float32Array(w.length);
    for (let j = 0; j < w.length; j++) out[j] = w[j] + d[j];
    values.set(name, out);
  });
  return deltaFromValues(base, values);
}

/** How `applyDelta` went: what it refused to check, for the caller to warn about. */
export interface ApplyInfo {
  /** The model's parameter hash did not match and `force` was set. */
  hashMismatch: boolean;
}

/**
 * A copy of `model` with the delta applied (each index set to its `after` value), or reverted (set back to
 * `before`). Refuses, unless `force`, a model the delta was not made for: to apply, the model's parameter hash must
 * be the delta's base hash; to revert, the model must hold the `after` values and reverting must give back the base
 * hash. Tensors that are missing, of another type or shape, or indices out of range are refused even with `force`.
 * Applying then reverting gives back the original parameter bytes exactly.
 *
 * @example const edited = applyDelta(model, await readDelta('edit.safetensors'));
 */
export function applyDelta(model: Model, delta: SparseDelta, opts: { revert?: boolean; force?: boolean; info?: ApplyInfo } = {}): Model {
  const params = floatParams(model);
  const revert = opts.revert ?? false;
  if (!revert && paramsHash(model) !== delta.baseHash) {
    if (!opts.force) throw new Error('the delta was made for another model (parameter hash mismatch); the force option applies it anyway');
    if (opts.info) opts.info.hashMismatch = true;
  }
  const values = new Map<string, HostTensor>();
  for (const d of delta.tensors) {
    const t = params.get(d.name);
    if (!t) throw new Error(`the delta changes '${d.name}', which is not a float parameter of the model`);
    if (t.dtype !== d.dtype || !sameShape(t.dims, d.shape))
      throw new Error(`the delta's '${d.name}' is ${d.dtype}[${d.shape.join(',')}], the model's ${t.dtype}[${t.dims.join(',')}]`);
    const n = t.data.length;
    if (d.before.length !== d.indices.length || d.after.length !== d.indices.length)
      throw new Error(`the delta's '${d.name}' has ${d.indices.length} indices but ${d.before.length} before and ${d.after.length} after values`);
    for (let j = 0; j < d.indices.length; j++) {
      if (d.indices[j] >= n) throw new Error(`the delta's '${d.name}' index ${d.indices[j]} is out of range (the tensor has ${n} entries)`);
      if (j > 0 && d.indices[j] <= d.indices[j - 1]) throw new Error(`the delta's '${d.name}' indices are not sorted and unique (at position ${j})`);
    }
    const from = revert ? d.after : d.before;
    const to = revert ? d.before : d.after;
    const data = (t.data as FloatData).slice();
    const have = bitsOf(t.data as FloatData);
    const want = bitsOf(from);
    const words = have.length / n;
    if (revert && !opts.force) {
      for (let j = 0; j < d.indices.length; j++) {
        for (let w = 0; w < words; w++) {
          if (have[d.indices[j] * words + w] !== want[j * words + w])
            throw new Error(
              `'${d.name}'[${d.indices[j]}] does not hold the delta's edited value, so the model is not the edited one; the force option reverts anyway`,
            );
        }
      }
    }
    for (let j = 0; j < d.indices.length; j++) data[d.indices[j]] = to[j];
    values.set(d.name, { dtype: t.dtype, dims: [...t.dims], data });
  }
  const out = withParams(model, values);
  if (revert && paramsHash(out) !== delta.baseHash) {
    if (!opts.force)
      throw new Error('reverting the delta does not give back the model it was made from (other parameters differ); the force option reverts anyway');
    if (opts.info) opts.info.hashMismatch = true;
  }
  if (!revert && delta.resultHash && !opts.info?.hashMismatch && paramsHash(out) !== delta.resultHash) {
    // The base matched, so the entries themselves are not what was recorded: the file was damaged.
    throw new Error('the delta is damaged: applying it does not give the model it recorded (result hash mismatch)');
  }
  if (delta.metadataChange) {
    updateMetadata(out, Object.fromEntries(Object.entries(delta.metadataChange).map(([k, [before, after]]) => [k, revert ? before : after])));
  }
  return out;
}
