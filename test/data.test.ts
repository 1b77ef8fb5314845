import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { batches, splitValidation } from '../src/data/batches.js';
import { DEFAULT_FULL_DATASET_DIR, EMBEDDED_SUBSET_DIR, FASHION_MNIST_CLASSES, loadImageDataset } from '../src/data/fashion-mnist.js';
import { decodeIdx, encodeIdx, readIdx } from '../src/data/idx.js';
import { crc32, decodeNpy, decodeNpz, encodeNpy, readNpy, readNpz, writeNpy, writeNpz } from '../src/data/npy.js';
import {
  decodeSafetensors,
  decodeSafetensorsFile,
  encodeSafetensors,
  readSafetensors,
  readSafetensorsFile,
  writeSafetensors,
} from '../src/data/safetensors.js';
import { type HostTensor, tensor } from '../src/tensor/host-tensor.js';
import { Rng } from '../src/tensor/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'scalpel-data-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sample: Record<string, HostTensor> = {
  f32: tensor('float32', [2, 3], Float32Array.of(1.5, -2, 3, 0, Math.PI, -1e-7)),
  f64: tensor('float64', [3], Float64Array.of(Math.E, -0, 1e300)),
  i64: tensor('int64', [2], BigInt64Array.of(-(2n ** 62n), 123456789012345n)),
  i32: tensor('int32', [1, 2], Int32Array.of(-2147483648, 7)),
  i8: tensor('int8', [4], Int8Array.of(-128, -1, 0, 127)),
  u8: tensor('uint8', [2, 2], Uint8Array.of(0, 1, 254, 255)),
  bool: tensor('bool', [3], Uint8Array.of(1, 0, 1)),
  f16: tensor('float16', [2], Uint16Array.of(0x3c00, 0xc000)),
  scalar: tensor('float32', [], Float32Array.of(42)),
  empty: tensor('float32', [0, 5], new Float32Array(0)),
};

function assertSameTensor(a: HostTensor | undefined, b: HostTensor, label = ''): void {
  assert.ok(a, `missing tensor ${label}`);
  assert.equal(a.dtype, b.dtype, label);
  assert.deepEqual(a.dims, b.dims, label);
  assert.equal(a.data.constructor, b.data.constructor, label);
  assert.deepEqual(Array.from(a.data as ArrayLike<number>), Array.from(b.data as ArrayLike<number>), label);
}

describe('safetensors', () => {
  test('round trip of every dtype with metadata, keys in given order', async () => {
    const path = join(dir, 'all.safetensors');
    await writeSafetensors(path, sample, { format: 'pt', note: 'ünïcode' });
    const { tensors, metadata } = await readSafetensorsFile(path);
    assert.deepEqual([...tensors.keys()], Object.keys(sample));
    for (const [k, v] of Object.entries(sample)) assertSameTensor(tensors.get(k), v, k);
    assert.deepEqual(metadata, { format: 'pt', note: 'ünïcode' });
    assert.deepEqual([...(await readSafetensors(path)).keys()], Object.keys(sample));
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp file left behind',
    );
  });

  test('header layout follows the spec (8-byte aligned, data_offsets contiguous)', () => {
    const bytes = encodeSafetensors(
      new Map([
        ['b', sample.i32],
        ['a', sample.f32],
      ]),
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    assert.deepEqual(Object.keys(header), ['b', 'a']);
    assert.deepEqual(header.b, { dtype: 'I32', shape: [1, 2], data_offsets: [0, 8] });
    assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 3], data_offsets: [8, 32] });
    assert.equal(bytes.byteLength, 8 + n + 32);
    assert.deepEqual(decodeSafetensorsFile(bytes).metadata, {});
  });

  test('errors name the file and the problem', async () => {
    const good = encodeSafetensors({ w: sample.f32 });
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, good.subarray(0, 5));
    await assert.rejects(readSafetensors(path), (e: Error) => e.message.includes(path) && /truncated header/.test(e.message));
    writeFileSync(path, good.subarray(0, 20));
    await assert.rejects(readSafetensors(path), /bad\.safetensors: truncated header: header claims \d+ bytes but only 12/);
    writeFileSync(path, good.subarray(0, good.byteLength - 4));
    await assert.rejects(readSafetensors(path), /tensor "w": data_offsets \[0, 24\] out of range \(data section is 20 bytes\)/);

    const make = (header: object, dataLen: number): Uint8Array => {
      const h = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(8 + h.byteLength + dataLen);
      new DataView(out.buffer).setBigUint64(0, BigInt(h.byteLength), true);
      out.set(h, 8);
      return out;
    };
    assert.throws(
      () => decodeSafetensors(make({ w: { dtype: 'Q7', shape: [1], data_offsets: [0, 1] } }, 1), 'x.st'),
      /safetensors x\.st: tensor "w": unknown dtype "Q7"/,
    );
    assert.throws(
      () => decodeSafetensors(make({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, 12)),
      /shape \[2, 2\] F32 needs 16 bytes but data_offsets span 12/,
    );
    assert.throws(() => decodeSafetensors(make({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4)), /out of range/);
    assert.throws(() => encodeSafetensors({ w: { dtype: 'float32', dims: [3], data: new Float32Array(2) } }), /needs 12 bytes, data has 8/);
  });

  test('failed write removes the temp file and leaves the target alone', async () => {
    const path = join(dir, 'missing-dir', 'x.safetensors');
    await assert.rejects(writeSafetensors(path, sample));
    assert.equal(existsSync(`${path}.${process.pid}.tmp`), false);
  });
});

