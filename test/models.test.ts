// Whole-model verification: gradients of PyTorch-exported models against torch.autograd, finite differences,
// dynamic batch sizes, and Hessian-vector products from differentiating the differentiated graph.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { gradcheck } from '../src/autodiff/gradcheck.js';
import { readSafetensors } from '../src/data/safetensors.js';
import { GraphBuilder } from '../src/onnx/builder.js';
import { cloneModel, floatInitializers, type Model } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { promoteToInputs } from '../src/onnx/params-as-inputs.js';
import { compile, type Executable } from '../src/runtime/session.js';
import { type HostTensor, sizeOf, typedArrayFor } from '../src/tensor/host-tensor.js';
import { createRng } from '../src/tensor/rng.js';
import { withLoss } from '../src/train/losses.js';

const MODELS = ['mlp', 'lenet', 'resnet', 'transformer', 'gru', 'lstm'] as const;
type Name = (typeof MODELS)[number];

interface Meta {
  opset: number;
  inputShape: number[];
  skippedGradients: string[];
  gradientKeys: string[];
  loss: number;
}

const fixture = (file: string) => fileURLToPath(new URL(`./fixtures/torch/${file}`, import.meta.url));

interface Prepared {
  meta: Meta;
  ref: Map<string, HostTensor>;
  /** The model with the cross-entropy loss attached (parameters still initializers). */
  lossModel: Model;
  loss: string;
  output: string;
  /** Every float initializer, promoted to an input. */
  params: string[];
  values: Map<string, HostTensor>;
  exe: Executable;
  gradients: Map<string, string>;
}

const prepared = new Map<Name, Promise<Prepared>>();

/** Load a fixture, attach the loss, promote every float initializer to an input and differentiate w.r.t. all of them. */
function prepare(name: Name): Promise<Prepared> {
  let p = prepared.get(name);
  if (!p) {
    p = (async () => {
      const meta = JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as Meta;
      const ref = await readSafetensors(fixture(`${name}.safetensors`));
      const { model: lossModel, loss, output } = withLoss(readModel(fixture(`${name}.onnx`)), { kind: 'cross-entropy' });
      const params = floatInitializers(lossModel.graph).map((i) => i.name);
      const { model: promoted, values } = promoteToInputs(lossModel, params);
      const { model, gradients } = differentiate(promoted, { of: loss, wrt: params });
      return { meta, ref, lossModel, loss, output, params, values, exe: await compile(model), gradients };
    })();
    prepared.set(name, p);
  }
  return p;
}

function norm(t: HostTensor): number {
  let s = 0;
  for (let i = 0; i < t.data.length; i++) s += Number(t.data[i]) ** 2;
  return Math.sqrt(s);
}

/** ||a - b|| / ||b|| (absolute when b is zero). */
function relErr(a: HostTensor, b: HostTensor): number {
  assert.deepEqual(a.dims, b.dims, 'shapes differ');
  let d = 0;
  for (let i = 0; i < a.data.length; i++) d += (Number(a.data[i]) - Number(b.data[i])) ** 2;
  const nb = norm(b);
  return Math.sqrt(d) / (nb > 0 ? nb : 1);
}

function allFinite(t: HostTensor): boolean {
  for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(Number(t.data[i]))) return false;
  return true;
}

/** Rows [from, to) along axis 0. */
function rows(t: HostTensor, from: number, to: number): HostTensor {
  const per = sizeOf(t.dims.slice(1));
  return { dtype: t.dtype, dims: [to - from, ...t.dims.slice(1)], data: t.data.slice(from * per, to * per) as HostTensor['data'] };
}

/** Elementwise a·x + b·y. */
function axpby(a: number, x: HostTensor, b: number, y: HostTensor): HostTensor {
  const data = typedArrayFor(x.dtype, x.data.length) as Float32Array;
  for (let i = 0; i < data.length; i++) data[i] = a * Number(x.data[i]) + b * Number(y.data[i]);
  return { dtype: x.dtype, dims: x.dims, data };
}

function dotT(a: HostTensor, b: HostTensor): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += Number(a.data[i]) * Number(b.data[i]);
  return s;
}

function randn(like: HostTensor, seed: number): HostTensor {
  const rng = createRng(seed);
  const data = new Float32Array(like.data.length);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { dtype: 'float32', dims: like.dims, data };
}

