// Lowering experiments: fwd+bwd of a model with some gradient rules swapped for alternative standard-op lowerings.
// `node --import tsx bench/variants.ts [--models lenet,resnet] [--threads 1]`: for each variant, median ms per batch
// and the gradient error against PyTorch's fixture gradients (so a faster variant is also shown to be right).
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { GradContext, GradRule } from '../src/autodiff/grad-context.js';
import { convInputGrad, convWeightGrad, type WeightGradVariant } from '../src/autodiff/rules/Conv.js';
import { type ConvGeometry, effective, kernelSize, resolveWindow, spatialAxes, spatialSize, transposeBack } from '../src/autodiff/rules/window.js';
import { readSafetensors } from '../src/data/safetensors.js';
import { readModel } from '../src/onnx/model-io.js';
import { compile } from '../src/runtime/session.js';
import type { HostTensor } from '../src/tensor/host-tensor.js';
import { FIXTURES, profileTraining, randomBatch, readMeta, timeCpu, timeIt, trainingGraph, wrtNames } from './engine.js';
import { bySource } from './profile.js';
import { RULES } from '../src/autodiff/rules/index.js';

const RULES_BEFORE = { ...RULES };

type DwVariant = WeightGradVariant | 'onehot-bmm' | 'slice-bmm';
type DxVariant = 'convtranspose' | 'conv-flip';

function geometry(g: GradContext): ConvGeometry {
  const inSize = spatialSize(g, g.I(0), 'input');
  const kernel = kernelSize(g, g.I(1));
  const win = resolveWindow(g, inSize, kernel);
  const outSize = inSize.map((n, i) => Math.floor((n + win.padsBegin[i] + win.padsEnd[i] - effective(kernel[i], win.dilations[i])) / win.strides[i]) + 1);
  return { ...win, inSize, outSize, group: g.attrInt('group', 1) };
}

// dW[m, c·K] = Σ_n dY[n] (M×P) · col[n]ᵀ (P×C·K): one batched FusedMatMul (transB folded in) and a ReduceSum over n,
// instead of transposing col and dY into [C·K, N·P] and [M, N·P] for one big GEMM.
function bmm(g: GradContext, col: string, dy: string, p: ConvGeometry, C: number, K: number, M: number): string {
  const P = p.outSize.reduce((a, b) => a * b, 1);
  const cols = g.op('Reshape', col, g.ints([-1, C * K, P]));
  const dys = g.op('Reshape', dy, g.ints([0, M, P]));
  const per = g.op('MatMul', dys, g.op('Transpose', cols, { perm: [0, 2, 1] })); // [N, M, C·K]
  return g.op('Reshape', g.reduceSum(per, [0], false), g.ints([M, C, ...p.kernel]));
}

function channels(g: GradContext, name: string, axis: number): number {
  const d = g.shape(name)?.[axis];
  if (typeof d !== 'number') throw new Error(`variant needs static channels of ${name}`);
  return d;
}

function dwVariant(g: GradContext, dy: string, p: ConvGeometry, v: DwVariant): string {
  if (v === 'dilated-conv' || v === 'onehot-im2col') return convWeightGrad(g, g.I(0), dy, p, v);
  if (p.group !== 1) return convWeightGrad(g, g.I(0), dy, p);
  const x = g.I(0);
  const C = channels(g, x, 1);
  const M = channels(g, g.I(1), 0);
  const K = p.kernel.reduce((a, b) => a * b, 1);
  const sp = spatialAxes(p.inSize.length);
  let col: string;
  if (v === 'onehot-bmm') {
    const eye = new Float32Array(K * K);
    for (let i = 0; i < K; i++) eye[i * K + i] = 1;
    const kernel = g.op('Constant', { value: { dtype: 'float32', dims: [K, 1, ...p.kernel], data: eye } });
    const flat = g.op('Reshape', x, g.ints([-1, 1, ...p.inSize]));
    col = g.op('Conv', flat, kernel, { strides: p.strides, dilations: p.dilations, pads: [...p.padsBegin, ...p.padsEnd] }); // [N·C, K, out…]
  } else {
    // strided-Slice im2col: pad once, one Slice per kernel tap, stacked on a new axis 2 -> [N, C, K, out…]
    const padded = p.padsBegin.some((v) => v) || p.padsEnd.some((v) => v) ? g.op('Pad', x, g.ints([0, 0, ...p.padsBegin, 0, 0, ...p.padsEnd])) : x;
    const taps: string[] = [];
    for (let t = 0; t < K; t++) {
      const k: number[] = [];
      let r = t;
      for (let i = p.kernel.length - 1; i >= 0; i--) {
        k.unshift(r % p.kernel[i]);
        r = Math.floor(r / p.kernel[i]);
      }
      const starts = k.map((ki, i) => ki * p.dilations[i]);
      const ends = starts.map((s, i) => s + (p.outSize[i] - 1) * p.strides[i] + 1);
      taps.push(g.unsqueeze(g.op('Slice', padded, g.ints(starts), g.ints(ends), g.ints(sp), g.ints(p.strides)), [2]));
    }
    col = g.op('Concat', ...taps, { axis: 2 });
  }
  return bmm(g, col, dy, p, C, K, M);
}

