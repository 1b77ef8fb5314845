import type { GradContext, GradRule } from '../grad-context.js';
import { type ConvGeometry, effective, kernelSize, offsets, outputSize, resolveWindow, spatialAxes, spatialSize, transposeBack } from './window.js';

// Y = conv(X, W) + B.  dX = convTranspose(dY, W) (= conv(dY, flip(W)ᵀ) at stride 1),  dW[m,c,k] = Σ_{n,o} dY[n,m,o] Xpad[n,c,o·s+k·d],  dB = Σ_{n,o} dY
export const Conv: GradRule = (g) => {
  const x = g.I(0);
  const w = g.I(1);
  const dy = g.GO(0);
  const inSize = spatialSize(g, x, 'input');
  const kernel = kernelSize(g, w);
  const win = resolveWindow(g, inSize, kernel);
  const outSize = outputSize(inSize, win);
  const group = g.attrInt('group', 1);
  if (g.needs(0)) g.setGI(0, convInputGrad(g, dy, w, { ...win, inSize, outSize, group }));
  if (g.needs(1)) g.setGI(1, convWeightGrad(g, x, dy, { ...win, inSize, outSize, group }));
  if (g.I(2) && g.needs(2)) g.setGI(2, g.reduceSum(dy, [0, ...spatialAxes(inSize.length)], false));
};

/** The lowerings of a convolution's input gradient. */
export type InputGradVariant = 'convtranspose' | 'conv-flip';

/** dX of a convolution of geometry `p` with weight `w` [M, C/group, k…], by the variant `pickInputGradVariant` picks. */
export function convInputGrad(g: GradContext, dy: string, w: string, p: ConvGeometry, variant = pickInputGradVariant(p, channelsOf(g, w, p))): string {
  return variant === 'conv-flip' ? flippedConv(g, dy, w, p) : transposeBack(g, dy, w, p);
}

/**
 * The one place the dX lowering is chosen. Stride 1, group 1: a Conv of dY with the flipped, transposed
 * kernel runs the same im2col + GEMM as the forward Conv, and ConvTranspose's GEMM (reduction over only the
 * M output channels) plus col2im is slower when the conv does not widen. Measured on onnxruntime 1.30 CPU, one
 * thread, batch 128, 3×3 pad 1 (ConvTranspose vs flipped Conv): C=M=16 at 28×28 11.2 vs 9.6 ms; C=M=32 at 14×14
 * 8.1 vs 7.8; C=M=64 at 7×7 8.0 vs 8.0; C=M=8 at 28×28 4.4 vs 3.7; C=32←M=16 at 28×28 22.0 vs 14.8; but
 * C=16←M=32 16.7 vs 18.3, and LeNet's 5×5 layers (C=1←M=6: 1.4 vs 4.2; C=6←M=16: 1.4 vs 5.6) favour ConvTranspose.
 * Strided: ConvTranspose (zero-upsampled dY + Conv took 5–8× longer at 3×3 and 1×1 stride 2).
 */
export function pickInputGradVariant(p: ConvGeometry, ch?: { C: number; M: number }): InputGradVariant {
  const fits = p.kernel.every((k, i) => p.padsBegin[i] <= effective(k, p.dilations[i]) - 1 && p.padsEnd[i] <= effective(k, p.dilations[i]) - 1);
  const unitStride = p.strides.every((s) => s === 1);
  return ch && p.group === 1 && unitStride && fits && ch.C >= ch.M && ch.C >= 8 ? 'conv-flip' : 'convtranspose';
}

