// Backdoor triggers: patch placement and values, blend arithmetic, poisoning counts, parsing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadImageDataset } from '../src/data/fashion-mnist.js';
import { applyTrigger, formatTrigger, parseTrigger, patchOrigin, poison, stampImages, type Trigger } from '../src/data/triggers.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';

const NORM = { mean: 0.286, std: 0.353 };

/** N images [N, C, H, W] of normalized values of pixels drawn from a fixed sequence; labels i % classes. */
function synthetic(n: number, c: number, h: number, w: number, classes = 10) {
  const x = new Float32Array(n * c * h * w);
  for (let i = 0; i < x.length; i++) x[i] = (((i * 37) % 101) / 100 - NORM.mean) / NORM.std;
  const y = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % classes));
  return { x: { dtype: 'float32', dims: [n, c, h, w], data: x } as HostTensor, y: { dtype: 'int64', dims: [n], data: y } as HostTensor, normalization: NORM };
}

const px = (t: HostTensor, n: number, c: number, i: number, j: number) => {
  const [, C, H, W] = t.dims;
  return (t.data as Float32Array)[((n * C + c) * H + i) * W + j];
};
const pixel = (v: number) => v * NORM.std + NORM.mean;

describe('patch triggers', () => {
  const ds = synthetic(3, 1, 28, 28);

  test('a white 3x3 patch in the bottom-right corner changes exactly those pixels', () => {
    const out = stampImages(ds.x, parseTrigger('patch:3x3@bottom-right:white'), NORM);
    for (let n = 0; n < 3; n++) {
      for (let i = 0; i < 28; i++) {
        for (let j = 0; j < 28; j++) {
          const inside = i >= 25 && j >= 25;
          if (inside) assert.ok(Math.abs(px(out, n, 0, i, j) - (1 - NORM.mean) / NORM.std) < 1e-6);
          else assert.equal(px(out, n, 0, i, j), px(ds.x, n, 0, i, j), `pixel ${i},${j} of image ${n} changed`);
        }
      }
    }
    assert.notEqual(out.data, ds.x.data, 'the input is not modified in place');
  });

  test('corner, centre, margin and x,y positions', () => {
    const at = (spec: string) => patchOrigin(parseTrigger(spec) as Extract<Trigger, { type: 'patch' }>, 28, 28);
    assert.deepEqual(at('patch:4x4@top-left'), { row: 0, col: 0 });
    assert.deepEqual(at('patch:4x4@top-right'), { row: 0, col: 24 });
    assert.deepEqual(at('patch:4x4@bottom-left'), { row: 24, col: 0 });
    assert.deepEqual(at('patch:4x4@bottom-right'), { row: 24, col: 24 });
    assert.deepEqual(at('patch:4x2@bottom-right+1'), { row: 23, col: 25 });
    assert.deepEqual(at('patch:4x4@center'), { row: 12, col: 12 });
    assert.deepEqual(at('patch:2x3@5,7'), { row: 7, col: 5 });
    assert.throws(() => at('patch:4x4@26,0'), /does not fit/);
  });

  test('checkerboard and explicit patterns', () => {
    const cb = stampImages(ds.x, parseTrigger('patch:4x4@top-left:checkerboard'), NORM);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) assert.ok(Math.abs(pixel(px(cb, 1, 0, i, j)) - ((i + j) % 2 === 0 ? 1 : 0)) < 1e-6);
    assert.equal(px(cb, 1, 0, 4, 4), px(ds.x, 1, 0, 4, 4));
    const ex = stampImages(ds.x, parseTrigger('patch:2x2@10,20:0,0.25,0.5,1'), NORM);
    assert.deepEqual(
      [px(ex, 0, 0, 20, 10), px(ex, 0, 0, 20, 11), px(ex, 0, 0, 21, 10), px(ex, 0, 0, 21, 11)].map((v) => Math.round(pixel(v) * 1e5) / 1e5 + 0),
      [0, 0.25, 0.5, 1],
    );
    assert.throws(() => stampImages(ds.x, parseTrigger('patch:2x2@top-left:1,0,1'), NORM), /3 values; expected 4/);
  });

  test('per-channel normalization and per-channel pattern values', () => {
    const rgb = synthetic(2, 3, 8, 8);
    const norm = { mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2] };
    const t: Trigger = { type: 'patch', size: [1, 1], position: 'top-left', pattern: [0.2, 0.4, 0.6] };
    const out = stampImages(rgb.x, t, norm);
    assert.deepEqual(
      [0, 1, 2].map((c) => Math.round(px(out, 1, c, 0, 0) * 1e5) / 1e5),
      [(0.2 - 0.1) / 0.5, (0.4 - 0.2) / 0.25, (0.6 - 0.3) / 2].map((v) => Math.round(v * 1e5) / 1e5),
    );
  });
});

