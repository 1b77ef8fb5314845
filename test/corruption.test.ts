import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/tensor/rng.js';
import { topN } from '../src/params/top-n.js';
import { dualNorm, resolveN, worstCorruption } from '../src/corruption/closed-form.js';
import { formatSelector, groupParams, parseGrouping, parseSelector, selectParams } from '../src/params/select.js';
import { buildModel } from '../src/models/index.js';
import { readModel } from '../src/onnx/model-io.js';
import { readSafetensors } from '../src/data/safetensors.js';
import type { Model } from '../src/onnx/ir.js';
import { CorruptionEvaluator, corruptModel, dotDeltas, gradientOf, randomCorruption } from '../src/corruption/corrupt.js';
import { planProbe, probe } from '../src/corruption/probe.js';
import { empiricalQuantiles, etaCdf, etaDensity, etaQuantile, theoreticalQuantiles } from '../src/corruption/theorem1.js';
import { takeRows } from '../src/data/batches.js';
import { loadLabelledData, type LabelledData } from '../src/data/load-dataset.js';
import { evaluate } from '../src/tasks/run.js';
import { train } from '../src/train/trainer.js';

// ---------- closed form (Proposition 1) ----------

const pnorm = (x: ArrayLike<number>, p: number) => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  if (p === Infinity || m === 0) return m;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (Math.abs(x[i]) / m) ** p;
  return m * s ** (1 / p);
};
const concat = (xs: Float32Array[]) => {
  const out = new Float64Array(xs.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
function subsets(k: number, n: number): number[][] {
  if (n === 0) return [[]];
  if (k < n) return [];
  return [...subsets(k - 1, n), ...subsets(k - 1, n - 1).map((s) => [...s, k - 1])];
}

for (const p of [1, 1.5, 2, 3, Infinity]) {
  test(`worstCorruption p=${p}: value ε||h||_q, feasible, and no feasible a does better`, () => {
    const rng = new Rng(7 + p);
    for (let trial = 0; trial < 20; trial++) {
      const v = [Float32Array.from({ length: 3 }, () => rng.normal()), Float32Array.from({ length: 4 }, () => rng.normal())];
      const flat = concat(v);
      const k = flat.length;
      const eps = 0.01 + rng.uniform();
      for (const n of [1, 3, k]) {
        const { deltas, firstOrder, indices } = worstCorruption(v, { eps, p, n });
        const a = concat(deltas);
        assert.equal(indices.length, n);
        const nnz = a.filter((x) => x !== 0).length;
        assert.ok(nnz <= n, `||a||_0 = ${nnz} > n = ${n}`);
        assert.ok(Math.abs(pnorm(a, p) - eps) < 1e-6 * eps + 1e-7, `||a||_p = ${pnorm(a, p)} ≠ ε = ${eps}`);
        // aᵀv equals the claimed maximum ε||h||_q, h = top_n(v)
        const h = new Float64Array(k);
        for (const i of indices) h[i] = flat[i];
        assert.ok(Math.abs(dot(a, flat) - firstOrder) < 1e-5 * firstOrder);
        assert.ok(Math.abs(firstOrder - eps * pnorm(h, dualNorm(p))) < 1e-9 * firstOrder);
        // brute force: the best over every support of size n is ε·max_S ||v_S||_q (Hölder)
        let best = 0;
        for (const s of subsets(k, n))
          best = Math.max(
            best,
            eps *
              pnorm(
                s.map((i) => flat[i]),
                dualNorm(p),
              ),
          );
        assert.ok(Math.abs(best - firstOrder) < 1e-9 * best, `brute-force max ${best} vs ${firstOrder}`);
        // random feasible corruptions never beat it
        for (let r = 0; r < 50; r++) {
          const support = rng.shuffle([...Array(k).keys()]).slice(0, n);
          const b = new Float64Array(k);
          for (const i of support) b[i] = rng.normal() * (rng.uniform() < 0.2 ? 0 : 1);
          const scale = pnorm(b, p);
          if (scale === 0) continue;
          for (let i = 0; i < k; i++) b[i] *= eps / scale;
          assert.ok(dot(b, flat) <= firstOrder * (1 + 1e-6), `random a gave ${dot(b, flat)} > ${firstOrder}`);
        }
      }
    }
  });
}

test('worstCorruption: p close to 1 neither overflows nor gives NaN, and tends to the p=1 answer', () => {
  const v = [new Float32Array([1e-20, 3e5, -2e5, 1])];
  const { deltas, firstOrder } = worstCorruption(v, { eps: 1, p: 1.0001, n: 4 });
  assert.ok(deltas[0].every(Number.isFinite));
  assert.ok(Math.abs(deltas[0][1] - 1) < 1e-6);
  assert.ok(Math.abs(firstOrder - 3e5) / 3e5 < 1e-3);
});

test('worstCorruption: a zero vector spreads ε evenly; bad specs are refused', () => {
  const { deltas, firstOrder } = worstCorruption([new Float32Array(4)], { eps: 2, p: 2, n: 4 });
  assert.equal(firstOrder, 0);
  assert.ok(Math.abs(pnorm(deltas[0], 2) - 2) < 1e-6);
  const v = [new Float32Array([1, 2, 3])];
  assert.throws(() => worstCorruption(v, { eps: 0, p: 2, n: 1 }), /ε must be/);
  assert.throws(() => worstCorruption(v, { eps: -1, p: 2, n: 1 }), /ε must be/);
  assert.throws(() => worstCorruption(v, { eps: 1, p: 0.5, n: 1 }), /p must be ≥ 1/);
  assert.throws(() => worstCorruption(v, { eps: 1, p: 2, n: 4 }), /n must be an integer in \[1, 3\]/);
  assert.throws(() => worstCorruption(v, { eps: 1, p: 2, n: 0 }), /n must be/);
});

test('resolveN: counts, fractions, percentages, all; out of range refused', () => {
  assert.equal(resolveN(10, 100), 10);
  assert.equal(resolveN('10', 100), 10);
  assert.equal(resolveN('1%', 61706), 617);
  assert.equal(resolveN('0.01', 61706), 617);
  assert.equal(resolveN(0.5, 3), 2);
  assert.equal(resolveN('0.0001', 10), 1);
  assert.equal(resolveN('all', 42), 42);
  assert.throws(() => resolveN(101, 100), /n 101 is more than the 100 selected parameters/);
  assert.throws(() => resolveN(0, 100), /n '0' is not a count/);
  assert.throws(() => resolveN(-3, 100), /n '-3' is not/);
  assert.throws(() => resolveN('2.5', 100), /n '2.5' is not/);
  assert.throws(() => resolveN('abc', 100), /n 'abc' is not/);
  assert.throws(() => resolveN('0%', 100), /percentage/);
  assert.throws(() => resolveN('120%', 100), /percentage/);
});

// ---------- top-n ----------

test('topN matches a sort (ties to the lower index) on random data with many ties, across chunks', () => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 30; trial++) {
    const sizes = [rng.int(50), rng.int(200) + 1, rng.int(5)];
    const chunks = sizes.map((s) => Float32Array.from({ length: s }, () => (rng.int(7) - 3) * (rng.uniform() < 0.5 ? 0.25 : 1e-3 * rng.normal())));
    const flat = concat(chunks);
    const k = flat.length;
    for (const n of [0, 1, rng.int(k) + 1, k]) {
      const order = [...Array(k).keys()].sort((i, j) => Math.abs(flat[j]) - Math.abs(flat[i]) || i - j);
      const expected = order.slice(0, n).sort((a, b) => a - b);
      assert.deepEqual([...topN(chunks, n)], expected, `trial ${trial}, n=${n}`);
      assert.deepEqual([...topN(chunks, n, { maxCandidates: 0 })], expected, `three passes: trial ${trial}, n=${n}`);
    }
  }
  assert.deepEqual([...topN(new Float32Array([0.1, -3, 2, 0]), 2)], [1, 2]);
  assert.deepEqual([...topN(new Float32Array([-0, 0, Infinity, -Infinity, 1]), 3)], [2, 3, 4]);
  assert.throws(() => topN(new Float32Array([1, NaN]), 1), /NaN/);
  assert.throws(() => topN(new Float32Array(3), 4), /n must be/);
});