function dxVariant(g: GradContext, dy: string, p: ConvGeometry, v: DxVariant): string {
  const w = g.I(1);
  const n = p.inSize.length;
  const ok =
    p.group === 1 &&
    p.strides.every((s) => s === 1) &&
    p.kernel.every((k, i) => p.padsBegin[i] <= effective(k, p.dilations[i]) - 1 && p.padsEnd[i] <= effective(k, p.dilations[i]) - 1);
  if (v === 'convtranspose' || !ok) return transposeBack(g, dy, w, p);
  // Stride 1: dX = Conv(dY, flip(W)ᵀ) with the complementary padding; a plain Conv instead of ConvTranspose.
  const sp = spatialAxes(n);
  const flipped = g.op(
    'Slice',
    w,
    g.ints(new Array(n).fill(-1)),
    g.ints(new Array(n).fill(-Number.MAX_SAFE_INTEGER)),
    g.ints(sp),
    g.ints(new Array(n).fill(-1)),
  );
  const wt = g.op('Transpose', flipped, { perm: [1, 0, ...sp] });
  const pads = [
    ...p.kernel.map((k, i) => effective(k, p.dilations[i]) - 1 - p.padsBegin[i]),
    ...p.kernel.map((k, i) => effective(k, p.dilations[i]) - 1 - p.padsEnd[i]),
  ];
  return g.op('Conv', dy, wt, { pads, dilations: p.dilations });
}

function convRule(dw: DwVariant | undefined, dx: DxVariant): GradRule {
  return (g) => {
    const dy = g.GO(0);
    const p = geometry(g);
    if (g.needs(0)) g.setGI(0, dxVariant(g, dy, p, dx));
    if (g.needs(1)) g.setGI(1, dw ? dwVariant(g, dy, p, dw) : convWeightGrad(g, g.I(0), dy, p));
    if (g.I(2) && g.needs(2)) g.setGI(2, g.reduceSum(dy, [0, ...spatialAxes(p.inSize.length)], false));
  };
}

// MaxPool with kernel = stride, no padding, sizes divisible (2-D): first argmax per window by ArgMax over the
// window laid out on axis 2 ([N, C, kh·kw, Ho, Wo], so broadcasts run over contiguous Ho·Wo planes), then a mask
// (OneHot, or Equal with the tap indices) times dY; no MaxPool-with-Indices (slow on CPU) and no scatter.
const maxPoolArgmax =
  (mask: 'onehot' | 'equal'): GradRule =>
  (g) => {
    const k = g.attrInts('kernel_shape', []);
    const s = g.attrInts(
      'strides',
      k.map(() => 1),
    );
    const pads = g.attrInts('pads', [0, 0, 0, 0]);
    const inSize = spatialSize(g, g.I(0), 'input');
    if (k.length !== 2 || s.some((v, i) => v !== k[i]) || pads.some((v) => v) || inSize.some((v, i) => v % k[i])) {
      throw new Error('argmax variant: only non-overlapping unpadded 2-D pools');
    }
    const C = channels(g, g.I(0), 1);
    const [H, W] = inSize;
    const [kh, kw] = k;
    const Ho = H / kh;
    const Wo = W / kw;
    const K = kh * kw;
    const win = g.op(
      'Reshape',
      g.op('Transpose', g.op('Reshape', g.I(0), g.ints([-1, C, Ho, kh, Wo, kw])), { perm: [0, 1, 3, 5, 2, 4] }),
      g.ints([-1, C, K, Ho, Wo]),
    );
    const am = g.op('ArgMax', win, { axis: 2, keepdims: 1 }); // [N, C, 1, Ho, Wo]
    const dy = g.unsqueeze(g.GO(0), [2]);
    let d: string;
    if (mask === 'onehot') {
      const hot = g.op('OneHot', am, g.ints([K]), g.op('Constant', { value: { dtype: 'float32', dims: [2], data: Float32Array.of(0, 1) } }), { axis: 2 });
      d = g.op('Mul', g.squeeze(hot, [3]), dy);
    } else {
      const taps = g.op('Constant', { value: { dtype: 'int64', dims: [K, 1, 1], data: BigInt64Array.from({ length: K }, (_, i) => BigInt(i)) } });
      d = g.op('Where', g.op('Equal', am, taps), dy, g.scalar(0, dy));
    }
    g.setGI(0, g.op('Reshape', g.op('Transpose', g.op('Reshape', d, g.ints([-1, C, kh, kw, Ho, Wo])), { perm: [0, 1, 4, 2, 5, 3] }), g.ints([-1, C, H, W])));
  };

