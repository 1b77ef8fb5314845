// General defect repair as AI-Lancet describes it: errors grouped by confusion, similar images by their overlap with
// the located weights, and a group-by-group repair that changes only each group's weights.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { takeRows } from '../src/data/batches.js';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { clusterByConfusion } from '../src/lancet/defect-clusters.js';
import { repairDefects, type ClusterPlan } from '../src/lancet/defect-repair.js';
import { findLayer } from '../src/lancet/layers.js';
import type { PairSet } from '../src/lancet/pairs.js';
import { locatedOverlap, similarImages } from '../src/lancet/similar-images.js';
import { readModel } from '../src/onnx/model-io.js';
import { deltaBetween } from '../src/params/delta.js';

const LENET = 'models/lenet5-fashion.onnx';

test('pairs group by their confusion, largest group first, small groups left out', () => {
  const p = (label: number, wrong: number, row: number) => ({ x: new Float32Array(1), clean: new Float32Array(1), label, wrong, row });
  const set: PairSet = {
    pairs: [p(6, 0, 1), p(4, 2, 2), p(6, 0, 3), p(6, 0, 4), p(4, 2, 5), p(9, 7, 6)],
    dims: [1],
    fix: 'true-label',
    source: 'misclassified',
    oracle: false,
  };
  const c = clusterByConfusion(set, { minPairs: 2 });
  assert.deepEqual(
    c.map((g) => g.key),
    ['6→0', '4→2'],
  );
  assert.deepEqual(
    c[0].set.pairs.map((q) => q.row),
    [1, 3, 4],
  );
  assert.equal(c[1].label, 4);
  assert.equal(c[1].wrong, 2);
  assert.deepEqual(
    clusterByConfusion(set, { max: 1 }).map((g) => g.key),
    ['6→0'],
  );
});

test("overlap with the located set is the share of an image's gradient mass on it: 1 for all, 0 for none, complements add to 1", async () => {
  const model = readModel(LENET);
  const layer = findLayer(model, 'fc2');
  const d = loadImageDataset(undefined, 'test');
  const rows = Array.from({ length: 6 }, (_, i) => i);
  const data = { x: takeRows(d.x, rows), y: takeRows(d.y, rows) };
  const all = Array.from({ length: layer.size }, (_, i) => i);
  const half = all.filter((i) => i % 2 === 0);
  const other = all.filter((i) => i % 2 === 1);
  const a = await locatedOverlap(model, layer, all, data);
  const none = await locatedOverlap(model, layer, [], data);
  const h = await locatedOverlap(model, layer, half, data);
  const o = await locatedOverlap(model, layer, other, data);
  for (let r = 0; r < 6; r++) {
    assert.ok(Math.abs(a[r] - 1) < 1e-6 || a[r] === 0, `all: ${a[r]}`);
    assert.equal(none[r], 0);
    if (a[r] > 0) assert.ok(Math.abs(h[r] + o[r] - 1) < 1e-5, `${h[r]} + ${o[r]}`);
  }
  const s = await similarImages(model, layer, half, data, 2);
  assert.equal(s.rows.length, 2);
  const best = [...h].sort((x, y) => y - x).slice(0, 2);
  assert.deepEqual(
    [...s.overlap].sort((x, y) => y - x),
    best,
  );
});

test("a group-by-group repair changes only the groups' weights of the layer, located or random", async () => {
  const model = readModel(LENET);
  const layer = findLayer(model, 'fc1');
  const d = loadImageDataset(undefined, 'test');
  const rows = Array.from({ length: 120 }, (_, i) => i);
  const data = { x: takeRows(d.x, rows), y: takeRows(d.y, rows) };
  const plans: ClusterPlan[] = [
    { key: '6→0', label: 6, wrong: 0, pairs: 3, errorRows: [0, 1, 2], located: [5, 17, 900], similarRows: [10, 11], meanOverlap: 0.1, fixed: 3 },
    { key: '4→2', label: 4, wrong: 2, pairs: 2, errorRows: [3, 4], located: [17, 2000], similarRows: [], meanOverlap: 0, fixed: 2 },
  ];
  const cleanRows = Array.from({ length: 100 }, (_, i) => 20 + i);
  const located = await repairDefects(model, layer, plans, data, data, { weights: 'located', cleanRows, clean: 50, epochs: 2, lr: 1e-2, seed: 1 });
  const dl = deltaBetween(model, located);
  assert.deepEqual(
    dl.tensors.map((t) => t.name),
    [layer.param],
  );
  assert.deepEqual(
    [...dl.tensors[0].indices].sort((a, b) => a - b),
    [5, 17, 900, 2000],
  );
  const random = await repairDefects(model, layer, plans, data, data, { weights: 'random', cleanRows, clean: 50, epochs: 2, lr: 1e-2, seed: 1 });
  const dr = deltaBetween(model, random);
  assert.deepEqual(
    dr.tensors.map((t) => t.name),
    [layer.param],
  );
  assert.ok(dr.tensors[0].indices.length <= 5 && dr.tensors[0].indices.length >= 4);
  const again = await repairDefects(model, layer, plans, data, data, {
    weights: 'located',
    cleanRows,
    clean: 50,
    epochs: 2,
    lr: 1e-2,
    seed: 1,
    runtime: { threads: 1 },
  });
  const first = await repairDefects(model, layer, plans, data, data, {
    weights: 'located',
    cleanRows,
    clean: 50,
    epochs: 2,
    lr: 1e-2,
    seed: 1,
    runtime: { threads: 1 },
  });
  const w = (m: typeof model) => Buffer.from((m.graph.initializers.get(layer.param)!.tensor!.data as Float32Array).buffer.slice(0));
  assert.ok(w(again).equals(w(first)), 'one thread, one seed: the same bits');
});