// ---------- selectors and groupings ----------

test('selectParams on the zoo LeNet-5: defaults, kinds, layers, globs, regexes, clear errors', () => {
  const m = buildModel('lenet5');
  const all = selectParams(m);
  assert.equal(all.length, 10);
  assert.equal(
    all.reduce((a, p) => a + p.size, 0),
    61706,
  );
  assert.deepEqual(all.map((p) => p.name).slice(0, 2), ['conv1.weight', 'conv1.bias']);
  const names = (s: string) => selectParams(m, parseSelector(s)).map((p) => p.name);
  assert.deepEqual(names('kind:conv'), ['conv1.weight', 'conv2.weight']);
  assert.deepEqual(names('kind:bias'), ['conv1.bias', 'conv2.bias', 'fc1.bias', 'fc2.bias', 'fc3.bias']);
  assert.deepEqual(names('layer:conv1'), ['conv1.weight', 'conv1.bias']);
  assert.deepEqual(names('layer:fc*;kind:bias'), ['fc1.bias', 'fc2.bias', 'fc3.bias']);
  assert.deepEqual(names('fc?.weight'), ['fc1.weight', 'fc2.weight', 'fc3.weight']);
  assert.deepEqual(names('/^conv\\d\\.bias$/'), ['conv1.bias', 'conv2.bias']);
  assert.deepEqual(names('kind:linear'), ['fc1.weight', 'fc2.weight', 'fc3.weight']);
  assert.equal(names('all').length, 10);
  assert.throws(
    () => selectParams(m, parseSelector('kind:embedding')),
    /selector 'kind:embedding' matches no parameter; the model has: conv1\.weight \(conv\)/,
  );
  assert.throws(() => selectParams(m, parseSelector('layer1.*')), /matches no parameter/);
  assert.throws(() => parseSelector('kind:blah'), /unknown parameter kind 'blah'/);
  assert.throws(() => parseSelector('/[/'), /not a valid regular expression/);
  assert.throws(() => parseSelector('kind:'), /give kinds/);
  assert.equal(formatSelector(parseSelector('kind:conv;layer:conv1')), 'kind:conv;layer:conv1');
});

