// compile()'s session cache stays bounded over many models and releases what it evicts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import type { Model } from '../src/onnx/ir.js';
import { clearSessionCache, compile, configureSessionCache, sessionCacheStats } from '../src/runtime/session.js';
import { tensor } from '../src/tensor/host-tensor.js';

// y = x · W with W [4, 3] filled with `seed` (every seed gives a different model, so a different cache key).
function tiny(seed: number): Model {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['batch', 4]);
  const w = b.param('w', tensor('float32', [4, 3], new Float32Array(12).fill(seed)));
  b.graph.outputs.push({ name: b.op('MatMul', [x, w]) });
  return makeModel(b.graph);
}

const x = tensor('float32', [1, 4], new Float32Array([1, 1, 1, 1]));
const defaults = configureSessionCache();
after(() => {
  configureSessionCache(defaults);
  clearSessionCache();
});

test('many models in one process: the cache keeps at most maxSessions open and releases the rest', async () => {
  clearSessionCache();
  configureSessionCache({ maxSessions: 5 });
  const exes = [];
  for (let i = 0; i < 40; i++) {
    const exe = await compile(tiny(i + 1), { threads: 1 });
    const y = await exe.run({ x });
    assert.equal(y[exe.outputNames[0]].data[0], 4 * (i + 1));
    exes.push(exe);
    assert.ok(sessionCacheStats().sessions <= 5, `after ${i + 1} models the cache holds ${sessionCacheStats().sessions} sessions`);
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(exes.filter((e) => e.open).length, 5, 'only the 5 most recent sessions stay open');
  assert.ok(exes.slice(35).every((e) => e.open));
  assert.ok(exes.slice(0, 35).every((e) => !e.open));
});

test('an evicted Executable re-opens on its next run, gives the same result and re-enters the cache', async () => {
  clearSessionCache();
  configureSessionCache({ maxSessions: 2 });
  const first = await compile(tiny(7), { threads: 1 });
  await compile(tiny(8), { threads: 1 });
  await compile(tiny(9), { threads: 1 });
  await new Promise((r) => setImmediate(r));
  assert.equal(first.open, false);
  const y = await first.run({ x });
  assert.equal(y[first.outputNames[0]].data[0], 28);
  assert.equal(first.open, true);
  assert.equal(sessionCacheStats().sessions, 2);
  // Compiling the same model again is a cache hit: the same Executable.
  assert.equal(await compile(tiny(7), { threads: 1 }), first);
});

test('the byte bound evicts too, but never the newest session', async () => {
  clearSessionCache();
  configureSessionCache({ maxSessions: 100, maxBytes: 1 });
  const a = await compile(tiny(3), { threads: 1 });
  const b = await compile(tiny(4), { threads: 1 });
  await new Promise((r) => setImmediate(r));
  assert.equal(sessionCacheStats().sessions, 1);
  assert.equal(a.open, false);
  assert.equal(b.open, true);
  assert.throws(() => configureSessionCache({ maxSessions: 0 }), /at least 1/);
});

test('a model changed in place after an eviction is refused, not run with other weights', async () => {
  clearSessionCache();
  configureSessionCache({ maxSessions: 1, maxBytes: 2 ** 30 });
  const m = tiny(5);
  const exe = await compile(m, { threads: 1 });
  await compile(tiny(6), { threads: 1 });
  (m.graph.initializers.get('w')!.tensor!.data as Float32Array).fill(0);
  await assert.rejects(exe.run({ x }), /changed after compile/);
});
