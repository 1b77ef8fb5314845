// Gradient checks beyond rule-check's: symbolic input shapes, run-time integer inputs, and second order.
import assert from 'node:assert/strict';
import { differentiate } from '../../src/autodiff/differentiate.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import { type Dim, GraphBuilder, makeModel } from '../../src/onnx/builder.js';
import type { Model } from '../../src/onnx/ir.js';
import { compile } from '../../src/runtime/session.js';
import type { DType, HostTensor } from '../../src/tensor/host-tensor.js';
import { sizeOf } from '../../src/tensor/host-tensor.js';
import { createRng, type Rng } from '../../src/tensor/rng.js';
import { draw, type InputSpec, type RuleCase } from './rule-check.js';

export interface CheckOptions {
  /** Declare every dim of the float inputs symbolic ('d0', 'd1', …), so rules must take the dynamic path. */
  symbolic?: boolean;
  /** Feed the integer inputs as graph inputs instead of constants, so their values are unknown to the rules. */
  feedInts?: boolean;
}

interface Built {
  model: Model;
  feeds: Record<string, HostTensor>;
  wrt: string[];
  loss: string;
}

/**
 * The one-node graph of `c` with loss = Σ_k sum(Y_k^p * R_k) (p = 1, or 2 for second-order checks, so that
 * the first gradient depends on the inputs even for linear ops).
 */
async function build(c: RuleCase, float: DType, rng: Rng, opts: CheckOptions, power: 1 | 2): Promise<Built> {
  const make = (weights: HostTensor[] | undefined): Built => {
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
      if (dtype !== float) {
        if (opts.feedInts) {
          names.push(b.input(`x${i}`, dtype, spec.shape));
          feeds[`x${i}`] = t;
        } else names.push(b.param(`x${i}`, t));
        return;
      }
      const shape: Dim[] = opts.symbolic ? spec.shape.map((_, j) => `x${i}_d${j}`) : spec.shape;
      names.push(b.input(`x${i}`, dtype, shape));
      feeds[`x${i}`] = t;
      if (!c.wrt || c.wrt.includes(i)) wrt.push(`x${i}`);
    });
    const outs = b.opN(c.op, names, c.outputs ?? 1, c.attrs, 'y');
    if (!weights) {
      outs.forEach((o) => b.output(o));
      return { model: makeModel(b.graph, c.opset ?? 17), feeds, wrt, loss: '' };
    }
    const terms = outs.flatMap((o, k) => {
      const r = weights[k];
      if (!r) return [];
      const y = power === 2 ? b.op('Mul', [o, o]) : o;
      return [b.op('ReduceSum', [b.op('Mul', [y, b.param(`r${k}`, r)])], { keepdims: 0 })];
    });
    const loss = terms.length === 1 ? terms[0] : b.op('Sum', terms);
    b.output(loss, float, []);
    return { model: makeModel(b.graph, c.opset ?? 17), feeds, wrt, loss };
  };
  const probe = make(undefined);
  const outs = await (await compile(probe.model)).run(probe.feeds);
  const weights = probe.model.graph.outputs.map((o) => {
    const y = outs[o.name];
    return y.dtype === float ? draw(rng, { shape: y.dims }, float) : (undefined as unknown as HostTensor);
  });
  return make(weights);
}

async function assertClose(label: string, model: Model, of: string, wrt: string[], feeds: Record<string, HostTensor>, float: DType, seed: number) {
  assert.ok(wrt.length > 0, `${label}: nothing to differentiate`);
  const res = await gradcheck(model, { of, wrt, feeds, seed, step: float === 'float64' ? 1e-6 : 1e-2 });
  const tol = float === 'float64' ? 1e-5 : 2e-2;
  for (const r of res) {
    assert.ok(
      r.relError < tol,
      `${label}: d/d${r.name} analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)}, ${float}, seed ${seed})`,
    );
  }
}

/** Like checkRule, with symbolic shapes and/or run-time integer inputs. */
export async function checkVariant(c: RuleCase, opts: CheckOptions, seed = 7): Promise<void> {
  const float: DType = c.float32 ? 'float32' : 'float64';
  const { model, feeds, wrt, loss } = await build(c, float, createRng(seed), opts, 1);
  await assertClose(c.name ?? c.op, model, loss, wrt, feeds, float, seed);
}

/**
 * Second order: differentiate loss = Σ sum(Y² R) to get g = dloss/dX, then check the gradient of
 * Σ sum(g S) (a Hessian-vector product) against finite differences. Exercises the rules of every op
 * that the first differentiation emitted.
 */
export async function checkSecondOrder(c: RuleCase, opts: CheckOptions = {}, seed = 11): Promise<void> {
  const float: DType = c.float32 ? 'float32' : 'float64';
  const rng = createRng(seed);
  const first = await build(c, float, rng, opts, 2);
  const { model, gradients } = differentiate(first.model, { of: first.loss, wrt: first.wrt });
  const b = new GraphBuilder(model.graph);
  const terms = first.wrt.map((w) => {
    const x = first.feeds[w];
    const s = b.param(b.fresh(`s_${w}`), draw(rng, { shape: x.dims }, float));
    return b.op('ReduceSum', [b.op('Mul', [gradients.get(w)!, s])], { keepdims: 0 });
  });
  const loss2 = terms.length === 1 ? terms[0] : b.op('Sum', terms);
  model.graph.outputs = [];
  b.output(loss2, float, []);
  await assertClose(`${c.name ?? c.op} (second order)`, model, loss2, first.wrt, first.feeds, float, seed);
}