test('ResNet-20: running statistics left out by default; groups by kind, layer and prefix in graph order', () => {
  const m = buildModel('resnet20');
  const trainable = selectParams(m);
  const every = selectParams(m, { trainableOnly: false });
  assert.ok(trainable.every((p) => !p.name.includes('running_')));
  const bnLayers = every.filter((p) => p.name.endsWith('.running_mean')).length;
  assert.equal(bnLayers, 21);
  assert.equal(every.length - trainable.length, 2 * bnLayers); // running mean and var
  const bn = selectParams(m, parseSelector('kind:bn'));
  assert.equal(bn.length, 2 * bnLayers); // weight and bias
  const byKind = groupParams(m, 'kind');
  assert.deepEqual(
    byKind.map((g) => g.group),
    ['conv', 'batch-norm', 'fc', 'bias'],
  );
  const byLayer = groupParams(m, 'layer');
  assert.equal(byLayer[0].group, 'conv1');
  assert.equal(byLayer[1].group, 'bn1');
  assert.equal(byLayer.at(-1)!.group, 'fc');
  const stages = groupParams(m, parseGrouping('prefix:1', m));
  assert.deepEqual(
    stages.map((g) => g.group),
    ['conv1', 'bn1', 'layer1', 'layer2', 'layer3', 'fc'],
  );
  assert.equal(
    stages.reduce((a, g) => a + g.params.length, 0),
    trainable.length,
  );
  const convOnly = groupParams(m, 'layer', parseSelector('kind:conv'));
  assert.ok(convOnly.every((g) => g.params.every((p) => p.kind === 'conv')));
  const tensors = groupParams(m, 'tensor', parseSelector('layer1.0.*'));
  assert.equal(tensors.length, 6);
});

