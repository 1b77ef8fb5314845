// params/: the flat view, sparse deltas and their file, diff and apply, on real models (a PyTorch export, a zoo model
// written with external data), and the bad input each command must refuse cleanly.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli } from './helpers/cli.js';
import { encodeSafetensors } from '../src/data/safetensors.js';
import { buildModel } from '../src/models/index.js';
import type { Model } from '../src/onnx/ir.js';
import { readModel, writeModel } from '../src/onnx/model-io.js';
import { applyDelta, changedCount, deltaBetween, deltaFromCorruption, deltaFromValues, paramsHash } from '../src/params/delta.js';
import { readDelta, writeDelta } from '../src/params/delta-file.js';
import type { DiffReport } from '../src/params/diff.js';
import { FlatParams } from '../src/params/flat.js';
import { withParams } from '../src/params/with-params.js';
import { Rng } from '../src/tensor/rng.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scalpel-params-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const TORCH_LENET = 'test/fixtures/torch/lenet.onnx';

/** Float bits of a float32 value, to compare NaN, -0 and subnormals exactly. */
const bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

/** A copy of `model` with `count` random entries of its float32 parameters set to tricky values; returns the edits. */
function edit(model: Model, count: number, seed: number): { edited: Model; expected: Map<string, Set<number>> } {
  const rng = new Rng(seed);
  const names = [...model.graph.initializers.values()].filter((i) => i.tensor?.dtype === 'float32').map((i) => i.name);
  const values = new Map(names.map((n) => [n, (model.graph.initializers.get(n)!.tensor!.data as Float32Array).slice()]));
  const expected = new Map<string, Set<number>>();
  const tricky = [0, -0, NaN, 1e-40, -1e-42, Infinity, 0.5];
  for (let e = 0; e < count; e++) {
    const name = names[rng.nextUint32() % names.length];
    const v = values.get(name)!;
    const i = rng.nextUint32() % v.length;
    const old = bits((model.graph.initializers.get(name)!.tensor!.data as Float32Array)[i]);
    const value = e < tricky.length ? tricky[e] : v[i] + (rng.nextUint32() % 2 ? 1e-3 : -1e-3);
    v[i] = value;
    const s = expected.get(name) ?? new Set<number>();
    if (bits(v[i]) !== old) s.add(i);
    else s.delete(i);
    expected.set(name, s);
  }
  const params = new Map(names.map((n) => [n, { ...model.graph.initializers.get(n)!.tensor!, data: values.get(n)! }]));
  return { edited: withParams(model, params), expected };
}

function sameParamBytes(a: Model, b: Model): boolean {
  return paramsHash(a) === paramsHash(b);
}

test('FlatParams: global index ↔ (tensor, offset), split/join, gather/scatter, dot, top-n', () => {
  const flat = FlatParams.ofSizes([3, 0, 4]);
  assert.equal(flat.k, 7);
  assert.deepEqual(flat.offsets, [0, 3, 3, 7]);
  assert.deepEqual(flat.locate(2), { tensor: 0, offset: 2 });
  assert.deepEqual(flat.locate(3), { tensor: 2, offset: 0 });
  assert.throws(() => flat.locate(7), /outside the 7 parameters/);
  const idx = new Uint32Array([1, 3, 6]);
  assert.deepEqual(
    flat.split(idx).map((a) => [...a]),
    [[1], [], [0, 3]],
  );
  assert.deepEqual([...flat.join(flat.split(idx))], [...idx]);
  const v = [new Float32Array([1, -5, 2]), new Float32Array(0), new Float32Array([4, 0, -3, 7])];
  assert.deepEqual([...flat.gather(v, idx)], [-5, 4, 7]);
  assert.equal(flat.dot(v, v), 1 + 25 + 4 + 16 + 9 + 49);
  assert.equal(flat.dot(v, v, idx), 25 + 16 + 49);
  assert.deepEqual([...flat.topN(v, 3)], [1, 3, 6]);
  flat.scatter(v, new Uint32Array([0, 5]), [9, 8]);
  assert.deepEqual([...v[0], ...v[2]], [9, -5, 2, 4, 0, 8, 7]);
  assert.throws(() => flat.gather(v, [3, 1]), /ascend/);
  const model = readModel(TORCH_LENET);
  const names = [...model.graph.initializers.keys()].slice(0, 2);
  const fp = FlatParams.of(model, names);
  assert.equal(fp.values(model)[1], model.graph.initializers.get(names[1])!.tensor!.data);
  assert.throws(() => FlatParams.of(model, ['nope']), /'nope' is not a parameter/);
});

