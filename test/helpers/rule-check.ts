// Table-driven finite-difference checks of single-op gradient rules.
import assert from 'node:assert/strict';
import type { AttrValue } from '../../src/onnx/attributes.js';
import { GraphBuilder, makeModel } from '../../src/onnx/builder.js';
import type { Model } from '../../src/onnx/ir.js';
import { compile } from '../../src/runtime/session.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import type { DType, HostTensor } from '../../src/tensor/host-tensor.js';
import { sizeOf } from '../../src/tensor/host-tensor.js';
import { createRng, type Rng } from '../../src/tensor/rng.js';

/** How to draw an input's values: away from the kinks and poles of the op being checked. */
export type Domain = 'any' | 'positive' | 'unit' | 'nonzero' | { ints: number[] } | { values: number[] } | { int: number };

export interface InputSpec {
  shape: number[];
  /** Default 'any' (standard normal). */
  domain?: Domain;
  /** Non-float inputs (indices, shapes, axes): fed as int64 constants and never differentiated. */
  dtype?: DType;
  /** An optional input left out (''). */
  absent?: boolean;
  /** Fed as a constant initializer and never differentiated, even when of the case's float type (Resize scales). */
  constant?: boolean;
}

export interface RuleCase {
  op: string;
  inputs: InputSpec[];
  attrs?: Record<string, AttrValue>;
  /** Default 17. */
  opset?: number;
  /** Number of node outputs (default 1); all float outputs feed the loss. */
  outputs?: number;
  /** Indices of inputs to check (default: every float input). */
  wrt?: number[];
  /** Run in float32 only (ops onnxruntime's CPU provider has no float64 kernel for). */
  float32?: boolean;
  name?: string;
}

export function draw(rng: Rng, spec: InputSpec, dtype: DType): HostTensor {
  const n = sizeOf(spec.shape);
  const d = spec.domain ?? 'any';
  if (dtype === 'int64') {
    const vals =
      typeof d === 'object' && 'ints' in d
        ? d.ints
        : typeof d === 'object' && 'int' in d
          ? Array.from({ length: n }, () => rng.int((d as { int: number }).int))
          : [];
    return { dtype, dims: spec.shape, data: BigInt64Array.from(vals.map(BigInt)) };
  }
  if (dtype === 'bool') {
    const vals = typeof d === 'object' && 'ints' in d ? d.ints : Array.from({ length: n }, () => rng.int(2));
    return { dtype, dims: spec.shape, data: Uint8Array.from(vals) };
  }
  const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (typeof d === 'object' && 'values' in d) data[i] = d.values[i];
    else if (d === 'positive') data[i] = 0.5 + 1.5 * rng.uniform();
    else if (d === 'unit') data[i] = -0.9 + 1.8 * rng.uniform();
    else if (d === 'nonzero') data[i] = (rng.uniform() < 0.5 ? -1 : 1) * (0.5 + rng.uniform());
    else data[i] = rng.normal();
  }
  return { dtype, dims: spec.shape, data };
}

/** A graph computing `loss = Σ_k sum(Y_k * R_k)` of one node, with inputs x0..xn. */
export async function buildCase(c: RuleCase, float: DType, rng: Rng): Promise<{ model: Model; feeds: Record<string, HostTensor>; wrt: string[] }> {
  const make = (withLoss: HostTensor[] | undefined) => {
    const b = new GraphBuilder();
    const names: string[] = [];
    const feeds: Record<string, HostTensor> = {};
    const wrt: string[] = [];
    c.inputs.forEach((spec, i) => {
      if (spec.absent) {
        names.push('');
        return;
      }
      const dtype = spec.dtype ?? float;
      const t = draw(createRng(1000 + i), spec, dtype);
      if (dtype !== float || spec.constant) names.push(b.param(`x${i}`, t));
      else {
        names.push(b.input(`x${i}`, dtype, spec.shape));
        feeds[`x${i}`] = t;
        if (!c.wrt || c.wrt.includes(i)) wrt.push(`x${i}`);
      }
    });
    const outs = b.opN(c.op, names, c.outputs ?? 1, c.attrs, 'y');
    if (!withLoss) {
      outs.forEach((o) => b.output(o));
    } else {
      const terms = outs.flatMap((o, k) => {
        const r = withLoss[k];
        if (!r) return [];
        return [b.op('ReduceSum', [b.op('Mul', [o, b.param(`r${k}`, r)])], { keepdims: 0 })];
      });
      const loss = terms.length === 1 ? terms[0] : b.op('Sum', terms);
      b.output(loss, float, []);
    }
    return { model: makeModel(b.graph, c.opset ?? 17), feeds, wrt };
  };
  const probe = make(undefined);
  const outs = await (await compile(probe.model)).run(probe.feeds);
  const weights = probe.model.graph.outputs.map((o) => {
    const y = outs[o.name];
    if (y.dtype !== float) return undefined as unknown as HostTensor;
    return draw(rng, { shape: y.dims }, float);
  });
  return make(weights);
}

/** Run one case: differentiate, compare with central differences; float64 unless the case says float32. */
export async function checkRule(c: RuleCase, seed = 7): Promise<void> {
  const float: DType = c.float32 ? 'float32' : 'float64';
  const rng = createRng(seed);
  const { model, feeds, wrt } = await buildCase(c, float, rng);
  const loss = model.graph.outputs[0].name;
  const res = await gradcheck(model, { of: loss, wrt, feeds, seed, step: float === 'float64' ? 1e-6 : 1e-2 });
  const tol = float === 'float64' ? 1e-5 : 2e-2;
  for (const r of res) {
    assert.ok(
      r.relError < tol,
      `${c.name ?? c.op}: d/d${r.name} analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)}, ${float}, seed ${seed})`,
    );
  }
}

/** A readable test name for a case. */
export function caseName(c: RuleCase): string {
  return c.name ?? `${c.op} ${c.inputs.map((i) => (i.absent ? '-' : `[${i.shape.join(',')}]`)).join(' ')}${c.attrs ? ' ' + JSON.stringify(c.attrs) : ''}`;
}
