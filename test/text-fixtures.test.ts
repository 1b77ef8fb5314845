// Text models exported from PyTorch (scripts/export-text-fixtures.py): an LSTM language model, a Transformer encoder
// classifier with an attention mask, a BERT-style classifier with token type ids. Their loss and every parameter
// gradient on a small batch against torch.autograd, and the differentiated graphs at other batch and sequence sizes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { differentiate } from '../src/autodiff/differentiate.js';
import { readSafetensors } from '../src/data/safetensors.js';
import { bindDims } from '../src/onnx/bind-dims.js';
import { floatInitializers } from '../src/onnx/ir.js';
import { readModel } from '../src/onnx/model-io.js';
import { promoteToInputs } from '../src/onnx/params-as-inputs.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { withLoss } from '../src/train/losses.js';

const fixture = (file: string) => fileURLToPath(new URL(`./fixtures/text/${file}`, import.meta.url));

interface FixtureMeta {
  kind: 'language-modelling' | 'sequence-classification';
  inputs: string[];
  params: number;
  gradients: { file: string; loss: number; keys: string[] };
}
const META = JSON.parse(readFileSync(fixture('text.json'), 'utf8')) as Record<string, FixtureMeta>;
const MODELS = ['lstm-lm', 'transformer-cls', 'bert-cls'] as const;

/** ||a - b|| and ||b||. */
function distance(a: HostTensor, b: HostTensor): { diff: number; ref: number } {
  assert.deepEqual(a.dims, b.dims, 'shapes differ');
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i++) {
    d += (Number(a.data[i]) - Number(b.data[i])) ** 2;
    n += Number(b.data[i]) ** 2;
  }
  return { diff: Math.sqrt(d), ref: Math.sqrt(n) };
}

/**
 * ||a - b|| against 1e-4·||b|| + 1e-6 (allclose on norms): below 1 passes. The absolute part is for gradients that are
 * zero up to rounding, as an attention key's bias is (softmax ignores a shift that is the same for every key).
 */
function closeness(a: HostTensor, b: HostTensor): number {
  const { diff, ref } = distance(a, b);
  return diff / (1e-4 * ref + 1e-6);
}

/** Columns [0, t) of every row of a [N, T, …] tensor. */
function firstColumns(x: HostTensor, t: number): HostTensor {
  if (x.dims.length < 2) return x;
  const [N, T] = x.dims;
  const per = x.data.length / (N * T);
  const data = new BigInt64Array(N * t * per);
  for (let n = 0; n < N; n++) data.set((x.data as BigInt64Array).subarray(n * T * per, (n * T + t) * per), n * t * per);
  return { dtype: x.dtype, dims: [N, t, ...x.dims.slice(2)], data };
}

/**
 * The fixture with the loss attached, every float initializer promoted to an input, differentiated w.r.t. all of them.
 * NOTE: the differentiator unrolls an LSTM, which needs a static sequence length: recurrent models are bound to `seq`.
 */
async function prepare(name: (typeof MODELS)[number], seq = 35) {
  const meta = META[name];
  const ref = await readSafetensors(fixture(meta.gradients.file));
  const file = readModel(fixture(`${name}.onnx`));
  const recurrent = file.graph.nodes.some((n) => n.opType === 'LSTM');
  const { model: lossModel, loss, output } = withLoss(recurrent ? bindDims(file, { sequence: seq }) : file, { kind: 'cross-entropy' });
  const params = floatInitializers(lossModel.graph).map((i) => i.name);
  const { model: promoted, values } = promoteToInputs(lossModel, params);
  const { model, gradients } = differentiate(promoted, { of: loss, wrt: params });
  const exe = await compile(model);
  const feeds = (t?: number) => Object.fromEntries([...meta.inputs, 'y'].map((k) => [k, t === undefined ? ref.get(k)! : firstColumns(ref.get(k)!, t)]));
  return { meta, ref, loss, output, params, values, exe, gradients, feeds };
}

for (const name of MODELS) {
  test(`${name}: loss and every parameter gradient match torch.autograd`, async (t) => {
    const p = await prepare(name);
    const keys = p.meta.gradients.keys.map((k) => k.slice('grad:'.length));
    assert.deepEqual(
      keys.filter((k) => !p.params.includes(k)),
      [],
      'every torch parameter is an initializer of the same name',
    );
    const out = await p.exe.run({ ...p.feeds(), ...Object.fromEntries(p.values) });
    const loss = Number(out[p.loss].data[0]);
    assert.ok(Math.abs(loss - p.meta.gradients.loss) < 1e-5 * Math.abs(p.meta.gradients.loss), `loss ${loss} vs torch ${p.meta.gradients.loss}`);
    if (p.ref.has('logits')) {
      const { diff, ref } = distance(out[p.output], p.ref.get('logits')!);
      assert.ok(diff < 1e-5 * ref, `logits differ from torch's by ${(diff / ref).toExponential(2)} (relative)`);
    }
    const errs = keys.map((k) => [k, distance(out[p.gradients.get(k)!], p.ref.get(`grad:${k}`)!)] as const);
    t.diagnostic(errs.map(([k, e]) => `${k}: ${(e.diff / e.ref).toExponential(1)}`).join(', '));
    const bad = errs.filter(([k]) => !(closeness(out[p.gradients.get(k)!], p.ref.get(`grad:${k}`)!) < 1));
    assert.deepEqual(
      bad.map(([k, e]) => `${k}: |Δ| ${e.diff.toExponential(2)}, |torch| ${e.ref.toExponential(2)}`),
      [],
      'gradients off by more than 1e-4 relative + 1e-6',
    );
  });

  test(`${name}: the differentiated graph runs at a shorter sequence and another batch size`, async () => {
    const p = await prepare(name, 12);
    const short = p.feeds(12);
    const out = await p.exe.run({ ...short, ...Object.fromEntries(p.values) });
    assert.ok(Number.isFinite(Number(out[p.loss].data[0])));
    const row = (x: HostTensor) => ({ dtype: x.dtype, dims: [1, ...x.dims.slice(1)], data: x.data.slice(0, x.data.length / x.dims[0]) }) as HostTensor;
    const one = await p.exe.run({ ...Object.fromEntries(Object.entries(short).map(([k, v]) => [k, row(v)])), ...Object.fromEntries(p.values) });
    assert.ok(Number.isFinite(Number(one[p.loss].data[0])));
  });
}
