// Check gradients against central finite differences along a random direction.
import type { Model } from '../onnx/ir.js';
import { promoteToInputs } from '../onnx/params-as-inputs.js';
import { compile } from '../runtime/session.js';
import type { HostTensor } from '../tensor/host-tensor.js';
import { createRng } from '../tensor/rng.js';
import { differentiate } from './differentiate.js';

export interface GradcheckOptions {
  /** The value to differentiate (summed when not a scalar). */
  of: string;
  /** Initializers or graph inputs to check the gradient of. */
  wrt: readonly string[];
  /** Values for the graph inputs. */
  feeds: Record<string, HostTensor>;
  /** Seed of the random directions. */
  seed?: number;
  /** Finite-difference step (default 1e-3 for float32 values, 1e-6 for float64). */
  step?: number;
}

export interface GradcheckResult {
  name: string;
  /** <gradient, v> from the differentiated graph. */
  analytic: number;
  /** (L(x + h v) - L(x - h v)) / 2h. */
  numeric: number;
  /** |analytic - numeric| / max(|analytic|, |numeric|, 1e-12). */
  relError: number;
}

function sumAll(t: HostTensor): number {
  let s = 0;
  for (let i = 0; i < t.data.length; i++) s += Number(t.data[i]);
  return s;
}

function dot(a: HostTensor, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) s += Number(a.data[i]) * b[i];
  return s;
}

function shifted(t: HostTensor, v: Float64Array, h: number): HostTensor {
  const data = t.dtype === 'float64' ? new Float64Array(v.length) : new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) data[i] = Number(t.data[i]) + h * v[i];
  return { dtype: t.dtype, dims: t.dims, data };
}

/**
 * Compare the differentiated graph's directional derivative with central finite differences.
 *
 * @example
 * const res = await gradcheck(model, { of: 'loss', wrt: ['fc.weight'], feeds: { x, y } });
 */
export async function gradcheck(model: Model, opts: GradcheckOptions): Promise<GradcheckResult[]> {
  const inits = opts.wrt.filter((w) => model.graph.initializers.has(w));
  const { model: promoted, values } = promoteToInputs(model, inits);
  const base: Record<string, HostTensor> = { ...opts.feeds, ...Object.fromEntries(values) };
  const { model: withGrad, gradients } = differentiate(promoted, { of: opts.of, wrt: opts.wrt, keepOutputs: false });
  const exe = await compile(withGrad);
  const out = await exe.run(base);
  const rng = createRng(opts.seed ?? 0);
  const results: GradcheckResult[] = [];
  for (const name of opts.wrt) {
    const x = base[name];
    if (!x) throw new Error(`gradcheck: no value for '${name}'`);
    const v = new Float64Array(x.data.length);
    for (let i = 0; i < v.length; i++) v[i] = rng.normal();
    const h = opts.step ?? (x.dtype === 'float64' ? 1e-6 : 1e-3);
    const lossAt = async (sign: number) => sumAll((await exe.run({ ...base, [name]: shifted(x, v, sign * h) }, [opts.of]))[opts.of]);
    const numeric = ((await lossAt(1)) - (await lossAt(-1))) / (2 * h);
    const analytic = dot(out[gradients.get(name)!], v);
    const relError = Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-12);
    results.push({ name, analytic, numeric, relError });
  }
  return results;
}
