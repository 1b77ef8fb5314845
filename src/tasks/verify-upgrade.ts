// Check a converted model against onnxruntime's outputs on the original: the same inputs must give the same outputs.
import type { Model, ValueInfo } from '../onnx/ir.js';
import { declaredType } from '../onnx/declared-type.js';
import { compileUncached, type RuntimeOptions } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { Rng } from '../tensor/rng.js';

export interface UpgradeCheck {
  /** True when every output agrees within `tolerance` (relative to the output's largest magnitude). */
  ok: boolean;
  /** Largest absolute difference over all outputs, relative to 1 + the output's largest magnitude. */
  maxError: number;
  /** Why the check failed or could not run. */
  reason?: string;
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

function sampleInput(v: ValueInfo, rng: Rng, batch: number): HostTensor {
  const { dtype, shape } = declaredType(v);
  if (!shape) throw new Error(`input '${v.name}' has no declared shape`);
  const dims = shape.map((d) => (typeof d === 'number' ? d : batch));
  const n = dims.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case 'float32':
      return { dtype, dims, data: Float32Array.from({ length: n }, () => rng.normal()) };
    case 'float64':
      return { dtype, dims, data: Float64Array.from({ length: n }, () => rng.normal()) };
    case 'int64':
      return { dtype, dims, data: BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rng.uniform() * 2))) };
    case 'int32':
      return { dtype, dims, data: Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * 2)) };
    default:
      throw new Error(`input '${v.name}' has type ${dtype ?? 'unknown'}, which the check does not sample`);
  }
}

/**
 * Run `original` and `converted` on onnxruntime with the same random inputs (standard normal floats, integers in
 * {0, 1}; symbolic dims set to 2) and compare every output.
 *
 * @example const { ok, maxError } = await verifyUpgrade(readModel('old.onnx'), upgradeOpset(readModel('old.onnx'))!.model);
 */
export async function verifyUpgrade(original: Model, converted: Model, opts: { runtime?: RuntimeOptions; tolerance?: number } = {}): Promise<UpgradeCheck> {
  const tolerance = opts.tolerance ?? 1e-4;
  const feeds: Record<string, HostTensor> = {};
  const rng = new Rng(13);
  try {
    for (const v of original.graph.inputs) if (!original.graph.initializers.has(v.name)) feeds[v.name] = sampleInput(v, rng, 2);
  } catch (e) {
    return { ok: false, maxError: NaN, reason: `could not make test inputs: ${(e as Error).message}` };
  }
  const run = async (m: Model) => {
    const exe = await compileUncached(m, { ...opts.runtime, threads: 1 });
    try {
      return await exe.run(feeds);
    } finally {
      await exe.release();
    }
  };
  let a: Record<string, HostTensor>;
  let b: Record<string, HostTensor>;
  try {
    a = await run(original);
  } catch (e) {
    return { ok: false, maxError: NaN, reason: `onnxruntime could not run the original model: ${oneLine((e as Error).message)}` };
  }
  try {
    b = await run(converted);
  } catch (e) {
    return { ok: false, maxError: NaN, reason: `onnxruntime could not run the converted model: ${oneLine((e as Error).message)}` };
  }
  let maxError = 0;
  for (const [name, ta] of Object.entries(a)) {
    const tb = b[name];
    if (!tb || tb.dims.join() !== ta.dims.join()) return { ok: false, maxError: Infinity, reason: `output '${name}' changed shape` };
    const da = Array.from(ta.data as ArrayLike<number | bigint>, Number);
    const db = Array.from(tb.data as ArrayLike<number | bigint>, Number);
    const scale = 1 + da.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < da.length; i++) {
      if (Number.isNaN(da[i]) && Number.isNaN(db[i])) continue; // both NaN: the same
      const err = Math.abs(da[i] - db[i]) / scale;
      maxError = Number.isNaN(err) ? Infinity : Math.max(maxError, err);
    }
  }
  return maxError <= tolerance ? { ok: true, maxError } : { ok: false, maxError, reason: `outputs differ by up to ${maxError.toExponential(2)} (relative)` };
}