// Stride 1: dX = Conv(dY, W') with W'[c,m,k] = W[m,c,K-1-k] and pads d(k-1) - pads of the forward conv.
function flippedConv(g: GradContext, dy: string, w: string, p: ConvGeometry): string {
  const n = p.inSize.length;
  const sp = spatialAxes(n);
  const t = g.op('Transpose', w, { perm: [1, 0, ...sp] });
  const flipped = g.op(
    'Slice',
    t,
    g.ints(new Array(n).fill(-1)),
    g.ints(new Array(n).fill(-Number.MAX_SAFE_INTEGER)),
    g.ints(sp),
    g.ints(new Array(n).fill(-1)),
  );
  const pad = (q: number[]) => p.kernel.map((k, i) => effective(k, p.dilations[i]) - 1 - q[i]);
  return g.op('Conv', dy, flipped, { pads: [...pad(p.padsBegin), ...pad(p.padsEnd)], dilations: p.dilations });
}

/** Static channel counts of a convolution: C input channels (all groups), M output channels; undefined when not static. */
function channelsOf(g: GradContext, w: string, p: ConvGeometry): { C: number; M: number } | undefined {
  const ws = g.shape(w);
  const M = ws?.[0];
  const Cg = ws?.[1];
  return typeof M === 'number' && typeof Cg === 'number' ? { C: Cg * p.group, M } : undefined;
}

/**
 * The lowerings of a convolution's weight gradient (standard ops only; they differ in speed by shape).
 * 'dilated-conv': one Conv with batch and channels swapped. 'onehot-im2col': im2col by a Conv with one-hot
 * kernels, then one GEMM over N·P (any group). 'onehot-batched': the same im2col, then a MatMul batched over N and
 * a ReduceSum. 'taps-batched' / 'taps-fold' (group 1; stride 1 or a 1-tap kernel): no im2col at all, one MatMul per
 * kernel tap against a contiguous Slice of the flattened padded input, batched over N or with N folded into the GEMM.
 * 'gather-batched' (group 1, any stride): im2col as one Gather of the flattened padded input with a constant index,
 * then one MatMul batched over N (all taps at once) and a ReduceSum.
 */
export type WeightGradVariant = 'dilated-conv' | 'onehot-im2col' | 'onehot-batched' | 'gather-batched' | 'taps-batched' | 'taps-fold';

/**
 * dW[m,c,k] = Σ_{n,o} dy[n,m,o] · xpad[n, g(m)·Cg + c, o·s + k·d] for a convolution of `x` with geometry `p`,
 * shaped [M, C/group, k…].
 */
export function convWeightGrad(g: GradContext, x: string, dy: string, p: ConvGeometry, variant?: WeightGradVariant): string {
  const xs = g.shape(x)?.[1];
  const ms = g.shape(dy)?.[1];
  const ch = typeof xs === 'number' && typeof ms === 'number' ? { C: xs, M: ms } : undefined;
  let v = variant ?? pickWeightGradVariant(p, ch);
  // The batched and tap lowerings need static channel counts and group 1; the others take anything.
  if (v !== 'dilated-conv' && v !== 'onehot-im2col' && (!ch || p.group !== 1)) v = 'onehot-im2col';
  if ((v === 'taps-batched' || v === 'taps-fold') && !tapsApply(p)) v = 'onehot-batched';
  switch (v) {
    case 'dilated-conv':
      return dwDilatedConv(g, x, dy, p);
    case 'onehot-im2col':
      return dwOnehotIm2col(g, x, dy, p);
    case 'onehot-batched':
      return dwOnehotBatched(g, x, dy, p, ch!);
    case 'gather-batched':
      return dwGatherBatched(g, x, dy, p, ch!);
    default:
      return dwTaps(g, x, dy, p, ch!, v === 'taps-fold');
  }
}