const worst = (errs: Map<string, number>) => [...errs].sort((a, b) => b[1] - a[1])[0];

for (const name of MODELS) {
  test(`${name}: logits, loss and every parameter gradient match torch.autograd`, async (t) => {
    const p = await prepare(name);
    const x = p.ref.get('x')!;
    const y = p.ref.get('y')!;
    const out = await p.exe.run({ x, y, ...Object.fromEntries(p.values) });
    const logitsErr = relErr(out[p.output], p.ref.get('logits')!);
    assert.ok(logitsErr < 1e-5, `logits differ from torch's by ${logitsErr.toExponential(2)} (relative)`);
    const loss = Number(out[p.loss].data[0]);
    assert.ok(Math.abs(loss - p.meta.loss) < 1e-5 * Math.abs(p.meta.loss), `loss ${loss} vs torch ${p.meta.loss}`);

    const errs = new Map<string, number>();
    for (const key of p.meta.gradientKeys) {
      const param = key.slice('grad:'.length);
      errs.set(param, relErr(out[p.gradients.get(param)!], p.ref.get(key)!));
    }
    for (const param of p.params) assert.ok(allFinite(out[p.gradients.get(param)!]), `gradient of ${param} is not finite`);
    const [wName, wErr] = worst(errs);
    t.diagnostic(`${name}: logits rel ${logitsErr.toExponential(2)}, max gradient rel error ${wErr.toExponential(2)} (${wName}) over ${errs.size} tensors`);
    const bad = [...errs].filter(([, e]) => !(e < 1e-4));
    assert.deepEqual(
      bad.map(([n, e]) => `${n}: ${e.toExponential(2)}`),
      [],
      'gradients with relative error ≥ 1e-4',
    );
  });

  test(`${name}: gradients agree with finite differences along random directions`, async (t) => {
    const p = await prepare(name);
    const keys = p.meta.gradientKeys.map((k) => k.slice('grad:'.length));
    const wrt = [...new Set([keys[0], keys[Math.floor(keys.length / 2)], keys[keys.length - 1]])];
    const feeds = { x: p.ref.get('x')!, y: p.ref.get('y')! };
    // NOTE: float32 central differences along a dense random direction need a step small enough not to cross
    // ReLU/MaxPool kinks, yet large enough to beat rounding; the best step differs per tensor, so take the best of a few.
    // Even then a first-layer conv weight only resolves to ~1e-2 in float32 (the torch comparison above is the tight check).
    const best = new Map<string, { step: number; relError: number; analytic: number; numeric: number }>();
    for (const step of [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]) {
      for (const r of await gradcheck(p.lossModel, { of: p.loss, wrt, feeds, seed: 11, step })) {
        const prev = best.get(r.name);
        if (!prev || r.relError < prev.relError) best.set(r.name, { ...r, step });
      }
    }
    t.diagnostic([...best].map(([n, r]) => `${n}: rel ${r.relError.toExponential(1)} at step ${r.step}`).join('; '));
    for (const [n, r] of best) {
      assert.ok(r.relError < 3e-2, `d/d${n}: analytic ${r.analytic} vs numeric ${r.numeric} (rel ${r.relError.toExponential(2)}, step ${r.step})`);
    }
  });

  test(`${name}: the differentiated model runs at other batch sizes (batch-2 loss and gradients are per-sample means)`, async () => {
    const p = await prepare(name);
    const x = p.ref.get('x')!;
    const y = p.ref.get('y')!;
    const params = Object.fromEntries(p.values);
    const run = (from: number, to: number) => p.exe.run({ x: rows(x, from, to), y: rows(y, from, to), ...params });
    const [two, first, second] = [await run(0, 2), await run(0, 1), await run(1, 2)];
    const l = (o: Record<string, HostTensor>) => Number(o[p.loss].data[0]);
    const mean = (l(first) + l(second)) / 2;
    assert.ok(Math.abs(l(two) - mean) < 1e-5 * Math.abs(mean), `batch-2 loss ${l(two)} vs mean of per-sample losses ${mean}`);
    for (const param of p.params) {
      const g = two[p.gradients.get(param)!];
      assert.ok(allFinite(g), `gradient of ${param} at batch 2 is not finite`);
      const expected = axpby(0.5, first[p.gradients.get(param)!], 0.5, second[p.gradients.get(param)!]);
      if (norm(expected) === 0) continue;
      const e = relErr(g, expected);
      assert.ok(e < 1e-4, `gradient of ${param} at batch 2 vs mean of per-sample gradients: rel ${e.toExponential(2)}`);
    }
  });
}