describe('npy / npz', () => {
  test('npy round trip (float32, int64, and the rest)', async () => {
    for (const [k, t] of Object.entries(sample)) assertSameTensor(decodeNpy(encodeNpy(t)), t, k);
    const p = join(dir, 'x.npy');
    await writeNpy(p, sample.f32);
    assertSameTensor(readNpy(p), sample.f32);
    await writeNpy(p, sample.i64);
    assertSameTensor(readNpy(p), sample.i64);
    const bytes = readFileSync(p);
    const headerEnd = 10 + new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
    assert.equal(headerEnd % 64, 0);
    assert.match(new TextDecoder().decode(bytes.subarray(10, headerEnd)), /^\{'descr': '<i8', 'fortran_order': False, 'shape': \(2,\), \} *\n$/);
  });

  test('npy v2 header and fortran_order rejection', () => {
    const v1 = encodeNpy(sample.f32);
    const header = new TextDecoder().decode(v1.subarray(10, 128)).trimEnd();
    const mk = (hdr: string, data: Uint8Array, major = 2): Uint8Array => {
      const body = hdr.padEnd(128 - 12 - 1) + '\n';
      const out = new Uint8Array(12 + body.length + data.byteLength);
      out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
      new DataView(out.buffer).setUint32(8, body.length, true);
      out.set(new TextEncoder().encode(body), 12);
      out.set(data, 12 + body.length);
      return out;
    };
    const data = v1.subarray(128);
    assertSameTensor(decodeNpy(mk(header, data)), sample.f32);
    assertSameTensor(decodeNpy(mk(header, data, 3)), sample.f32);
    assert.throws(() => decodeNpy(mk(header.replace('False', 'True'), data), 'f.npy'), /npy f\.npy: fortran_order=True arrays are not supported/);
    assert.throws(() => decodeNpy(mk(header.replace('<f4', '>f4'), data)), /unsupported dtype '>f4'/);
    assert.throws(() => decodeNpy(mk(header, data.subarray(4))), /needs 24 data bytes, file has 20/);
    assert.throws(() => decodeNpy(new Uint8Array(16)), /bad magic/);
  });

  test('npz round trip, stored and deflated', async () => {
    for (const compress of [false, true]) {
      const p = join(dir, `a${compress}.npz`);
      await writeNpz(p, sample, { compress });
      const got = readNpz(p);
      assert.deepEqual([...got.keys()], Object.keys(sample));
      for (const [k, v] of Object.entries(sample)) assertSameTensor(got.get(k), v, k);
    }
  });

  test('hand-built npz with a deflated zip64-style member and a directory entry', () => {
    const npy = encodeNpy(sample.i32);
    const comp = deflateRawSync(npy);
    const name = new TextEncoder().encode('w.npy');
    const dirName = new TextEncoder().encode('sub/');
    const parts: number[] = [];
    const u16 = (v: number) => parts.push(v & 0xff, v >>> 8);
    const u32 = (v: number) => {
      u16(v & 0xffff);
      u16(v >>> 16);
    };
    const u64 = (v: number) => {
      u32(v);
      u32(0);
    };
    // local header: sizes deferred to a zip64 extra field, as numpy's savez does
    u32(0x04034b50);
    u16(45);
    u16(0);
    u16(8);
    u16(0);
    u16(0x21);
    u32(crc32(npy));
    u32(0xffffffff);
    u32(0xffffffff);
    u16(name.length);
    u16(20);
    parts.push(...name);
    u16(1);
    u16(16);
    u64(npy.length);
    u64(comp.length);
    parts.push(...comp);
    const cd = parts.length;
    u32(0x02014b50);
    u16(45);
    u16(45);
    u16(0);
    u16(8);
    u16(0);
    u16(0x21);
    u32(crc32(npy));
    u32(comp.length);
    u32(npy.length);
    u16(name.length);
    u16(0);
    u16(0);
    u16(0);
    u16(0);
    u32(0);
    u32(0);
    parts.push(...name);
    u32(0x02014b50);
    u16(20);
    u16(20);
    u16(0);
    u16(0);
    u16(0);
    u16(0);
    u32(0);
    u32(0);
    u32(0);
    u16(dirName.length);
    u16(0);
    u16(0);
    u16(0);
    u16(0);
    u32(0x10);
    u32(0);
    parts.push(...dirName);
    const cdSize = parts.length - cd;
    u32(0x06054b50);
    u16(0);
    u16(0);
    u16(2);
    u16(2);
    u32(cdSize);
    u32(cd);
    u16(0);
    const bytes = Uint8Array.from(parts);
    const got = decodeNpz(bytes);
    assert.deepEqual([...got.keys()], ['w']);
    assertSameTensor(got.get('w'), sample.i32);
    const corrupt = bytes.slice();
    corrupt[cd - 3] ^= 0xff;
    assert.throws(() => decodeNpz(corrupt, 'c.npz'), /npz c\.npz: member "w.npy": (deflate stream is corrupt|CRC mismatch|expected)/);
    assert.throws(() => decodeNpz(bytes.subarray(0, 30), 't.npz'), /npz t\.npz: not a zip archive/);
  });

  test('reads numpy savez_compressed and savez output', () => {
    // np.savez_compressed(f, a=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array([-1, 0, 2**40]), c=np.array([True, False]))
    const compressed = Buffer.from(
      'UEsDBC0AAAAIAAAAIQBP6QAq//////////8FABQAYS5ucHkBABAAmAAAAAAAAABVAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TZqKuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GkY6CsaaOgq1CmQDLgYwaLAHEg5ABMQNQLzAAQBQSwMELQAAAAgAAAAhAIHtiav//////////wUAFABiLm5weQEAEACYAAAAAAAAAEwAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNpoa6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaxjqaOgq1ChQArv9QwIAMGBkYAFBLAwQtAAAACAAAACEA7hm7Xf//////////BQAUAGMubnB5AQAQAIIAAAAAAAAARgAAAAAAAACb7BfqGxDJyFDGUK2eklqcXKRupaBek2SorqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RpGOpo6CrUKFAAuRgYAUEsBAi0DLQAAAAgAAAAhAE/pACpVAAAAmAAAAAUAAAAAAAAAAAAAAIABAAAAAGEubnB5UEsBAi0DLQAAAAgAAAAhAIHtiatMAAAAmAAAAAUAAAAAAAAAAAAAAIABjAAAAGIubnB5UEsBAi0DLQAAAAgAAAAhAO4Zu11GAAAAggAAAAUAAAAAAAAAAAAAAIABDwEAAGMubnB5UEsFBgAAAAADAAMAmQAAAIwBAAAAAA==',
      'base64',
    );
    const a = decodeNpz(compressed);
    assertSameTensor(a.get('a'), tensor('float32', [2, 3], Float32Array.of(0, 1, 2, 3, 4, 5)));
    assertSameTensor(a.get('b'), tensor('int64', [3], BigInt64Array.of(-1n, 0n, 2n ** 40n)));
    assertSameTensor(a.get('c'), tensor('bool', [2], Uint8Array.of(1, 0)));
    // np.savez(f, u=np.arange(4, dtype=np.uint8), i=np.array([[1, -2]], dtype=np.int32), d=np.array(3.5))
    const stored = Buffer.from(
      'UEsDBC0AAAAAAAAAIQAkA95Y//////////8FABQAdS5ucHkBABAAhAAAAAAAAACEAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJ3x1MScsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICg0LCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAECA1BLAwQtAAAAAAAAACEALfpK7P//////////BQAUAGkubnB5AQAQAIgAAAAAAAAAiAAAAAAAAACTTlVNUFkBAHYAeydkZXNjcic6ICc8aTQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMSwgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgCgEAAAD+////UEsDBC0AAAAAAAAAIQA9PuNb//////////8FABQAZC5ucHkBABAAiAAAAAAAAACIAAAAAAAAAJNOVU1QWQEAdgB7J2Rlc2NyJzogJzxmOCcsICdmb3J0cmFuX29yZGVyJzogRmFsc2UsICdzaGFwZSc6ICgpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAKAAAAAAAADEBQSwECLQMtAAAAAAAAACEAJAPeWIQAAACEAAAABQAAAAAAAAAAAAAAgAEAAAAAdS5ucHlQSwECLQMtAAAAAAAAACEALfpK7IgAAACIAAAABQAAAAAAAAAAAAAAgAG7AAAAaS5ucHlQSwECLQMtAAAAAAAAACEAPT7jW4gAAACIAAAABQAAAAAAAAAAAAAAgAF6AQAAZC5ucHlQSwUGAAAAAAMAAwCZAAAAOQIAAAAA',
      'base64',
    );
    const s = decodeNpz(stored);
    assert.deepEqual([...s.keys()], ['u', 'i', 'd']);
    assertSameTensor(s.get('u'), tensor('uint8', [4], Uint8Array.of(0, 1, 2, 3)));
    assertSameTensor(s.get('i'), tensor('int32', [1, 2], Int32Array.of(1, -2)));
    assertSameTensor(s.get('d'), tensor('float64', [], Float64Array.of(3.5)));
  });
});