describe('blend triggers', () => {
  const ds = synthetic(2, 1, 6, 6);

  test("x' = (1 - α)·x + α·p in pixel space, then normalized", () => {
    const out = stampImages(ds.x, parseTrigger('blend:0.25:checkerboard'), NORM);
    for (let i = 0; i < 6; i++) {
      for (let j = 0; j < 6; j++) {
        const p = (i + j) % 2 === 0 ? 1 : 0;
        const want = 0.75 * pixel(px(ds.x, 1, 0, i, j)) + 0.25 * p;
        assert.ok(Math.abs(pixel(px(out, 1, 0, i, j)) - want) < 1e-6, `${i},${j}`);
      }
    }
  });

  test('α = 0 leaves images as they are, α = 1 replaces them by the pattern', () => {
    const none = stampImages(ds.x, { type: 'blend', alpha: 0, pattern: 'white' }, NORM);
    (none.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - (ds.x.data as Float32Array)[i]) < 1e-5));
    const all = stampImages(ds.x, { type: 'blend', alpha: 1, pattern: 'noise', seed: 3 }, NORM);
    const again = stampImages(synthetic(2, 1, 6, 6).x, { type: 'blend', alpha: 1, pattern: 'noise', seed: 3 }, NORM);
    assert.deepEqual(all.data, again.data, 'the noise pattern is seeded');
    assert.deepEqual(Array.from(all.data.slice(0, 36) as Float32Array), Array.from(all.data.slice(36) as Float32Array), 'every image gets the same pattern');
    for (const v of all.data as Float32Array) assert.ok(pixel(v) >= -1e-6 && pixel(v) < 1 + 1e-6);
  });
});

describe('poisoning', () => {
  const ds = synthetic(200, 1, 8, 8); // 20 samples per class
  const trigger = parseTrigger('patch:2x2@bottom-right:white');

  test('stamps and relabels exactly round(rate · N) non-target samples, chosen by the seed', () => {
    const out = poison(ds, { trigger, target: 3, rate: 0.1, seed: 7 });
    assert.equal(out.poisoned.length, 20);
    const y = out.y.data as BigInt64Array;
    const y0 = ds.y.data as BigInt64Array;
    assert.equal([...y].filter((v) => v === 3n).length, 20 + 20);
    const poisoned = new Set(out.poisoned);
    for (let i = 0; i < 200; i++) {
      const stamped = Math.abs(pixel(px(out.x, i, 0, 7, 7)) - 1) < 1e-6 && Math.abs(pixel(px(out.x, i, 0, 6, 6)) - 1) < 1e-6;
      if (poisoned.has(i)) {
        assert.notEqual(y0[i], 3n, 'target-class samples are never chosen');
        assert.equal(y[i], 3n);
        assert.ok(stamped, `sample ${i} carries the trigger`);
      } else {
        assert.equal(y[i], y0[i]);
        assert.deepEqual(out.x.data.slice(i * 64, (i + 1) * 64), ds.x.data.slice(i * 64, (i + 1) * 64));
      }
    }
    assert.deepEqual(
      [...out.poisoned],
      [...out.poisoned].sort((a, b) => a - b),
    );
    assert.deepEqual(poison(ds, { trigger, target: 3, rate: 0.1, seed: 7 }).poisoned, out.poisoned);
    assert.notDeepEqual(poison(ds, { trigger, target: 3, rate: 0.1, seed: 8 }).poisoned, out.poisoned);
    assert.equal((ds.y.data as BigInt64Array)[0], 0n, 'the input dataset is untouched');
  });

  test('rounding, rate 0, and too high a rate', () => {
    assert.equal(poison(ds, { trigger, target: 0, rate: 0.0125, seed: 1 }).poisoned.length, 3); // round(2.5) = 3
    assert.equal(poison(ds, { trigger, target: 0, rate: 0, seed: 1 }).poisoned.length, 0);
    assert.equal(poison(ds, { trigger, target: 0, rate: 0.9, seed: 1 }).poisoned.length, 180);
    assert.throws(() => poison(ds, { trigger, target: 0, rate: 0.95 }), /only 180 are not already of target class 0/);
    assert.throws(() => poison(ds, { trigger, target: 0, rate: 1.5 }), /rate must be in \[0, 1\]/);
    assert.throws(() => poison({ x: ds.x, y: ds.y }, { trigger, target: 0, rate: 0.1 }), /normalization/);
  });

  test('on the embedded Fashion-MNIST subset', () => {
    const train = loadImageDataset();
    const out = poison(train, { trigger, target: 0, rate: 0.05, seed: 1 });
    assert.equal(out.poisoned.length, Math.round(0.05 * train.x.dims[0]));
    assert.equal(out.classes, train.classes, 'extra dataset fields are kept');
    const y = out.y.data as BigInt64Array;
    const before = [...(train.y.data as BigInt64Array)].filter((v) => v === 0n).length;
    assert.equal([...y].filter((v) => v === 0n).length, before + out.poisoned.length);
  });
});