// Hessian-vector products: hvp(v) = d/dw <grad(w), v>, from differentiating the differentiated graph,
// against central differences of the gradient (grad(w + h v) - grad(w - h v)) / 2h.
for (const name of ['mlp', 'lenet'] as const) {
  test(`${name}: Hessian-vector products match finite differences of the gradient and are symmetric`, async (t) => {
    const { lossModel, loss, ref } = await prepare(name);
    const params = floatInitializers(lossModel.graph).map((i) => i.name);
    const { model: promoted, values } = promoteToInputs(lossModel, params);
    const first = differentiate(promoted, { of: loss, wrt: params, keepOutputs: false });

    const withDot = cloneModel(first.model);
    const b = new GraphBuilder(withDot.graph);
    const terms = params.map((w) => {
      const v = b.input(`v.${w}`, 'float32', values.get(w)!.dims);
      return b.op('ReduceSum', [b.op('Mul', [first.gradients.get(w)!, v])], { keepdims: 0 });
    });
    const dot = terms.slice(1).reduce((acc, term) => b.op('Add', [acc, term]), terms[0]);
    b.output(dot, 'float32', []);
    const second = differentiate(withDot, { of: dot, wrt: params, keepOutputs: false });

    const vs = new Map(params.map((w, k) => [w, randn(values.get(w)!, 100 + k)]));
    const feeds: Record<string, HostTensor> = { x: ref.get('x')!, y: ref.get('y')!, ...Object.fromEntries(values) };
    for (const [w, v] of vs) feeds[`v.${w}`] = v;
    const hvpExe = await compile(second.model);
    const hvp = await hvpExe.run(feeds);

    // The Hessian is symmetric: <H v, u> = <H u, v>, which needs no finite differences.
    const us = new Map(params.map((w, k) => [w, randn(values.get(w)!, 200 + k)]));
    const hvpU = await hvpExe.run({ ...feeds, ...Object.fromEntries(params.map((w) => [`v.${w}`, us.get(w)!])) });
    const dotAll = (h: Record<string, HostTensor>, d: Map<string, HostTensor>) =>
      params.reduce((acc, w) => acc + dotT(h[second.gradients.get(w)!], d.get(w)!), 0);
    const [uHv, vHu] = [dotAll(hvp, us), dotAll(hvpU, vs)];
    assert.ok(Math.abs(uHv - vHu) < 1e-4 * Math.max(Math.abs(uHv), Math.abs(vHu)), `<Hv, u> = ${uHv} but <Hu, v> = ${vHu}`);

    const gradExe = await compile(first.model);
    const gradAt = (step: number) => {
      const shifted = { ...feeds };
      for (const w of params) shifted[w] = axpby(1, values.get(w)!, step, vs.get(w)!);
      return gradExe.run(shifted);
    };
    // As in the gradient check: the best of a few steps, since kinks and rounding bound the usable step per tensor.
    const errs = new Map<string, number>();
    for (const step of [3e-6, 1e-5, 3e-5, 1e-4, 1e-3]) {
      const [plus, minus] = [await gradAt(step), await gradAt(-step)];
      for (const w of params) {
        const g = first.gradients.get(w)!;
        const fd = axpby(1 / (2 * step), plus[g], -1 / (2 * step), minus[g]);
        const e = relErr(hvp[second.gradients.get(w)!], fd);
        const prev = errs.get(w);
        if (prev === undefined || e < prev) errs.set(w, e);
      }
    }
    const [wName, wErr] = worst(errs);
    t.diagnostic(`${name}: max HVP rel error ${wErr.toExponential(2)} (${wName}); <Hv, u> ${uHv.toPrecision(8)} vs <Hu, v> ${vHu.toPrecision(8)}`);
    const bad = [...errs].filter(([, e]) => !(e < 1e-2));
    assert.deepEqual(
      bad.map(([n, e]) => `${n}: ${e.toExponential(2)}`),
      [],
      'Hessian-vector products with relative error ≥ 1e-2',
    );
  });
}