test('groupings on PyTorch exports: kinds of a transformer, named glob groups, empty groups refused', () => {
  const t = readModel('test/fixtures/torch/transformer.onnx');
  const kinds = groupParams(t, 'kind').map((g) => g.group);
  for (const k of ['embedding', 'attention', 'layer-norm', 'fc', 'bias']) assert.ok(kinds.includes(k), `${k} in ${kinds}`);
  assert.equal(kinds[0], 'embedding');
  const named = groupParams(t, parseGrouping('embeddings=emb.*,pos;encoder=encoder.*;head=fc.*'));
  assert.deepEqual(
    named.map((g) => g.group),
    ['embeddings', 'encoder', 'head'],
  );
  assert.deepEqual(named[0].params.map((p) => p.name).sort(), ['emb.weight', 'pos']);
  assert.throws(() => groupParams(t, parseGrouping('a=emb.*;b=nothing.*')), /group 'b' matches no selected parameter/);
  assert.throws(() => parseGrouping('sideways'), /unknown grouping/);
  const r = readModel('test/fixtures/torch/resnet.onnx');
  const rk = groupParams(r, 'kind');
  assert.deepEqual(
    rk.map((g) => g.group),
    ['conv', 'batch-norm', 'fc', 'bias'],
  );
  assert.ok(rk[1].params.every((p) => p.trainable));
  const gru = groupParams(readModel('test/fixtures/torch/gru.onnx'), 'kind');
  assert.deepEqual(
    gru.map((g) => g.group),
    ['recurrent', 'fc', 'bias'],
  );
});

// ---------- corruption of a trained model ----------

let trained: Promise<{ model: Model; train: LabelledData; test: LabelledData }> | undefined;
/** LeNet-5 trained for 2 epochs on the embedded subset (shared by the tests below). */
function trainedLenet() {
  trained ??= (async () => {
    const trainSet = await loadLabelledData(undefined, 'train');
    const test = await loadLabelledData(undefined, 'test');
    const { model } = await train(buildModel('lenet5', { seed: 1 }), trainSet, {
      epochs: 2,
      batchSize: 64,
      lr: 0.05,
      optimizer: { name: 'sgd', momentum: 0.9 },
      seed: 1,
    });
    return { model, train: trainSet, test };
  })();
  return trained;
}
const head = (d: LabelledData, n: number): LabelledData => ({ ...d, x: takeRows(d.x, [...Array(n).keys()]), y: takeRows(d.y, [...Array(n).keys()]) });