describe('idx', () => {
  test('embedded subset: shapes, counts, label range', () => {
    const images = readIdx(join(EMBEDDED_SUBSET_DIR, 'train-images-idx3-ubyte.gz'));
    assert.equal(images.dtype, 'uint8');
    assert.deepEqual(images.dims, [4000, 28, 28]);
    const labels = readIdx(join(EMBEDDED_SUBSET_DIR, 'train-labels-idx1-ubyte.gz'));
    assert.deepEqual(labels.dims, [4000]);
    assert.ok((labels.data as Uint8Array).every((l) => l < 10));
    assert.deepEqual(readIdx(join(EMBEDDED_SUBSET_DIR, 't10k-images-idx3-ubyte.gz')).dims, [1000, 28, 28]);
    assert.deepEqual(readIdx(join(EMBEDDED_SUBSET_DIR, 't10k-labels-idx1-ubyte.gz')).dims, [1000]);
  });

  test('raw and gzip encodings decode identically', () => {
    const t = tensor('uint8', [2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6));
    assertSameTensor(decodeIdx(encodeIdx(t)), t);
    assertSameTensor(decodeIdx(encodeIdx(t, { gzip: true })), t);
    const f = tensor('float32', [2], Float32Array.of(0.5, -3));
    assertSameTensor(decodeIdx(encodeIdx(f)), f);
  });

  test('empty, truncated and bad-magic files give clear errors', () => {
    const p = join(dir, 'bad-idx');
    writeFileSync(p, new Uint8Array(0));
    assert.throws(
      () => readIdx(p),
      (e: Error) => e.message.includes(p) && /file is empty: expected at least 4 header bytes, got 0/.test(e.message),
    );
    const good = encodeIdx(tensor('uint8', [2, 2, 2], new Uint8Array(8)));
    writeFileSync(p, good.subarray(0, good.byteLength - 3));
    assert.throws(() => readIdx(p), new RegExp(`${p}: truncated data: shape \\[2, 2, 2\\] expects 24 bytes \\(16 header \\+ 8 data\\), got 21`));
    writeFileSync(p, gzipSync(good.subarray(0, 10)));
    assert.throws(() => readIdx(p), /truncated header: 3-d IDX needs 16 header bytes, got 10/);
    writeFileSync(p, gzipSync(good).subarray(0, 20));
    assert.throws(() => readIdx(p), /gzip stream is corrupt or truncated/);
    writeFileSync(p, Uint8Array.of(0x50, 0x4b, 3, 4, 0, 0, 0, 0));
    assert.throws(() => readIdx(p), /bad magic 50 4b 03 04/);
  });
});