// Same, for square kernel = stride: SpaceToDepth lays each window on the channel axis without a 6-D Transpose.
const maxPoolSpaceToDepth: GradRule = (g) => {
  const k = g.attrInts('kernel_shape', []);
  const s = g.attrInts(
    'strides',
    k.map(() => 1),
  );
  const pads = g.attrInts('pads', [0, 0, 0, 0]);
  const inSize = spatialSize(g, g.I(0), 'input');
  if (k.length !== 2 || k[0] !== k[1] || s.some((v, i) => v !== k[i]) || pads.some((v) => v) || inSize.some((v, i) => v % k[i])) {
    throw new Error('space-to-depth variant: only square non-overlapping unpadded 2-D pools');
  }
  const [H, W] = inSize;
  const bs = k[0];
  const K = bs * bs;
  const win = g.op('SpaceToDepth', g.op('Reshape', g.I(0), g.ints([-1, 1, H, W])), { blocksize: bs }); // [N·C, K, Ho, Wo]
  const am = g.op('ArgMax', win, { axis: 1, keepdims: 1 });
  const taps = g.op('Constant', { value: { dtype: 'int64', dims: [K, 1, 1], data: BigInt64Array.from({ length: K }, (_, i) => BigInt(i)) } });
  const dy = g.op('Reshape', g.GO(0), g.ints([-1, 1, H / bs, W / bs]));
  const d = g.op('Where', g.op('Equal', am, taps), dy, g.scalar(0, dy));
  g.setGI(0, g.op('Reshape', g.op('DepthToSpace', d, { blocksize: bs, mode: 'DCR' }), g.op('Shape', g.I(0))));
};

interface Variant {
  name: string;
  rules: Record<string, GradRule>;
}

// dW by convWeightGrad's own variants, dX as registered.
function registeredDx(dw: WeightGradVariant): GradRule {
  return (g) => {
    const dy = g.GO(0);
    const p = geometry(g);
    if (g.needs(0)) g.setGI(0, convInputGrad(g, dy, g.I(1), p));
    if (g.needs(1)) g.setGI(1, convWeightGrad(g, g.I(0), dy, p, dw));
    if (g.I(2) && g.needs(2)) g.setGI(2, g.reduceSum(dy, [0, ...spatialAxes(p.inSize.length)], false));
  };
}

// Inference-mode BatchNormalization backward without the full-size X − μ: ds = r·(Σ dY·X − μ·Σ dY), dB = Σ dY,
// dX = dY·s·r (falls back to the registered rule in training mode or when μ or σ² need gradients).
const bnNoCentre: GradRule = (g) => {
  if ((g.opset >= 14 && g.attrInt('training_mode', 0) !== 0) || g.needs(3) || g.needs(4)) return (RULES_BEFORE.BatchNormalization as GradRule)(g);
  const x = g.I(0);
  const dy = g.GO(0);
  const r = g.rank(x)!;
  const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
  const inv = g.op('Div', g.scalar(1, x), g.op('Sqrt', g.op('Add', g.I(4), g.scalar(g.attrFloat('epsilon', 1e-5), x))));
  const sumDy = g.reduceSum(dy, axes, false);
  if (g.needs(0)) g.setGI(0, g.op('Mul', dy, g.unsqueeze(g.op('Mul', g.I(1), inv), axes)));
  if (g.needs(1)) g.setGI(1, g.op('Mul', inv, g.op('Sub', g.reduceSum(g.op('Mul', dy, x), axes, false), g.op('Mul', g.I(3), sumDy))));
  if (g.needs(2)) g.setGI(2, sumDy);
};

