import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder, makeModel } from '../src/onnx/builder.js';
import { decodeModel, encodeModel, readModel, writeModel } from '../src/onnx/model-io.js';
import { ModelProtoType, TensorProtoType, type TensorProto } from '../src/onnx/proto.js';
import { tensorFromProto } from '../src/onnx/tensor-proto.js';
import { tensor } from '../src/tensor/host-tensor.js';

const BACKEND = '/usr/share/libonnx-testdata/data/node';

/** The model as a plain object, with each initializer replaced by its decoded values. */
function canonical(bytes: Uint8Array): unknown {
  const obj = ModelProtoType.toObject(ModelProtoType.decode(bytes), { longs: String, bytes: String, defaults: false, arrays: false }) as {
    graph?: { initializer?: unknown[] };
  };
  const raw = ModelProtoType.toObject(ModelProtoType.decode(bytes), { defaults: false }) as { graph?: { initializer?: TensorProto[] } };
  if (obj.graph?.initializer) {
    obj.graph.initializer = (raw.graph!.initializer ?? []).map((t) => {
      const host = tensorFromProto(t);
      return host
        ? { name: t.name, dims: host.dims, dtype: host.dtype, values: Array.from(host.data as ArrayLike<number | bigint>, String) }
        : TensorProtoType.toObject(TensorProtoType.fromObject(t), { longs: String, bytes: String });
    });
  }
  return dropEmpty(obj);
}

/** Proto2 keeps the presence of an empty string; ONNX gives it no meaning, so compare without them. */
function dropEmpty(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropEmpty);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== '')
        .map(([k, x]) => [k, dropEmpty(x)]),
    );
  }
  return v;
}

test(
  'every ONNX backend test model loads and survives a write-then-read round trip',
  { skip: !existsSync(BACKEND) && 'libonnx-testdata not installed' },
  () => {
    const dirs = readdirSync(BACKEND).filter((d) => existsSync(join(BACKEND, d, 'model.onnx')));
    assert.ok(dirs.length > 900, `expected ~1000 backend test models, found ${dirs.length}`);
    const failures: string[] = [];
    for (const d of dirs) {
      const file = join(BACKEND, d, 'model.onnx');
      try {
        const m = readModel(file);
        const again = encodeModel(m);
        assert.deepStrictEqual(canonical(again), canonical(readFileSync(file)));
      } catch (e) {
        failures.push(`${d}: ${(e as Error).message.slice(0, 600)}`);
      }
    }
    assert.deepStrictEqual(failures, []);
  },
);

test('backend test input tensors decode to the declared shapes', { skip: !existsSync(BACKEND) && 'libonnx-testdata not installed' }, () => {
  let checked = 0;
  for (const d of readdirSync(BACKEND).slice(0, 300)) {
    const pb = join(BACKEND, d, 'test_data_set_0', 'input_0.pb');
    if (!existsSync(pb)) continue;
    const t = TensorProtoType.toObject(TensorProtoType.decode(readFileSync(pb)), { defaults: false }) as TensorProto;
    const host = tensorFromProto(t);
    if (!host) continue;
    assert.equal(
      host.data.length,
      host.dims.reduce((a, b) => a * b, 1),
    );
    checked++;
  }
  assert.ok(checked > 100);
});

test('external data: a model written with external data reads back identically', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scalpel-ext-'));
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['batch', 512]);
  const w = b.param(
    'w',
    tensor(
      'float32',
      [512, 4],
      Float32Array.from({ length: 2048 }, (_, i) => Math.sin(i)),
    ),
  );
  const small = b.param('bias', tensor('float32', [4], new Float32Array([1, 2, 3, 4])));
  b.output(b.op('Add', [b.op('MatMul', [x, w]), small]), 'float32', ['batch', 4]);
  const model = makeModel(b.graph, 17);
  const path = join(dir, 'm.onnx');
  writeModel(model, path, { externalData: true });
  assert.ok(existsSync(join(dir, 'm.onnx.data')));
  assert.ok(statSync(path).size < 2048, 'large tensor went to the side file');
  const back = readModel(path);
  assert.deepStrictEqual(
    Array.from(back.graph.initializers.get('w')!.tensor!.data as Float32Array),
    Array.from(model.graph.initializers.get('w')!.tensor!.data as Float32Array),
  );
  assert.deepStrictEqual(Array.from(back.graph.initializers.get('bias')!.tensor!.data as Float32Array), [1, 2, 3, 4]);
});

test('metadata, doc strings, names and opsets survive a round trip', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2]);
  b.output(b.op('Relu', [x], undefined, 'r'));
  b.graph.nodes[0].docString = 'a relu';
  b.graph.docString = 'graph doc';
  const m = makeModel(b.graph, 15);
  m.passthrough.metadataProps = [{ key: 'author', value: 'me' }];
  m.passthrough.docString = 'model doc';
  m.opsetImports.push({ domain: 'com.example', version: 3 });
  const back = decodeModel(encodeModel(m));
  assert.equal(back.graph.nodes[0].docString, 'a relu');
  assert.equal(back.graph.docString, 'graph doc');
  assert.deepStrictEqual(back.opsetImports, [
    { domain: '', version: 15 },
    { domain: 'com.example', version: 3 },
  ]);
  assert.equal(back.passthrough.docString, 'model doc');
  assert.deepStrictEqual(back.passthrough.metadataProps, [{ key: 'author', value: 'me' }]);
});

test('a truncated or non-ONNX file gives one clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scalpel-bad-'));
  const junk = join(dir, 'junk.onnx');
  writeFileSync(junk, 'this is not a model');
  assert.throws(() => readModel(junk), /junk\.onnx is not (a valid )?(an )?ONNX model/);
  assert.throws(() => readModel(join(dir, 'missing.onnx')), /model file not found/);
  const empty = join(dir, 'empty.onnx');
  writeFileSync(empty, '');
  assert.throws(() => readModel(empty), /is empty/);
});
