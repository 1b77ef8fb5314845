// Finite-difference checks of small hand-built graphs: loss terms picked per output, symbolic batch dims, second order.
import assert from 'node:assert/strict';
import { differentiate } from '../../src/autodiff/differentiate.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import { type Dim, GraphBuilder, makeModel } from '../../src/onnx/builder.js';
import type { Model } from '../../src/onnx/ir.js';
import { compile } from '../../src/runtime/session.js';
import type { DType, HostTensor } from '../../src/tensor/host-tensor.js';
import { createRng } from '../../src/tensor/rng.js';
import { draw, type InputSpec } from './rule-check.js';

export interface GraphCase {
  name: string;
  /** Float inputs, all differentiated, fed in the case's float type. */
  inputs: Record<string, InputSpec>;
  /** Inputs whose dim 0 is declared as the symbolic dimension 'batch'. */
  batched?: string[];
  /** Appends nodes; returns the values Y_k of `loss = Σ_k sum(Y_k * R_k)`. */
  build: (b: GraphBuilder, x: Record<string, string>) => string[];
  opset?: number;
  float32?: boolean;
  /** 2: check the gradient of Σ_i sum(dL/dx_i * S_i) instead (every op the rules emit must have a rule). */
  order?: 1 | 2;
}

async function buildGraph(c: GraphCase, float: DType, seed: number): Promise<{ model: Model; feeds: Record<string, HostTensor>; wrt: string[] }> {
  const make = (weights?: HostTensor[]) => {
    const b = new GraphBuilder();
    const feeds: Record<string, HostTensor> = {};
    const x: Record<string, string> = {};
    Object.entries(c.inputs).forEach(([name, spec], i) => {
      const shape: Dim[] = c.batched?.includes(name) ? ['batch', ...spec.shape.slice(1)] : spec.shape;
      x[name] = b.input(name, float, shape);
      feeds[name] = draw(createRng(1000 + i), spec, float);
    });
    const ys = c.build(b, x);
    if (!weights) ys.forEach((y) => b.output(y));
    else {
      const terms = ys.map((y, k) => b.op('ReduceSum', [b.op('Mul', [y, b.param(`r${k}`, weights[k])])], { keepdims: 0 }));
      b.output(terms.length === 1 ? terms[0] : b.op('Sum', terms), float, []);
    }
    return { model: makeModel(b.graph, c.opset ?? 17), feeds, wrt: Object.keys(c.inputs) };
  };
  const probe = make();
  const outs = await (await compile(probe.model)).run(probe.feeds);
  const rng = createRng(seed);
  return make(probe.model.graph.outputs.map((o) => draw(rng, { shape: outs[o.name].dims }, float)));
}

/** Check a graph case's gradients (or, with order 2, the gradient of its gradients) against central differences. */
export async function checkGraph(c: GraphCase, seed = 5): Promise<void> {
  const float: DType = c.float32 ? 'float32' : 'float64';
  let { model, feeds, wrt } = await buildGraph(c, float, seed);
  let of = model.graph.outputs[0].name;
  if (c.order === 2) {
    const { model: first, gradients } = differentiate(model, { of, wrt, keepOutputs: false });
    const b = new GraphBuilder(first.graph);
    const rng = createRng(seed + 1);
    const terms = wrt.map((w, i) =>
      b.op('ReduceSum', [b.op('Mul', [gradients.get(w)!, b.param(`s${i}`, draw(rng, { shape: feeds[w].dims }, float))])], { keepdims: 0 }),
    );
    first.graph.outputs = [];
    of = b.output(terms.length === 1 ? terms[0] : b.op('Sum', terms), float, []);
    model = first;
  }
  const res = await gradcheck(model, { of, wrt, feeds, seed, step: float === 'float64' ? 1e-6 : 1e-2 });
  const tol = float === 'float64' ? 1e-5 : c.order === 2 ? 3e-2 : 2e-2;
  for (const r of res) {
    assert.ok(
      r.relError < tol,
      `${c.name}: d/d${r.name} analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)}, ${float}, seed ${seed})`,
    );
  }
}