test('the evaluator matches a plain evaluation of the corrupted model, sparse or dense, and undoes each corruption', async () => {
  const { model, test: t } = await trainedLenet();
  const data = head(t, 300);
  const names = selectParams(model).map((p) => p.name);
  const plain = await evaluate(model, data);
  const grad = await gradientOf(model, data, { params: names, batchSize: 100 });
  let ev!: CorruptionEvaluator;
  for (const strategy of ['inputs', 'bake', 'auto'] as const) {
    ev = await CorruptionEvaluator.create(model, names, data, { batchSize: 128, strategy });
    const base = await ev.evaluate();
    assert.ok(Math.abs(base.loss - plain.loss) < 1e-6 && base.accuracy === plain.accuracy);
    for (const spec of [
      { eps: 0.05, p: Infinity, n: 50 },
      { eps: 0.02, p: Infinity, n: ev.k },
      { eps: 0.5, p: 2, n: 1000 },
      { eps: 0.03, p: Infinity, n: 20 },
    ]) {
      const c = worstCorruption(grad.gradients, spec);
      const got = await ev.evaluate(c);
      const want = await evaluate(corruptModel(model, names, c.deltas), data);
      assert.ok(Math.abs(got.loss - want.loss) < 1e-5 * Math.max(1, want.loss), `${strategy} ${JSON.stringify(spec)}: ${got.loss} vs ${want.loss}`);
      assert.equal(got.accuracy, want.accuracy);
      assert.ok(got.loss > base.loss);
      const again = await ev.evaluate();
      assert.equal(again.loss, base.loss);
    }
  }
  // A corruption of the fc weights only, and of one conv weight: other sessions, same answers.
  const fcOnly = grad.gradients.map((g, i) => (names[i].startsWith('fc') ? g : new Float32Array(g.length)));
  const c = worstCorruption(fcOnly, { eps: 0.05, p: Infinity, n: 200 });
  assert.ok(Math.abs((await ev.evaluate(c)).loss - (await evaluate(corruptModel(model, names, c.deltas), data)).loss) < 1e-5);
});

test('the evaluator on a PyTorch ResNet: corrupted BatchNorm and Conv parameters, fed or baked, match a plain run', async () => {
  const model = readModel('test/fixtures/torch/resnet.onnx');
  const t = await readSafetensors('test/fixtures/torch/resnet.safetensors');
  const data = { x: t.get('x')!, y: t.get('y')! };
  const names = selectParams(model).map((p) => p.name);
  const grad = await gradientOf(model, data, { params: names });
  const bn = names.map((n) => /bn|shortcut\.1/.test(n));
  for (const strategy of ['inputs', 'bake'] as const) {
    const ev = await CorruptionEvaluator.create(model, names, data, { strategy });
    for (const which of [bn, names.map(() => true)]) {
      const v = grad.gradients.map((g, i) => (which[i] ? g : new Float32Array(g.length)));
      const c = worstCorruption(v, { eps: 0.05, p: Infinity, n: 40 });
      const got = await ev.evaluate(c);
      const want = await evaluate(corruptModel(model, names, c.deltas), data);
      assert.ok(Math.abs(got.loss - want.loss) < 1e-5 * Math.max(1, want.loss), `${strategy}: ${got.loss} vs ${want.loss}`);
    }
  }
});

test('gradient-based corruption lowers accuracy far more than random corruption in the same set', async () => {
  const { model, train: tr, test: t } = await trainedLenet();
  const report = await probe(model, {
    dataset: head(t, 500),
    gradDataset: tr,
    gradExamples: 500,
    eps: [0.01, 0.03],
    n: ['all', 100],
    norms: [Infinity],
    trials: 3,
    seed: 1,
  });
  const rec = (method: string, n: number, eps: number) => report.records.find((r) => r.method === method && r.n === n && r.eps === eps)!;
  const k = report.params.count;
  assert.equal(report.records.length, 2 * 2 * 2);
  for (const eps of [0.01, 0.03]) {
    const g = rec('gradient', k, eps);
    const r = rec('random', k, eps);
    assert.ok(
      report.baseline.accuracy - g.accuracy > 5 * Math.max(0.01, report.baseline.accuracy - r.accuracy),
      `ε=${eps}: gradient ${g.accuracy}, random ${r.accuracy}, baseline ${report.baseline.accuracy}`,
    );
    assert.ok(g.lossChange > 10 * Math.abs(r.lossChange));
    assert.equal(r.trials, 3);
    assert.ok(r.quantiles!.accuracy.min <= r.quantiles!.accuracy.q50);
  }
  assert.ok(rec('gradient', k, 0.03).accuracy < report.baseline.accuracy - 0.3);
  const sparse = rec('gradient', 100, 0.03);
  assert.equal(sparse.changed, 100);
  const byTensor = sparse.changedByTensor!;
  assert.equal(
    Object.values(byTensor).reduce((a, b) => a + b, 0),
    100,
    'the per-tensor counts add up',
  );
  for (const name of Object.keys(byTensor)) assert.ok(model.graph.initializers.has(name), name);
  const dense = rec('gradient', k, 0.03);
  assert.equal(
    Object.values(dense.changedByTensor!).reduce((a, b) => a + b, 0),
    dense.changed,
  );
});