/**
 * The one place the dW lowering is chosen. Measured on onnxruntime 1.30 CPU, one thread (min of 15 runs, busy
 * 2-core machine), batch 128, ms:
 *
 * | conv (C→M, input, kernel)      | dilated | onehot-im2col | onehot-batched | taps-batched | taps-fold |
 * | 16→16 28×28 3×3 pad 1          |  30.3   |  29.2         |  23.2          |  13.2        |  14.8     |
 * | 32→32 14×14 3×3 pad 1          |  17.9   |  19.0         |  16.3          |   9.3        |  10.0     |
 * | 64→64 7×7 3×3 pad 1            |  12.6   |  11.2         |  12.3          |  13.3        |   8.7     |
 * | 1→16 28×28 3×3 pad 1           |   2.2   |   2.3         |   1.3          |   6.9        |   8.3     |
 * | 16→32 28×28 3×3 stride 2 pad 1 |   9.7   |   9.2         |   7.9          |  (8.2)       |  (8.7)    |
 * | 32→64 14×14 3×3 stride 2 pad 1 |   6.6   |   4.8         |   5.2          |  (8.8)       |  (7.7)    |
 * | 16→32 28×28 1×1 stride 2       |   8.1   |   3.0         |   2.7          |   0.87       |   1.3     |
 * | 32→64 14×14 1×1 stride 2       |   5.8   |   1.3         |   1.1          |   0.70       |   0.89    |
 * | 1→6 28×28 5×5 pad 2 (LeNet)    |   2.3   |   4.3         |   3.6          |  10.0        |   9.8     |
 * | 6→16 14×14 5×5 (LeNet)         |   2.2   |   3.8         |   3.9          |   4.1        |   3.6     |
 *
 * (the forward Conv of the same shapes, weights fed as inputs: 9.6, 7.7, 7.8, 1.2, 5.4, 4.0, 0.9, 0.6, 1.1, 2.1;
 * in parentheses: taps over the stride phases of the input, a variant not kept). With few input channels each tap's
 * MatMul degenerates to a matrix-vector product (C=1: 6.9 against 1.3 ms), hence taps only from C=16 or for 1 tap.
 * Batched vs folded contraction: the batched MatMul writes, and ReduceSum reads, K·M·C values per sample; folding N
 * into one GEMM instead transposes the per-sample operands (C·|padded x| + M·|dy layout| for taps, C·K·P + M·P for
 * one-hot columns); the smaller wins in every row above.
 */
export function pickWeightGradVariant(p: ConvGeometry, ch?: { C: number; M: number }): WeightGradVariant {
  const K = p.kernel.reduce((a, b) => a * b, 1);
  if (K >= 16) return 'dilated-conv';
  if (!ch || p.group !== 1) return 'onehot-im2col';
  const reduced = K * ch.M * ch.C;
  if (tapsApply(p) && (K === 1 || ch.C >= 16)) {
    const t = tapsLayout(p);
    return reduced > ch.C * t.padded.reduce((a, b) => a * b, 1) + ch.M * t.length ? 'taps-fold' : 'taps-batched';
  }
  const P = p.outSize.reduce((a, b) => a * b, 1);
  return reduced > ch.C * K * P + ch.M * P ? 'onehot-im2col' : 'onehot-batched';
}

// Batch and channels swapped: Conv(Xᵀ [C,N,…], dYᵀ [M,N,…]) with strides = dilations and dilations = strides.
function dwDilatedConv(g: GradContext, x: string, dy: string, p: ConvGeometry): string {
  const n = p.inSize.length;
  const sp = spatialAxes(n);
  const G = p.group;
  let xt: string;
  if (G === 1) xt = g.op('Transpose', x, { perm: [1, 0, ...sp] });
  else {
    // [N, G·Cg, …] -> [Cg, G·N, …] with channels ordered group-major, as a grouped Conv expects.
    const split = g.op('Reshape', x, g.ints([0, G, -1, ...p.inSize]));
    const t = g.op('Transpose', split, { perm: [2, 1, 0, ...sp.map((a) => a + 1)] });
    xt = g.op('Reshape', t, g.ints([0, -1, ...p.inSize]));
  }
  const dyt = g.op('Transpose', dy, { perm: [1, 0, ...sp] });
  // Drop end padding that no window reaches; what is left over beyond the kernel is sliced off.
  const padsEnd: number[] = [];
  let over = false;
  for (let i = 0; i < n; i++) {
    const used = (p.outSize[i] - 1) * p.strides[i] + effective(p.kernel[i], p.dilations[i]);
    const spare = p.inSize[i] + p.padsBegin[i] + p.padsEnd[i] - used;
    const cut = Math.min(p.padsEnd[i], spare);
    padsEnd.push(p.padsEnd[i] - cut);
    if (spare - cut >= p.dilations[i]) over = true;
  }
  let r = g.op('Conv', xt, dyt, { strides: p.dilations, dilations: p.strides, pads: [...p.padsBegin, ...padsEnd], group: G });
  if (over) r = g.op('Slice', r, g.ints(new Array(n).fill(0)), g.ints(p.kernel), g.ints(sp));
  return g.op('Transpose', r, { perm: [1, 0, ...sp] });
}