const VARIANTS: Variant[] = [
  { name: 'BatchNormalization (inference) backward without X − μ', rules: { BatchNormalization: bnNoCentre } },
  { name: 'as registered', rules: {} },
  { name: 'Conv dW gather-batched (registered dX)', rules: { Conv: registeredDx('gather-batched') } },
  { name: 'Conv dW onehot-batched (registered dX)', rules: { Conv: registeredDx('onehot-batched') } },
  { name: 'Conv dW dilated-conv', rules: { Conv: convRule('dilated-conv', 'convtranspose') } },
  { name: 'Conv dW onehot-im2col', rules: { Conv: convRule('onehot-im2col', 'convtranspose') } },
  { name: 'Conv dW onehot + batched MatMul', rules: { Conv: convRule('onehot-bmm', 'convtranspose') } },
  { name: 'Conv dW slice-im2col + batched MatMul', rules: { Conv: convRule('slice-bmm', 'convtranspose') } },
  { name: 'Conv dX Conv(flipped W) at stride 1', rules: { Conv: convRule(undefined, 'conv-flip') } },
  { name: 'Conv onehot-bmm dW + flipped-W dX', rules: { Conv: convRule('onehot-bmm', 'conv-flip') } },
  { name: 'MaxPool ArgMax+OneHot', rules: { MaxPool: maxPoolArgmax('onehot') } },
  { name: 'MaxPool ArgMax+Equal+Where', rules: { MaxPool: maxPoolArgmax('equal') } },
  { name: 'MaxPool SpaceToDepth+ArgMax+Where', rules: { MaxPool: maxPoolSpaceToDepth } },
];

async function measureVariant(name: string, v: Variant, threads: number, batch: number) {
  const meta = readMeta(name);
  const model = readModel(join(FIXTURES, `${name}.onnx`));
  const tg = trainingGraph(model, wrtNames(model, meta, 'params'), { rules: v.rules });
  const exe = await compile(tg.model, { threads });
  const fetch = [tg.loss, ...tg.gradients.values()];
  const values = Object.fromEntries(tg.values);
  const fixture = await readSafetensors(join(FIXTURES, `${name}.safetensors`));
  const ref = await exe.run({ ...values, x: fixture.get('x')!, y: fixture.get('y')! }, fetch);
  let err = 0;
  for (const [p, out] of tg.gradients) {
    const want = fixture.get(`grad:${p}`) as HostTensor;
    let num = 0;
    let den = 0;
    for (let i = 0; i < want.data.length; i++) {
      num += ((ref[out].data[i] as number) - (want.data[i] as number)) ** 2;
      den += (want.data[i] as number) ** 2;
    }
    err = Math.max(err, Math.sqrt(num / Math.max(den, 1e-30)));
  }
  const { x, y } = randomBatch(meta, batch);
  const feeds = { ...values, x, y };
  return { exe, feeds, fetch, err };
}

const { values: args } = parseArgs({
  options: {
    cpu: { type: 'boolean', default: false },
    only: { type: 'string', default: '' },
    profile: { type: 'boolean', default: false },
    models: { type: 'string', default: 'lenet,resnet' },
    threads: { type: 'string', default: '1' },
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
  },
});
const threads = Number(args.threads);
const batch = Number(args.batch);
for (const m of args.models.split(',')) {
  const ready: { name: string; run?: Awaited<ReturnType<typeof measureVariant>>; error?: string; ms: number[] }[] = [];
  for (const v of VARIANTS) {
    if (m !== 'lenet' && v.rules.MaxPool) continue;
    if (args.only && v.name !== 'as registered' && !v.name.includes(args.only)) continue;
    try {
      ready.push({ name: v.name, run: await measureVariant(m, v, threads, batch), ms: [] });
    } catch (e) {
      ready.push({ name: v.name, error: (e as Error).message.split('\n')[0], ms: [] });
    }
  }
  // Interleave rounds so that load changes hit every variant alike; report the best round's median.
  for (let r = 0; r < Number(args.rounds); r++) {
    for (const v of ready) {
      if (!v.run) continue;
      const { exe, feeds, fetch } = v.run;
      v.ms.push((await (args.cpu ? timeCpu : timeIt)(() => exe.run(feeds, fetch), { warmup: 5, minIters: 30, minTimeMs: 500, maxTimeMs: 5000 })).medianMs);
    }
  }
  console.log(`\n${m}, ${threads} thread(s), batch ${batch}: fwd+bwd ${args.cpu ? 'CPU ' : ''}ms (min over rounds of the median), grad rel. err vs torch`);
  for (const v of ready) {
    console.log(
      `  ${v.name.padEnd(40)} ${
        v.error
          ? `error: ${v.error}`
          : `${Math.min(...v.ms)
              .toFixed(2)
              .padStart(7)} ms   err ${v.run!.err.toExponential(1)}`
      }`,
    );
    if (args.profile && v.run) {
      const p = await profileTraining(m, { threads, batch, wrt: 'params' }, VARIANTS.find((x) => x.name === v.name)!.rules);
      const top = bySource(p)
        .slice(0, 5)
        .map((s) => `${s.label} ${s.ms.toFixed(2)}`);
      const kern = p.entries.slice(0, 5).map((e) => `${e.phase} ${e.source}→${e.kernel} ${e.msPerRun.toFixed(2)}`);
      console.log(`      ${top.join(', ')}\n      ${kern.join(', ')}`);
    }
  }
}