describe('applyTrigger for attack success', () => {
  test('stamps every kept sample, keeps true labels, can leave out the target class', () => {
    const ds = synthetic(30, 1, 8, 8, 3);
    const t = parseTrigger('patch:1x1@top-left:white');
    const all = applyTrigger(ds, t);
    assert.equal(all.x.dims[0], 30);
    assert.deepEqual(all.y.data, ds.y.data);
    const rest = applyTrigger(ds, t, { excludeClass: 2 });
    assert.equal(rest.x.dims[0], 20);
    assert.ok([...(rest.y.data as BigInt64Array)].every((v) => v !== 2n));
    assert.deepEqual([...rest.indices].slice(0, 4), [0, 1, 3, 4]);
    for (let k = 0; k < 20; k++) {
      assert.ok(Math.abs(pixel(px(rest.x, k, 0, 0, 0)) - 1) < 1e-6);
      assert.equal(px(rest.x, k, 0, 5, 5), px(ds.x, rest.indices[k], 0, 5, 5));
    }
  });
});

describe('parseTrigger', () => {
  test('patch and blend specs', () => {
    assert.deepEqual(parseTrigger('patch:4x4@bottom-right:white'), { type: 'patch', size: [4, 4], position: 'bottom-right', pattern: 'white' });
    assert.deepEqual(parseTrigger('patch:3@top-left:checkerboard'), { type: 'patch', size: [3, 3], position: 'top-left', pattern: 'checkerboard' });
    assert.deepEqual(parseTrigger('patch'), { type: 'patch', size: [3, 3], position: 'bottom-right', pattern: 'white' });
    assert.deepEqual(parseTrigger('patch:2x5@3,4:noise:9'), { type: 'patch', size: [2, 5], position: { x: 3, y: 4 }, pattern: 'noise', seed: 9 });
    assert.deepEqual(parseTrigger('blend:0.5:checkerboard'), { type: 'blend', alpha: 0.5, pattern: 'checkerboard' });
    assert.deepEqual(parseTrigger('blend'), { type: 'blend', alpha: 0.2, pattern: 'checkerboard' });
    assert.deepEqual(parseTrigger('blend:0.1:noise'), { type: 'blend', alpha: 0.1, pattern: 'noise' });
  });

  test('format round-trips', () => {
    for (const s of [
      'patch:4x4@bottom-right:white',
      'patch:2x3@5,6:checkerboard',
      'patch:3x3@top-left+2:black',
      'patch:2x2@center:0,1,1,0',
      'blend:0.5:checkerboard',
      'blend:0.15:noise:4',
    ]) {
      assert.equal(formatTrigger(parseTrigger(s)), s);
    }
  });

  test('errors name the problem', () => {
    assert.throws(() => parseTrigger('sticker:3'), /kind 'sticker' is not patch, blend or file/);
    assert.throws(() => parseTrigger('patch:4y4'), /size '4y4'/);
    assert.throws(() => parseTrigger('patch:4x4@middle'), /position 'middle'/);
    assert.throws(() => parseTrigger('patch:4x4@top-left:stripes'), /unknown trigger pattern 'stripes'/);
    assert.throws(() => parseTrigger('blend:2:white'), /alpha '2'/);
    assert.throws(() => parseTrigger('patch:0x3'), /positive integers/);
  });
});
