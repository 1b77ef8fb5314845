// Second-order checks: differentiate a one-node case, fuse a loss onto its gradients, and gradcheck that.
import assert from 'node:assert/strict';
import { differentiate } from '../../src/autodiff/differentiate.js';
import { gradcheck } from '../../src/autodiff/gradcheck.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import type { DType } from '../../src/tensor/host-tensor.js';
import { createRng } from '../../src/tensor/rng.js';
import { buildCase, draw, type RuleCase } from './rule-check.js';

/**
 * Check the gradient of `loss2 = Σ_i sum(dL/dx_i * S_i)` (a Hessian-vector product in disguise) against
 * central differences, where L is the case's one-node loss: every op the rule emits must have a rule too.
 */
export async function checkSecondOrder(c: RuleCase, seed = 11): Promise<void> {
  const float: DType = c.float32 ? 'float32' : 'float64';
  const rng = createRng(seed);
  const { model, feeds, wrt } = await buildCase(c, float, rng);
  const loss = model.graph.outputs[0].name;
  const { model: first, gradients } = differentiate(model, { of: loss, wrt, keepOutputs: false });
  const b = new GraphBuilder(first.graph);
  const terms = wrt.map((w, i) => {
    const s = b.param(`s${i}`, draw(rng, { shape: feeds[w].dims }, float));
    return b.op('ReduceSum', [b.op('Mul', [gradients.get(w)!, s])], { keepdims: 0 });
  });
  const loss2 = terms.length === 1 ? terms[0] : b.op('Sum', terms);
  first.graph.outputs = [];
  b.output(loss2, float, []);
  const res = await gradcheck(first, { of: loss2, wrt, feeds, seed, step: float === 'float64' ? 1e-6 : 1e-2 });
  const tol = float === 'float64' ? 1e-5 : 3e-2;
  for (const r of res) {
    assert.ok(
      r.relError < tol,
      `${c.name ?? c.op} (second order): d/d${r.name} analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)}, ${float}, seed ${seed})`,
    );
  }
}