// im2col by a Conv with one-hot kernels (channels folded into the batch): [N·C, K, out…].
function onehotColumns(g: GradContext, x: string, p: ConvGeometry): string {
  const K = p.kernel.reduce((a, b) => a * b, 1);
  const dt = g.dtype(x) === 'float64' ? 'float64' : 'float32';
  const eye = dt === 'float64' ? new Float64Array(K * K) : new Float32Array(K * K);
  for (let i = 0; i < K; i++) eye[i * K + i] = 1;
  const kernel = g.op('Constant', { value: { dtype: dt, dims: [K, 1, ...p.kernel], data: eye } });
  const flat = g.op('Reshape', x, g.ints([-1, 1, ...p.inSize]));
  return g.op('Conv', flat, kernel, { strides: p.strides, dilations: p.dilations, pads: [...p.padsBegin, ...p.padsEnd] });
}

// One-hot im2col, then one GEMM per group over N·P.
function dwOnehotIm2col(g: GradContext, x: string, dy: string, p: ConvGeometry): string {
  const K = p.kernel.reduce((a, b) => a * b, 1);
  const c = onehotColumns(g, x, p);
  const col = g.op('Reshape', c, g.op('Concat', g.op('Slice', g.op('Shape', x), g.ints([0]), g.ints([2])), g.ints([K, ...p.outSize]), { axis: 0 }));
  return im2colMatMul(g, col, dy, p);
}

// One-hot im2col read in place as [N, C·K, P]: dW = Σ_n dY[n] (M×P) · col[n]ᵀ, one batched MatMul and a ReduceSum.
function dwOnehotBatched(g: GradContext, x: string, dy: string, p: ConvGeometry, ch: { C: number; M: number }): string {
  const K = p.kernel.reduce((a, b) => a * b, 1);
  const P = p.outSize.reduce((a, b) => a * b, 1);
  const col = g.op('Reshape', onehotColumns(g, x, p), g.ints([-1, ch.C * K, P]));
  const per = g.op('MatMul', g.op('Reshape', dy, g.ints([0, ch.M, P])), g.op('Transpose', col, { perm: [0, 2, 1] })); // [N, M, C·K]
  return g.op('Reshape', g.reduceSum(per, [0], false), g.ints([ch.M, ch.C, ...p.kernel]));
}