test('deltaBetween finds exactly the edited entries (±0, subnormals, NaN, Inf) of a PyTorch export; apply/revert is bit-exact', () => {
  const base = readModel(TORCH_LENET);
  const { edited, expected } = edit(base, 60, 7);
  const d = deltaBetween(base, edited);
  const found = new Map(d.tensors.map((t) => [t.name, [...t.indices]]));
  for (const [name, s] of expected)
    assert.deepEqual(
      found.get(name) ?? [],
      [...s].sort((a, b) => a - b),
      name,
    );
  assert.equal(
    changedCount(d),
    [...expected.values()].reduce((a, s) => a + s.size, 0),
  );
  assert.equal(d.baseHash, paramsHash(base));
  const applied = applyDelta(base, d);
  assert.ok(sameParamBytes(applied, edited));
  const back = applyDelta(applied, d, { revert: true });
  assert.ok(sameParamBytes(back, base));
  // A delta refuses a model it was not made for, unless forced.
  const other = buildModel('lenet5', { seed: 3 });
  assert.throws(() => applyDelta(edited, d), /made for another model/);
  assert.throws(() => applyDelta(base, d, { revert: true }), /does not hold the delta's edited value/);
  assert.throws(() => applyDelta(other, d, { force: true }), /not a float parameter|is float32\[/);
  // atol: tiny changes are ignored, the tricky ones are not.
  assert.ok(changedCount(deltaBetween(base, edited, { atol: 0.01 })) < changedCount(d));
});

test('deltaFromValues keeps changed entries under a mask; deltaFromCorruption adds in float32', () => {
  const base = buildModel('mlp', { seed: 1 });
  const w = base.graph.initializers.get('fc2.weight')!.tensor!.data as Float32Array;
  const v = w.slice();
  v[0] += 1;
  v[10] += 1;
  const mask = new Uint8Array(v.length);
  mask[10] = 1;
  const d = deltaFromValues(base, new Map([['fc2.weight', v]]), new Map([['fc2.weight', mask]]));
  assert.deepEqual([...d.tensors[0].indices], [10]);
  const delta = new Float32Array(w.length);
  delta[3] = 0.25;
  const c = deltaFromCorruption(base, ['fc2.weight'], [delta]);
  assert.deepEqual([...c.tensors[0].indices], [3]);
  assert.equal(c.tensors[0].after[0], Math.fround(w[3] + 0.25));
});

test('the delta file round-trips and is plain safetensors; external-data models diff and apply', async () => {
  const base = buildModel('lenet5', { seed: 5 });
  const basePath = join(dir, 'ext.onnx');
  writeModel(base, basePath, { externalData: true });
  const { edited } = edit(base, 25, 11);
  const editedPath = join(dir, 'ext-edited.onnx');
  writeModel(edited, editedPath, { externalData: true });
  const d = deltaBetween(readModel(basePath), readModel(editedPath));
  const file = join(dir, 'd.safetensors');
  await writeDelta(file, d, { command: 'test' });
  const back = await readDelta(file);
  assert.equal(back.baseHash, d.baseHash);
  assert.equal(back.metadata.command, 'test');
  assert.deepEqual(
    back.tensors.map((t) => [t.name, [...t.indices], [...t.after].map(bits)]),
    d.tensors.map((t) => [t.name, [...t.indices], [...t.after].map(bits)]),
  );
  // The layout Python reads: NAME.indices int64, NAME.before / NAME.after float32, and the header metadata.
  const buf = readFileSync(file);
  const header = JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString()) as Record<string, { dtype: string }> & {
    __metadata__: Record<string, string>;
  };
  const t = d.tensors[0].name;
  assert.equal(header[`${t}.indices`].dtype, 'I64');
  assert.equal(header[`${t}.after`].dtype, 'F32');
  assert.equal(header.__metadata__.format, 'scalpel-delta');
  assert.equal(header.__metadata__.changed, String(changedCount(d)));
  assert.equal(header.__metadata__.base_sha256, paramsHash(base));
  // Through the command line: apply then revert gives back the original parameter bytes.
  const out = join(dir, 'applied.onnx');
  const rev = join(dir, 'reverted.onnx');
  assert.equal((await cli(['apply', basePath, file, '-o', out])).code, 0);
  assert.ok(sameParamBytes(readModel(out), edited));
  assert.equal((await cli(['apply', out, file, '--revert', '-o', rev])).code, 0);
  assert.ok(sameParamBytes(readModel(rev), base));
});

test('scalpel diff: counts by tensor, kind and layer, --json changed, --out delta, --html page, graph differences', async () => {
  const base = buildModel('lenet5', { seed: 2 });
  const a = join(dir, 'a.onnx');
  const b = join(dir, 'b.onnx');
  writeModel(base, a);
  const { edited, expected } = edit(base, 40, 3);
  writeModel(edited, b);
  const total = [...expected.values()].reduce((s, x) => s + x.size, 0);
  const delta = join(dir, 'ab.safetensors');
  const html = join(dir, 'ab.html');
  const r = await cli(['diff', a, b, '--json', '--out', delta, '--html', html]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as DiffReport;
  assert.equal(report.changed, total);
  assert.equal(report.sameGraph, true);
  for (const row of report.byTensor) assert.equal(row.l0, expected.get(row.name)?.size ?? 0, row.name);
  assert.equal(
    report.byKind.reduce((s, g) => s + g.changed, 0),
    total,
  );
  assert.ok(report.becameNonFinite >= 1, 'NaN/Inf edits are reported');
  assert.ok(report.largest.length > 0 && report.largest.length <= 20);
  assert.equal(changedCount(await readDelta(delta)), total);
  assert.match(readFileSync(html, 'utf8'), /<h2>Where the changes sit<\/h2>/);
  const text = await cli(['diff', a, b]);
  assert.match(text.stdout, new RegExp(`Changed: ${total} of 61,706 parameter entries`));
  // A metadata change and a changed node are reported, not ignored.
  const changed = structuredClone(base);
  changed.graph.nodes.find((n) => n.opType === 'Relu')!.opType = 'Sigmoid';
  const c = join(dir, 'c.onnx');
  writeModel(changed, c);
  const g = await cli(['diff', a, c, '--json']);
  assert.equal(g.code, 0, g.stderr);
  const gr = JSON.parse(g.stdout) as DiffReport;
  assert.equal(gr.sameGraph, false);
  assert.match(gr.differences.graph.join('\n'), /Relu.* in the first model, Sigmoid/);
  assert.equal(gr.changed, 0);
});

test('diff and apply refuse bad input with one error line, exit 1, and write nothing', async () => {
  const a = join(dir, 'bad-a.onnx');
  writeModel(buildModel('lenet5', { seed: 1 }), a);
  const mlp = join(dir, 'mlp.onnx');
  writeModel(buildModel('mlp', { seed: 1 }), mlp);
  const good = join(dir, 'good.safetensors');
  await writeDelta(good, deltaBetween(readModel(a), edit(readModel(a), 5, 1).edited));
  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, readFileSync(good).subarray(0, 40));
  const foreign = join(dir, 'foreign.safetensors');
  writeFileSync(foreign, encodeSafetensors({ w: { dtype: 'float32', dims: [2], data: new Float32Array(2) } }));
  const outOfRange = join(dir, 'range.safetensors');
  const d = deltaBetween(readModel(a), edit(readModel(a), 5, 2).edited);
  d.tensors[0].shape = [1];
  await writeDelta(outOfRange, d);
  const before = new Set(readdirSync(dir));
  const out = join(dir, 'never.onnx');
  const cases: [string[], RegExp][] = [
    [['diff', a, mlp], /do not hold the same parameters/],
    [['apply', a, truncated, '-o', out], /truncated\.safetensors/],
    [['apply', a, foreign, '-o', out], /not a scalpel delta file/],
    [['apply', a, outOfRange, '-o', out], /out of range/],
    [['apply', mlp, good, '-o', out], /made for another model/],
    [['apply', a, good, '-o', a], /refusing to overwrite the input model/],
    [['apply', a, good, '-o', join(dir, 'no-such-dir', 'x.onnx')], /directory .* does not exist/],
    [['apply', a, join(dir, 'missing.safetensors'), '-o', out], /no such file/],
    [['diff', a, a, '--out', a], /refusing to overwrite the input first model/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^scalpel: error: /);
  }
  assert.deepEqual(new Set(readdirSync(dir)), before);
  assert.ok(!existsSync(out));
  // --force applies a delta to another model of the same architecture, with a warning.
  const other = join(dir, 'other.onnx');
  writeModel(buildModel('lenet5', { seed: 9 }), other);
  const forced = join(dir, 'forced.onnx');
  const r = await cli(['apply', other, good, '-o', forced, '--force']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: .* not made for/);
});