test('the measured loss change matches the first-order estimate ε||h||_q for small ε', async () => {
  const { model, test: t } = await trainedLenet();
  const data = head(t, 400);
  const report = await probe(model, {
    dataset: data,
    gradDataset: data,
    gradExamples: 400,
    eps: [1e-4],
    n: [100, 'all'],
    norms: [Infinity, 2],
    methods: ['gradient'],
  });
  assert.equal(report.records.length, 4);
  for (const r of report.records) {
    const ratio = r.lossChange / r.firstOrder;
    assert.ok(ratio > 0.9 && ratio < 1.1, `p=${r.norm} n=${r.n}: ΔL ${r.lossChange} vs first order ${r.firstOrder}`);
  }
});

test('probe: Theorem 1 table from the random trials; vulnerability maps by kind', async () => {
  const { model, test: t } = await trainedLenet();
  const report = await probe(model, { dataset: t, gradDataset: t, eps: [3e-3], n: ['all'], norms: [2], methods: ['random'], trials: 120, trialExamples: 200 });
  const t1 = report.theorem1!;
  assert.ok(t1, 'theorem1 present');
  assert.equal(t1.k, 61706);
  assert.equal(t1.trials, 120);
  assert.equal(t1.examples, 200);
  assert.ok(t1.theoretical.q90 < t1.theoretical.q95 && t1.theoretical.q95 < t1.theoretical.q995);
  assert.ok(Math.abs(t1.theoretical.q995 / t1.epsG - 2.807 / Math.sqrt(61706)) < 1e-3 / Math.sqrt(61706));
  // The trials' first-order |aᵀg| follow εGη exactly; the measured |ΔL| adds second-order terms.
  for (const q of ['q90', 'q95'] as const)
    assert.ok(Math.abs(t1.firstOrder![q] / t1.theoretical[q] - 1) < 0.3, `${q}: ${t1.firstOrder![q]} vs ${t1.theoretical[q]}`);
  assert.ok(t1.gradient!.lossChange > 20 * t1.empirical.q995, `gradient ${t1.gradient!.lossChange} vs random ${t1.empirical.q995}`);
  const rec = report.records[0];
  assert.equal(rec.examples, 200);
  assert.ok(rec.baseline);

  const map = await probe(model, { dataset: head(t, 200), gradDataset: head(t, 200), by: 'kind', eps: [0.05], n: [10, 'all'], norms: [Infinity] });
  assert.deepEqual(
    map.groups!.map((g) => g.group),
    ['conv', 'bias', 'fc'],
  );
  assert.ok(map.records.every((r) => r.method === 'gradient' && r.group));
  const all = map.records.filter((r) => r.nSpec === 'all');
  assert.deepEqual(
    all.map((r) => r.n),
    [2550, 236, 58920],
  );
  assert.equal(map.records.filter((r) => r.nSpec === 10).length, 3);
});