// im2col in one Gather: the padded input flattened to [N, C, T]; column (k, o) reads flat position
// Σ_i (o_i·s_i + k_i·d_i)·R_i (R: row strides of the padded input), so Gather(axis 2) of a constant [K·P] index gives
// [N, C, K·P] = [N, C·K, P]. Then dW = Σ_n dY[n] (M×P) · col[n]ᵀ: one batched MatMul over every tap, and a ReduceSum.
function dwGatherBatched(g: GradContext, x: string, dy: string, p: ConvGeometry, ch: { C: number; M: number }): string {
  const n = p.inSize.length;
  const K = p.kernel.reduce((a, b) => a * b, 1);
  const P = p.outSize.reduce((a, b) => a * b, 1);
  const padded = p.inSize.map((v, i) => v + p.padsBegin[i] + p.padsEnd[i]);
  const R = padded.map((_, i) => padded.slice(i + 1).reduce((a, b) => a * b, 1));
  const index = new BigInt64Array(K * P);
  const outs = offsets(p.outSize);
  offsets(p.kernel).forEach((k, t) => {
    outs.forEach((o, j) => {
      let f = 0;
      for (let i = 0; i < n; i++) f += (o[i] * p.strides[i] + k[i] * p.dilations[i]) * R[i];
      index[t * P + j] = BigInt(f);
    });
  });
  const pads = [...p.padsBegin, ...p.padsEnd];
  const xp = pads.some((v) => v !== 0) ? g.op('Pad', x, g.ints([0, 0, ...p.padsBegin, 0, 0, ...p.padsEnd])) : x;
  const at = g.op('Constant', { value: { dtype: 'int64', dims: [K * P], data: index } });
  const col = g.op('Reshape', g.op('Gather', g.op('Reshape', xp, g.ints([0, ch.C, -1])), at, { axis: 2 }), g.ints([0, ch.C * K, P]));
  const per = g.op('MatMul', g.op('Reshape', dy, g.ints([0, ch.M, P])), g.op('Transpose', col, { perm: [0, 2, 1] })); // [N, M, C·K]
  return g.op('Reshape', g.reduceSum(per, [0], false), g.ints([ch.M, ch.C, ...p.kernel]));
}

// col [N, C, K, out…] and dy [N, M, out…] -> dW [M, C/G, k…]: per group, dY_g [Mg, N·P] @ col_gᵀ [N·P, Cg·K].
function im2colMatMul(g: GradContext, col: string, dy: string, p: ConvGeometry): string {
  const G = p.group;
  const P = p.outSize.reduce((a, b) => a * b, 1);
  const cols = g.op('Reshape', g.op('Transpose', g.op('Reshape', col, g.ints([0, G, -1, P])), { perm: [1, 2, 0, 3] }), g.ints([0, 0, -1])); // [G, Cg·K, N·P]
  const dys = g.op('Reshape', g.op('Transpose', g.op('Reshape', dy, g.ints([0, G, -1, P])), { perm: [1, 2, 0, 3] }), g.ints([0, 0, -1])); // [G, Mg, N·P]
  const dw = g.op('MatMul', dys, g.op('Transpose', cols, { perm: [0, 2, 1] })); // [G, Mg, Cg·K]
  return g.op('Reshape', g.op('Flatten', dw, { axis: 2 }), g.ints([0, -1, ...p.kernel])); // [M, Cg, k…]
}

// The tap lowering covers stride 1 (any kernel, dilation, pads) and 1-tap kernels (any stride).
function tapsApply(p: ConvGeometry): boolean {
  return p.group === 1 && (p.strides.every((s) => s === 1) || p.kernel.every((k) => k === 1));
}

/**
 * Layout of the tap lowering. Stride 1: the padded input (one spare row when a tap would run past the end) is
 * flattened; output position o sits at flat Σ o_i·R_i (R: row strides of the padded input) and tap k at offset
 * Σ k_i·d_i·R_i, so every tap is one contiguous run of `length` = O_0·R_0 values, read against dy padded at the end of
 * each dim past the first to the padded input's extents. 1-tap kernels: one strided Slice of the padded input.
 */