describe('fashion-mnist', () => {
  test('embedded subset loads normalized float32 images and int64 labels', () => {
    const train = loadImageDataset();
    assert.deepEqual(train.x.dims, [4000, 1, 28, 28]);
    assert.equal(train.x.dtype, 'float32');
    assert.deepEqual(train.y.dims, [4000]);
    assert.equal(train.y.dtype, 'int64');
    assert.deepEqual(train.classes, [...FASHION_MNIST_CLASSES]);
    assert.deepEqual(train.normalization, { mean: 0.286, std: 0.353 });
    const x = train.x.data as Float32Array;
    let min = Infinity,
      max = -Infinity,
      sum = 0;
    for (const v of x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    assert.ok(Math.abs(min - (0 - 0.286) / 0.353) < 1e-6);
    assert.ok(Math.abs(max - (1 - 0.286) / 0.353) < 1e-6);
    assert.ok(Math.abs(sum / x.length) < 0.1, 'roughly zero-mean after normalization');
    const test_ = loadImageDataset(undefined, 'test');
    assert.deepEqual(test_.x.dims, [1000, 1, 28, 28]);
    assert.ok([...(test_.y.data as BigInt64Array)].every((l) => l >= 0n && l < 10n));
  });

  test('subset is the first N of the full dataset', { skip: !existsSync(DEFAULT_FULL_DATASET_DIR) && 'full dataset not installed' }, () => {
    for (const [split, n] of [
      ['train', 4000],
      ['test', 1000],
    ] as const) {
      const prefix = split === 'train' ? 'train' : 't10k';
      const full = readIdx(join(DEFAULT_FULL_DATASET_DIR, `${prefix}-images-idx3-ubyte.gz`));
      const sub = readIdx(join(EMBEDDED_SUBSET_DIR, `${prefix}-images-idx3-ubyte.gz`));
      assert.deepEqual(sub.data.subarray(0, 784), full.data.subarray(0, 784), `${split} first image`);
      assert.deepEqual(sub.data, full.data.subarray(0, n * 784), `${split} all images`);
      const fullLabels = readIdx(join(DEFAULT_FULL_DATASET_DIR, `${prefix}-labels-idx1-ubyte.gz`));
      const subLabels = readIdx(join(EMBEDDED_SUBSET_DIR, `${prefix}-labels-idx1-ubyte.gz`));
      assert.deepEqual(subLabels.data, fullLabels.data.subarray(0, n), `${split} labels`);
    }
  });

  test('validation: count mismatch, label range, missing files', () => {
    const d = join(dir, 'fm');
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'train-images-idx3-ubyte'), encodeIdx(tensor('uint8', [2, 28, 28], new Uint8Array(2 * 784))));
    writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), encodeIdx(tensor('uint8', [3], Uint8Array.of(1, 2, 3)), { gzip: true }));
    assert.throws(() => loadImageDataset(d), /has 2 images but .* has 3 labels/);
    writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), encodeIdx(tensor('uint8', [2], Uint8Array.of(1, 10)), { gzip: true }));
    assert.throws(() => loadImageDataset(d), /label 10 at index 1 is not < 10/);
    writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), encodeIdx(tensor('uint8', [2], Uint8Array.of(1, 9)), { gzip: true }));
    assert.deepEqual([...(loadImageDataset(d).y.data as BigInt64Array)], [1n, 9n]);
    assert.throws(() => loadImageDataset(d, 'test'), /no test images file in .*t10k-images-idx3-ubyte\.gz/);
  });
});