test('probe refuses bad settings and data before any work', async () => {
  const m = buildModel('lenet5');
  assert.throws(() => planProbe(m, { eps: [0] }), /ε must be a finite number > 0, got 0/);
  assert.throws(() => planProbe(m, { eps: [-1e-3] }), /ε must be/);
  assert.throws(() => planProbe(m, { norms: [0.5] }), /p must be ≥ 1/);
  assert.throws(() => planProbe(m, { n: [61707] }), /n 61707 is more than the 61706 selected parameters/);
  assert.deepEqual(planProbe(m, { n: [10], params: 'kind:bias' }).counts, [[{ n: 10, spec: 10 }]]);
  assert.throws(() => planProbe(m, { n: [237], params: 'kind:bias' }), /more than the 236 selected parameters/);
  assert.throws(() => planProbe(m, { params: 'layer:nothing' }), /matches no parameter/);
  assert.throws(() => planProbe(m, { trials: 0 }), /trials/);
  assert.throws(() => planProbe(m, { methods: ['sideways' as 'random'] }), /unknown method/);
  assert.equal(planProbe(m, { n: [10, '1%', 'all'], norms: [2], methods: ['random'], trials: 100 }).theorem, true);
  assert.equal(planProbe(m, { n: [10, '1%'], norms: [2], methods: ['random'], trials: 100 }).theorem, false);
  await assert.rejects(probe(m, { data: 'test/fixtures/torch/resnet.safetensors' }), /do not fit the model input/);
});

// ---------- Theorem 1, numerically ----------

test('the density of η integrates to its CDF; its quantiles approach |N(0,1)|/√k for large k', () => {
  for (const k of [3, 10, 50, 1000]) {
    const x = Math.min(0.9, 2 / Math.sqrt(k));
    let s = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) s += (etaDensity(((i + 0.5) * x) / N, k) * x) / N;
    assert.ok(Math.abs(s - etaCdf(x, k)) < 1e-6, `k=${k}: ∫p = ${s}, CDF ${etaCdf(x, k)}`);
    for (const q of [0.9, 0.95, 0.995]) assert.ok(Math.abs(etaCdf(etaQuantile(q, k), k) - q) < 1e-12);
  }
  assert.ok(Math.abs(etaCdf(0.5, 3) - 0.5) < 1e-12); // uniform for k = 3
  for (const [q, z] of [
    [0.9, 1.6448536],
    [0.95, 1.959964],
    [0.995, 2.8070338],
  ]) {
    assert.ok(Math.abs(etaQuantile(q, 1e8) * 1e4 - z) < 1e-4);
  }
});

test('η over random corruptions of a fixed g (k = 50, 2,000 trials) follows the density of Theorem 1', () => {
  const k = 50;
  const rng = new Rng(11);
  const g = Float32Array.from({ length: k }, () => rng.normal());
  const G = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
  const eps = 0.01;
  const eta: number[] = [];
  for (let t = 0; t < 2000; t++) {
    const a = randomCorruption([k], { eps, p: 2, n: k }, rng);
    eta.push(Math.abs(dotDeltas(a.deltas, [g])) / (eps * G));
  }
  const e = empiricalQuantiles(eta);
  const th = { q90: etaQuantile(0.9, k), q95: etaQuantile(0.95, k), q995: etaQuantile(0.995, k) };
  assert.ok(Math.abs(e.q90 / th.q90 - 1) < 0.06, `q90 ${e.q90} vs ${th.q90}`);
  assert.ok(Math.abs(e.q95 / th.q95 - 1) < 0.06, `q95 ${e.q95} vs ${th.q95}`);
  assert.ok(Math.abs(e.q995 / th.q995 - 1) < 0.15, `q995 ${e.q995} vs ${th.q995}`);
  // Kolmogorov–Smirnov distance against the CDF
  const sorted = [...eta].sort((a, b) => a - b);
  let ks = 0;
  sorted.forEach((x, i) => (ks = Math.max(ks, Math.abs(etaCdf(x, k) - (i + 1) / sorted.length), Math.abs(etaCdf(x, k) - i / sorted.length))));
  assert.ok(ks < 0.04, `KS distance ${ks}`);
  const tq = theoreticalQuantiles(k, eps, G);
  assert.ok(Math.abs(tq.q95 - eps * G * th.q95) < 1e-15);
});