function tapsLayout(p: ConvGeometry): { padsEnd: number[]; padded: number[]; dyPads: number[]; offsets: number[]; length: number } {
  const n = p.inSize.length;
  if (p.strides.some((s) => s !== 1)) {
    // 1-tap kernel, strided: the sampled input is exactly the output grid.
    return { padsEnd: p.padsEnd, padded: p.outSize, dyPads: new Array(n).fill(0), offsets: [0], length: p.outSize.reduce((a, b) => a * b, 1) };
  }
  const reach = p.kernel.map((k, i) => effective(k, p.dilations[i]) - 1);
  const padsEnd = [...p.padsEnd];
  const padded = p.inSize.map((v, i) => v + p.padsBegin[i] + padsEnd[i]);
  // Rows past the first may overhang into the next row; beyond the last row, give one spare row.
  if (reach.slice(1).some((r) => r > 0)) {
    padsEnd[0] += 1;
    padded[0] += 1;
  }
  const R = padded.map((_, i) => padded.slice(i + 1).reduce((a, b) => a * b, 1));
  const taps = offsets(p.kernel).map((k) => k.reduce((acc, ki, i) => acc + ki * p.dilations[i] * R[i], 0));
  const dyPads = p.outSize.map((o, i) => (i === 0 ? 0 : padded[i] - o));
  return { padsEnd, padded, dyPads, offsets: taps, length: p.outSize[0] * R[0] };
}

// dW by taps: per kernel tap, dY (layout [N, M, L]) times the tap's contiguous run of the flattened input.
function dwTaps(g: GradContext, x: string, dy: string, p: ConvGeometry, ch: { C: number; M: number }, fold: boolean): string {
  const n = p.inSize.length;
  const sp = spatialAxes(n);
  const t = tapsLayout(p);
  const { C, M } = ch;
  const K = t.offsets.length;
  let xp = [...p.padsBegin, ...t.padsEnd].some((v) => v !== 0) ? g.op('Pad', x, g.ints([0, 0, ...p.padsBegin, 0, 0, ...t.padsEnd])) : x;
  if (p.strides.some((s) => s !== 1)) {
    xp = g.op('Slice', xp, g.ints(new Array(n).fill(0)), g.ints(p.outSize.map((o, i) => (o - 1) * p.strides[i] + 1)), g.ints(sp), g.ints(p.strides));
  }
  let dyl = t.dyPads.some((v) => v !== 0) ? g.op('Pad', dy, g.ints([0, 0, ...new Array(n).fill(0), 0, 0, ...t.dyPads])) : dy;
  const total = t.padded.reduce((a, b) => a * b, 1);
  const tap = (flat: string, off: number) =>
    off === 0 && t.length === total ? flat : g.op('Slice', flat, g.ints([off]), g.ints([off + t.length]), g.ints([2]));
  if (fold) {
    // N folded into each GEMM: [M, N·L] @ [N·L, C] per tap, from inputs transposed once to channels-first.
    const xf = g.op('Reshape', g.op('Transpose', xp, { perm: [1, 0, ...sp] }), g.ints([C, 0, -1])); // [C, N, ∏padded]
    dyl = g.op('Reshape', g.op('Transpose', dyl, { perm: [1, 0, ...sp] }), g.ints([M, -1])); // [M, N·L]
    const parts = t.offsets.map((off) =>
      g.unsqueeze(g.op('MatMul', dyl, g.op('Transpose', g.op('Reshape', tap(xf, off), g.ints([C, -1])), { perm: [1, 0] })), [2]),
    ); // [M, C, 1]
    return g.op('Reshape', K === 1 ? parts[0] : g.op('Concat', ...parts, { axis: 2 }), g.ints([M, C, ...p.kernel]));
  }
  const xf = g.op('Reshape', xp, g.ints([0, C, -1])); // [N, C, ∏padded]
  dyl = g.op('Reshape', dyl, g.ints([0, M, -1])); // [N, M, L]
  const parts = t.offsets.map((off) => g.op('MatMul', dyl, g.op('Transpose', tap(xf, off), { perm: [0, 2, 1] }))); // [N, M, C]
  const sum = g.reduceSum(K === 1 ? parts[0] : g.op('Concat', ...parts, { axis: 1 }), [0], false); // [K·M, C]
  if (K === 1) return g.op('Reshape', sum, g.ints([M, C, ...p.kernel]));
  return g.op('Reshape', g.op('Transpose', g.op('Reshape', sum, g.ints([K, M, C])), { perm: [1, 2, 0] }), g.ints([M, C, ...p.kernel]));
}