describe('rng and batches', () => {
  test('seeded PRNG is repeatable and sane', () => {
    const a = new Rng(123),
      b = new Rng(123),
      c = new Rng(124);
    const sa = Array.from({ length: 5 }, () => a.uniform());
    assert.deepEqual(
      sa,
      Array.from({ length: 5 }, () => b.uniform()),
    );
    assert.notDeepEqual(
      sa,
      Array.from({ length: 5 }, () => c.uniform()),
    );
    assert.ok(sa.every((v) => v >= 0 && v < 1));
    const r = new Rng(9);
    let s = 0,
      s2 = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    assert.ok(Math.abs(s / N) < 0.05 && Math.abs(s2 / N - 1) < 0.05);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[r.int(6)]++;
    assert.ok(counts.every((k) => k > 850 && k < 1150));
    assert.deepEqual(new Rng(5).shuffle([...Array(20).keys()]), new Rng(5).shuffle([...Array(20).keys()]));
    assert.deepEqual(
      [...new Rng(5).shuffle([...Array(20).keys()])].sort((x, y) => x - y),
      [...Array(20).keys()],
    );
  });

  const ds = {
    x: tensor(
      'float32',
      [10, 2],
      Float32Array.from({ length: 20 }, (_, i) => i),
    ),
    y: tensor(
      'int64',
      [10],
      BigInt64Array.from({ length: 10 }, (_, i) => BigInt(i)),
    ),
  };
  const order = (bs: Iterable<{ y: HostTensor }>) => [...bs].flatMap((b) => [...(b.y.data as BigInt64Array)].map(Number));

  test('batches: order, sizes, dropLast, seeded shuffle repeatability', () => {
    const plain = [...batches(ds, 4)];
    assert.deepEqual(
      plain.map((b) => b.x.dims),
      [
        [4, 2],
        [4, 2],
        [2, 2],
      ],
    );
    assert.deepEqual(order(plain), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal([...batches(ds, 4, { dropLast: true })].length, 2);
    const s1 = order(batches(ds, 3, { shuffle: true, seed: 7 }));
    assert.deepEqual(s1, order(batches(ds, 3, { shuffle: true, seed: 7 })));
    assert.notDeepEqual(s1, order(batches(ds, 3, { shuffle: true, seed: 8 })));
    assert.deepEqual(
      [...s1].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    for (const b of batches(ds, 3, { shuffle: true, seed: 7 })) {
      const y = b.y.data as BigInt64Array,
        x = b.x.data as Float32Array;
      y.forEach((v, i) => assert.deepEqual([x[2 * i], x[2 * i + 1]], [Number(v) * 2, Number(v) * 2 + 1]));
    }
  });

  test('splitValidation is seeded, disjoint and complete', () => {
    const { train, validation } = splitValidation(ds, 0.3, 1);
    assert.equal(validation.y.dims[0], 3);
    assert.equal(train.y.dims[0], 7);
    const all = [...order([train]), ...order([validation])].sort((a, b) => a - b);
    assert.deepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(order([splitValidation(ds, 0.3, 1).validation]), order([validation]));
  });
});
